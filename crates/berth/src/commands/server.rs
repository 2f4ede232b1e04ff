//! `berth server`: the control plane.
//!
//! Every setting comes from, in order of precedence: its flag, its environment variable
//! (`BERTH_LISTEN`, `BERTH_DATA_DIR`, `BERTH_STORE`, `BERTH_REGION`, `BERTH_ACCOUNT_ID`,
//! `BERTH_TASK_RETENTION`, `BERTH_AGENT_LOST_AFTER`), the TOML file named by `--config`
//! (`BERTH_CONFIG`), and the built-in default.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use berth_server::{ServerConfig, StoreKind};
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
    /// Where the state is kept: `redb`, the durable embedded store in the data directory, or
    /// `memory`, which writes nothing to disk and forgets everything when the server stops
    /// [default: redb].
    #[arg(long, env = "BERTH_STORE", value_parser = StoreKind::parse)]
    store: Option<StoreKind>,
    /// Region of requests whose signature names none [default: us-east-1].
    #[arg(long, env = "BERTH_REGION")]
    region: Option<String>,
    /// 12-digit account id in every ARN [default: 000000000000].
    #[arg(long, env = "BERTH_ACCOUNT_ID")]
    account_id: Option<String>,
    /// How long stopped tasks stay describable, e.g. 1h or 30m [default: 1h].
    #[arg(long, env = "BERTH_TASK_RETENTION", value_parser = super::duration::parse)]
    task_retention: Option<std::time::Duration>,
    /// How long an agent may stay disconnected before its instance is lost and its tasks are
    /// stopped (services replace them elsewhere), e.g. 60s or 5m [default: 60s].
    #[arg(long, env = "BERTH_AGENT_LOST_AFTER", value_parser = super::duration::parse)]
    agent_lost_after: Option<std::time::Duration>,
    /// A TOML file with any of: listen, data_dir, store, region, account_id, task_retention,
    /// agent_lost_after.
    #[arg(long, env = "BERTH_CONFIG")]
    config: Option<PathBuf>,
}

/// The settings a config file may hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    store: Option<String>,
    region: Option<String>,
    account_id: Option<String>,
    task_retention: Option<String>,
    agent_lost_after: Option<String>,
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
        store: match (args.store, file.store) {
            (Some(store), _) => store,
            (None, Some(text)) => {
                StoreKind::parse(&text).map_err(|err| anyhow::anyhow!("store in the config file: {err}"))?
            }
            (None, None) => defaults.store,
        },
        region: args.region.or(file.region).unwrap_or(defaults.region),
        account_id: args.account_id.or(file.account_id).unwrap_or(defaults.account_id),
        max_body_bytes: defaults.max_body_bytes,
        task_retention: duration_setting(
            "task_retention",
            args.task_retention,
            file.task_retention,
            defaults.task_retention,
        )?,
        agent_lost_after: duration_setting(
            "agent_lost_after",
            args.agent_lost_after,
            file.agent_lost_after,
            defaults.agent_lost_after,
        )?,
    };
    if config.agent_lost_after.is_zero() {
        bail!("agent_lost_after must be longer than zero: an agent needs a moment to reconnect");
    }
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

/// A duration from its flag (or environment variable), else the config file, else the default.
fn duration_setting(
    name: &str,
    flag: Option<std::time::Duration>,
    file: Option<String>,
    default: std::time::Duration,
) -> anyhow::Result<std::time::Duration> {
    match (flag, file) {
        (Some(flag), _) => Ok(flag),
        (None, Some(text)) => {
            super::duration::parse(&text).map_err(|err| anyhow::anyhow!("{name} in the config file: {err}"))
        }
        (None, None) => Ok(default),
    }
}

/// Runs the control plane until Ctrl-C or SIGTERM.
pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let config = resolve(args)?;
    let (region, account, data_dir) =
        (config.region.clone(), config.account_id.clone(), config.data_dir.clone());
    let store = config.store;
    let running = berth_server::start(config).await?;
    if store == StoreKind::Memory {
        tracing::warn!("the state is kept in memory only (--store memory): nothing survives this process");
    }
    tracing::info!(endpoint = %format!("http://{}", running.addr), %region, %account, data_dir = %data_dir.display(), ?store, "berth server ready");
    println!("berth server listening on http://{}", running.addr);
    super::signals::shutdown().await;
    tracing::info!("shutting down");
    running.shutdown().await.context("server failed while shutting down")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ServerArgs,
    }

    fn resolve_from(argv: &[&str]) -> anyhow::Result<ServerConfig> {
        let cli = Cli::try_parse_from([&["berth-server"], argv].concat()).expect("flags parse");
        resolve(cli.args)
    }

    #[test]
    fn agent_lost_after_comes_from_the_flag_the_file_or_the_default() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let file = dir.path().join("berth.toml");
        std::fs::write(&file, "agent_lost_after = \"5m\"\n").expect("write config");
        let file = file.display().to_string();

        assert_eq!(resolve_from(&[]).expect("defaults").agent_lost_after, Duration::from_secs(60));
        assert_eq!(
            resolve_from(&["--config", &file]).expect("file").agent_lost_after,
            Duration::from_secs(300)
        );
        assert_eq!(
            resolve_from(&["--config", &file, "--agent-lost-after", "3s"]).expect("flag").agent_lost_after,
            Duration::from_secs(3)
        );
        let zero = resolve_from(&["--agent-lost-after", "0s"]).expect_err("zero is refused");
        assert!(zero.to_string().contains("agent_lost_after"), "{zero}");
    }

    #[test]
    fn the_store_comes_from_the_flag_the_file_or_the_default_and_a_wrong_name_is_refused() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let file = dir.path().join("berth.toml");
        std::fs::write(&file, "store = \"memory\"\n").expect("write config");
        let file = file.display().to_string();

        assert_eq!(resolve_from(&[]).expect("defaults").store, StoreKind::Redb);
        assert_eq!(resolve_from(&["--config", &file]).expect("file").store, StoreKind::Memory);
        assert_eq!(
            resolve_from(&["--config", &file, "--store", "redb"]).expect("flag").store,
            StoreKind::Redb
        );

        std::fs::write(dir.path().join("bad.toml"), "store = \"sqlite\"\n").expect("write config");
        let bad = dir.path().join("bad.toml").display().to_string();
        let refused = resolve_from(&["--config", &bad]).expect_err("an unknown store is refused");
        assert!(
            refused.to_string().contains("store in the config file: 'sqlite' is not a store"),
            "{refused}"
        );
    }
}
