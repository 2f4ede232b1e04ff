//! The `berth` binary: a thin command line over the Berth crates.
//!
//! `berth server` runs the control plane; `berth bench …` measures it. Each subcommand lives in
//! its own file under `commands/` and does little more than turn flags into the library calls.

mod commands;
mod logging;

use clap::{Parser, Subcommand};

// The control plane allocates small, short-lived buffers for every request (JSON in and out);
// mimalloc serves them markedly faster than glibc's allocator under many threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Berth: a self-hosted container orchestrator that speaks the Amazon ECS API.
#[derive(Debug, Parser)]
#[command(name = "berth", version, about)]
struct Cli {
    /// Log format: human-readable text or one JSON object a line.
    #[arg(long, global = true, env = "BERTH_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: logging::Format,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the control plane: the ECS API with its embedded store.
    Server(commands::server::ServerArgs),
    /// Measure Berth.
    #[command(subcommand)]
    Bench(commands::bench::BenchCommand),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    logging::init(cli.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Server(args) => commands::server::run(args).await,
            Command::Bench(command) => commands::bench::run(command).await,
        }
    })
}
