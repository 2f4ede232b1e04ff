//! `berth bench …`: benchmarks that print their figures (and one JSON object with `--json`).

mod api;
mod cluster;
mod load;
mod placement;
mod server_process;
mod services;
mod simulated_agents;
mod task_start;

/// The benchmarks.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// API throughput and latency of a server over loopback: reads, then durable writes.
    Api(api::ApiArgs),
    /// RunTask-to-RUNNING latency of a one-container task beside `docker run -d`, and the
    /// agent's memory idle and with 100 running tasks.
    TaskStart(task_start::TaskStartArgs),
    /// Placement engine throughput in process: 100,000 tasks onto 5,000 instances, RunTask-sized calls.
    Placement(placement::PlacementArgs),
    /// End to end at scale: a server, N simulated instances, tasks through RunTask until RUNNING.
    Cluster(cluster::ClusterArgs),
    /// The service controller at scale: a service of N tasks to steady state, then a rollout.
    Services(services::ServicesArgs),
}

/// Runs one benchmark.
pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Api(args) => api::run(args).await,
        BenchCommand::TaskStart(args) => task_start::run(args).await,
        BenchCommand::Placement(args) => placement::run(args).await,
        BenchCommand::Cluster(args) => cluster::run(args).await,
        BenchCommand::Services(args) => services::run(args).await,
    }
}
