//! `berth bench …`: benchmarks that print their figures (and one JSON object with `--json`).

mod api;
mod load;
mod server_process;

/// The benchmarks.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// API throughput and latency of a server over loopback: reads, then durable writes.
    Api(api::ApiArgs),
}

/// Runs one benchmark.
pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Api(args) => api::run(args).await,
    }
}
