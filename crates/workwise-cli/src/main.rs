//! The `workwise` binary. Its main job is `workwise tour`, which runs the
//! guide's quick-reference table live: each kind of work under a plain loop,
//! the wrong model and the right one, timed on this machine, with what the
//! advisor reads from each pool's statistics.

mod server;
mod tour;

use std::io;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Concurrency with the advice built in: see which model fits which work.
#[derive(Debug, Parser)]
#[command(
    name = "workwise",
    version,
    propagate_version = true,
    after_help = tour::examples()
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the guide's quick-reference table live, timed on this machine.
    ///
    /// The scenarios, their sizes and their JSON keys come from the tour's
    /// registry: see `workwise tour --help` and `workwise tour --list`.
    #[command(long_about = tour::tour_help())]
    Tour(tour::TourArgs),

    /// The crash isolation scenario's `Pool::cpu` row, which the tour runs
    /// in a child process because its first crash ends the process.
    #[cfg(target_os = "linux")]
    #[command(name = "crash-child", hide = true)]
    CrashChild {
        /// How many of the scenario's tasks to run.
        tasks: usize,
    },

    /// One worker process of the many machines scenario's `RedisQueue` row.
    #[cfg(target_os = "linux")]
    #[command(name = "machines-worker", hide = true)]
    MachinesWorker {
        /// The Redis server's URL.
        url: String,
        /// Hold items and wait to be killed once this many are done.
        #[arg(long)]
        hold_after: Option<u64>,
    },
}

fn main() -> ExitCode {
    // First: a worker process of the tour's ProcessPools is this binary run
    // again, and serves its tasks from here instead of running the tour.
    #[cfg(target_os = "linux")]
    workwise::process::init(&tour::process_tasks());
    let cli = Cli::parse();
    match cli.command {
        #[cfg(target_os = "linux")]
        Command::CrashChild { tasks } => tour::crash::child(tasks),
        #[cfg(target_os = "linux")]
        Command::MachinesWorker { url, hold_after } => tour::machines::worker(&url, hold_after),
        Command::Tour(args) => match tour::run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            // A reader that went away (`workwise tour --json | head -1`) is
            // not an error worth a message.
            Err(tour::TourError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("workwise tour: error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}
