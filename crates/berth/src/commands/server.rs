//! `berth server`: the control plane.
//!
//! Every setting comes from, in order of precedence: its flag, its environment variable
//! (`BERTH_LISTEN`, `BERTH_DATA_DIR`, `BERTH_REGION`, `BERTH_ACCOUNT_ID`), the TOML file named by
//! `--config` (`BERTH_CONFIG`), and the built-in default.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use berth_server::ServerConfig;
use serde::Deserialize;

/// Flags of `berth server`.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// Address the ECS API listens on [default: 127.0.0.1:4566].
    #[arg(long, env = "BERTH_LISTEN")]
    listen: Option<SocketAddr>,
    /// Directory of the embedded store [default: ./berth-data].
    #[arg(long, env = "BERTH_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Region of requests whose signature names none [default: us-east-1].
    #[arg(long, env = "BERTH_REGION")]
    region: Option<String>,
    /// 12-digit account id in every ARN [default: 000000000000].
    #[arg(long, env = "BERTH_ACCOUNT_ID")]
    account_id: Option<String>,
    /// How long stopped tasks stay describable, e.g. 1h or 30m [default: 1h].
    #[arg(long, env = "BERTH_TASK_RETENTION", value_parser = super::duration::parse)]
    task_retention: Option<std::time::Duration>,
    /// A TOML file with any of: listen, data_dir, region, account_id, task_retention.
    #[arg(long, env = "BERTH_CONFIG")]
    config: Option<PathBuf>,
}

/// The settings a config file may hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    region: Option<String>,
    account_id: Option<String>,
    task_retention: Option<String>,
}

/// Resolves the settings from flags, environment, file and defaults.
pub fn resolve(args: ServerArgs) -> anyhow::Result<ServerConfig> {
    let file = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("failed to read config file {}", path.display()))?;
            toml::from_str::<FileConfig>(&text)
                .with_context(|| format!("failed to parse config file {}", path.display()))?
        }
        None => FileConfig::default(),
    };
    let defaults = ServerConfig::default();
    let config = ServerConfig {
        listen: args.listen.or(file.listen).unwrap_or(defaults.listen),
        data_dir: args.data_dir.or(file.data_dir).unwrap_or(defaults.data_dir),
        region: args.region.or(file.region).unwrap_or(defaults.region),
        account_id: args.account_id.or(file.account_id).unwrap_or(defaults.account_id),
        max_body_bytes: defaults.max_body_bytes,
        task_retention: match (args.task_retention, file.task_retention) {
            (Some(flag), _) => flag,
            (None, Some(text)) => super::duration::parse(&text)
                .map_err(|err| anyhow::anyhow!("task_retention in the config file: {err}"))?,
            (None, None) => defaults.task_retention,
        },
    };
    if config.account_id.len() != 12 || !config.account_id.bytes().all(|b| b.is_ascii_digit()) {
        bail!("account id must be 12 digits, got '{}'", config.account_id);
    }
    if config.region.is_empty()
        || !config.region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        bail!("region must be lowercase letters, digits and dashes, got '{}'", config.region);
    }
    Ok(config)
}

/// Runs the control plane until Ctrl-C or SIGTERM.
pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let config = resolve(args)?;
    let (region, account, data_dir) =
        (config.region.clone(), config.account_id.clone(), config.data_dir.clone());
    let running = berth_server::start(config).await?;
    tracing::info!(endpoint = %format!("http://{}", running.addr), %region, %account, data_dir = %data_dir.display(), "berth server ready");
    println!("berth server listening on http://{}", running.addr);
    super::signals::shutdown().await;
    tracing::info!("shutting down");
    running.shutdown().await.context("server failed while shutting down")?;
    Ok(())
}
