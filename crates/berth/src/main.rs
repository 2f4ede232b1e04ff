//! The `berth` binary: a thin command line over the Berth crates.
//!
//! `berth up` runs everything on one machine; `berth server` runs the control plane and
//! `berth agent` the agent of one host; `berth bench …` measures them. Each subcommand lives in
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
    /// Run everything on this machine: the control plane, cluster `default` and an agent.
    Up(commands::up::UpArgs),
    /// Run the control plane: the ECS API with its embedded store.
    Server(commands::server::ServerArgs),
    /// Run the container agent of this host.
    Agent(commands::agent::AgentArgs),
    /// Measure Berth.
    #[command(subcommand)]
    Bench(commands::bench::BenchCommand),
}

fn main() -> std::process::ExitCode {
    without_huge_pages();
    let cli = Cli::parse();
    logging::init(cli.log_format);
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // One line a person can act on: the error and its causes, no backtrace.
            eprintln!("berth: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Turns transparent huge pages off for this process (and the children it starts).
///
/// mimalloc asks the kernel for huge pages on its heap whenever the kernel offers them on
/// request (Debian's default, `madvise`), and the kernel then zeroes 2 MiB on the first touch
/// of each. Berth's processes grow their heaps steadily, in small objects: with 100,000 tasks
/// the simulated agents spent a quarter of their CPU zeroing fresh pages (`clear_page_erms` in a
/// profile), and with huge pages off (as `MIMALLOC_ALLOW_THP=0` does) that is gone from it. A
/// kernel without the setting is left as it is.
fn without_huge_pages() {
    #[cfg(target_os = "linux")]
    if let Err(err) = rustix::thread::disable_transparent_huge_pages(true) {
        // Not fatal: only slower. Logging is not set up yet.
        eprintln!("berth: could not turn transparent huge pages off: {err}");
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Up(args) => commands::up::run(args).await,
            Command::Server(args) => commands::server::run(args).await,
            Command::Agent(args) => commands::agent::run(args).await,
            Command::Bench(command) => commands::bench::run(command).await,
        }
    })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        // Catches clashing flag names across flattened argument groups before a user does.
        super::Cli::command().debug_assert();
    }
}
