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
    after_help = "Examples:\n  \
        workwise tour                    the whole tour, as a table (a minute or less)\n  \
        workwise tour --quick            a smaller run, a few seconds\n  \
        workwise tour --quick --json     one JSON object per row, for scripts\n  \
        workwise tour --scenario scraping\n  \
        workwise tour --scenario api\n  \
        workwise tour --scenario files\n  \
        workwise tour --scenario analysis --scenario images\n  \
        workwise tour --scenario script\n  \
        workwise tour --scenario crash"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the guide's quick-reference table live, timed on this machine.
    ///
    /// Each scenario runs the same work as `sequential` (a plain loop) and
    /// under the right model, and most also under the wrong one. Every row
    /// shows the wall time, the speedup over the scenario's first row
    /// (`sequential`; `naive` for api calls; `ProcessPool` for crash
    /// isolation), the scenario's own figures, and an advisor line: the
    /// findings of workwise's advisor (`Pool::advice`, `LoopWatch`; codes
    /// W01 to W11, such as W01 for CPU-bound work on an I/O pool) in the
    /// scenario's words, beside what was measured (the pool's busy time,
    /// CPU time and queue wait; for api calls, the server's and the
    /// policy's counts).
    ///
    /// Scenarios, in the guide's table order: web scraping (fetch pages from
    /// an embedded local HTTP server, 20-50 ms each, on `Pool::cpu` and
    /// `Pool::io`); api calls (fan out requests to a flaky JSON API on the
    /// same server, 2-5 ms each, one in ten failing with a 503, with an
    /// outage in every run: `naive`, each request tried once, and `policy`,
    /// each through one `Policy` with a rate limit, a circuit breaker, an
    /// attempt timeout and retries, both on `Pool::io`); file i/o (checksum
    /// generated files in a temporary folder, with a simulated 1 ms latency
    /// per read, as a loop and as a queue pipeline: a producer thread and
    /// consumers on `Pool::io`); image processing (a box blur over generated
    /// images) and data analysis (a word count over generated text, as
    /// map-reduce), both on `Pool::io` and `Pool::cpu`, and on Linux also on
    /// a `ProcessPool`, to measure what worker processes cost (memory per
    /// worker, bytes copied); web server (a local HTTP server under many
    /// keep-alive connections, as thread per connection, async, and async
    /// with a blocking call); simple script (50 items of ~2 µs each, as a
    /// loop and on `Pool::io`, where the pool does not pay); crash isolation
    /// (Linux: decode tasks of which 1% crash their process, on a
    /// `ProcessPool`, which loses only those, and on `Pool::cpu` in a child
    /// process, which the first crash ends). A whole tour ends with a
    /// memory summary: an idle thread, a parked async task and an idle
    /// worker process, measured, beside the guide's figures.
    ///
    /// Exit status: 0 when every row ran and every result was right, 1 when
    /// the tour could not run, a request failed or a result differed from the
    /// sequential row's (file i/o: a file's hash differed from that of the
    /// bytes written; api calls: an answer was not the item asked for, or a
    /// request failed in a way the server did not mean: the requests it
    /// failed on purpose are the lesson, counted in `failed`, not an error;
    /// crash isolation: the crashed and lost tasks are the lesson, and an
    /// error is a wrong checksum, a clean input reported crashed, a poisoned
    /// one that did not crash, or a child process that did not end at its
    /// first crash), 2 on a usage error.
    Tour(tour::TourArgs),

    /// The crash isolation scenario's `Pool::cpu` row, which the tour runs
    /// in a child process because its first crash ends the process.
    #[cfg(target_os = "linux")]
    #[command(name = "crash-child", hide = true)]
    CrashChild {
        /// How many of the scenario's tasks to run.
        tasks: usize,
    },
}

fn main() -> ExitCode {
    // First: a worker process of the tour's ProcessPools is this binary run
    // again, and serves its tasks from here instead of running the tour.
    #[cfg(target_os = "linux")]
    workwise::process::init(tour::PROCESS_TASKS);
    let cli = Cli::parse();
    match cli.command {
        #[cfg(target_os = "linux")]
        Command::CrashChild { tasks } => tour::crash::child(tasks),
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
