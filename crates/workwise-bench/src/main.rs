//! `workwise-bench`: workwise against its peers, interleaved in one run.
//!
//! Each row runs one scenario for workwise ("ours") and for one peer on the
//! same input, alternating round by round in this one process, and reports
//! the median ns per operation of each and `ratio = ours / peer`. See
//! `README.md` for the rows. Only this output backs a speed claim; it asserts
//! nothing about timing (the machines are shared and noisy), but it does exit
//! nonzero when a side computes a wrong answer.
//!
//! ```text
//! cargo run --release -p workwise-bench -- [--quick] [--json] [--filter SUBSTR] [--rounds N] [--verbose]
//! ```

mod aio;
mod cpu;
mod harness;
mod oneshot;
#[cfg(target_os = "linux")]
mod process;
mod python;
mod queue;
mod resilience;
mod rows;

use std::io::Write;
use std::process::ExitCode;

use harness::{Round, Rounds, Row};

/// Timed rounds per side in a full run.
const FULL_ROUNDS: usize = 15;
/// Timed rounds per side under `--quick`: enough for a median that one or
/// two noisy rounds cannot move (the counts shrink instead, where a row
/// says so).
const QUICK_ROUNDS: usize = 9;

const USAGE: &str = "\
usage: workwise-bench [--quick] [--json] [--filter SUBSTR] [--rounds N] [--verbose]

  --quick          9 rounds, and smaller counts where a row says so (a smoke run)
  --json           one JSON object per row on stdout, nothing else; notes go to stderr
  --filter SUBSTR  only the rows whose name or peer contains SUBSTR
  --rounds N       timed rounds per side (default 15, or 9 with --quick)
  --verbose        also print every round's ns/op to stderr";

/// Command-line options.
#[derive(Debug, Default)]
struct Options {
    quick: bool,
    json: bool,
    filter: Option<String>,
    rounds: Option<usize>,
    verbose: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut opts = Options::default();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => opts.quick = true,
            "--json" => opts.json = true,
            "--verbose" => opts.verbose = true,
            "--filter" => {
                opts.filter = Some(args.next().ok_or("--filter needs a substring")?);
            }
            "--rounds" => {
                let n = args.next().ok_or("--rounds needs a number")?;
                match n.parse::<usize>() {
                    Ok(n) if n > 0 => opts.rounds = Some(n),
                    _ => return Err(format!("--rounds needs a number above 0, not {n:?}")),
                }
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(opts)
}

/// The run's settings and the rows gathered so far; scenarios run their
/// comparisons through [`Bench::run`].
#[derive(Debug)]
pub struct Bench {
    /// `--quick`: fewer rounds, smaller counts where a row says so.
    pub quick: bool,
    /// Warm-up and timed rounds per side.
    pub rounds: Rounds,
    /// The size of every pool: `workwise::available_cores()`.
    pub workers: usize,
    json: bool,
    filter: Option<String>,
    rows: Vec<Row>,
}

impl Bench {
    /// Whether `--filter` selects the row `name` against `peer`.
    pub fn wants(&self, name: &str, peer: &str) -> bool {
        match self.filter.as_deref() {
            None => true,
            Some(f) => name.contains(f) || peer.contains(f),
        }
    }

    /// A note for the reader, on stderr.
    pub fn note(&self, msg: &str) {
        eprintln!("note: {msg}");
    }

    /// Runs one comparison and prints its row; a side that cannot run skips
    /// the row with a note.
    pub fn run(
        &mut self,
        name: &str,
        peer: &str,
        warmup: usize,
        ours: impl FnMut() -> Round,
        theirs: impl FnMut() -> Round,
    ) {
        let rounds = Rounds {
            warmup,
            ..self.rounds
        };
        eprintln!("running {name} vs {peer} ...");
        match harness::compare(name, peer, rounds, ours, theirs) {
            Ok(row) => {
                if self.json {
                    let line = serde_json::to_string(&row).expect("a row serializes");
                    println!("{line}");
                } else {
                    print_row(&row);
                }
                let _ = std::io::stdout().flush();
                self.rows.push(row);
            }
            Err(why) => self.note(&format!("{name} vs {peer} skipped: {why}")),
        }
    }
}

/// A scenario: runs its rows against each of its peers.
type Scenario = fn(&mut Bench) -> Result<(), workwise::PoolBuildError>;

fn print_header() {
    println!(
        "{:<24} {:<20} {:>14} {:>14} {:>8}",
        "name", "peer", "ours ns/op", "peer ns/op", "ratio"
    );
}

fn print_row(row: &Row) {
    println!(
        "{:<24} {:<20} {:>14.1} {:>14.1} {:>8}",
        row.name,
        row.peer,
        row.ours_ns,
        row.peer_ns,
        ratio(row.ratio)
    );
}

/// A ratio with two decimals, or four when it is below 0.1.
fn ratio(r: f64) -> String {
    if r < 0.1 {
        format!("{r:.4}")
    } else {
        format!("{r:.2}")
    }
}

fn summary(row: &Row) -> String {
    let verdict = if !row.ratio.is_finite() || row.ratio <= 0.0 {
        "no comparison".to_owned()
    } else if row.ratio > 1.0 {
        format!("workwise is {:.2}x slower", row.ratio)
    } else {
        format!("workwise is {:.2}x faster", 1.0 / row.ratio)
    };
    format!(
        "{} vs {}: ours/peer = {} ({verdict})",
        row.name,
        row.peer,
        ratio(row.ratio)
    )
}

fn main() -> ExitCode {
    // First: a worker process of the process.* rows is this binary run again.
    #[cfg(target_os = "linux")]
    process::init();
    let opts = match parse_args(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("workwise-bench: {msg}");
            }
            eprintln!("{USAGE}");
            return if msg.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    let timed = opts.rounds.unwrap_or(if opts.quick {
        QUICK_ROUNDS
    } else {
        FULL_ROUNDS
    });
    let mut bench = Bench {
        quick: opts.quick,
        rounds: Rounds {
            warmup: 2,
            timed,
            verbose: opts.verbose,
        },
        workers: workwise::available_cores(),
        json: opts.json,
        filter: opts.filter,
        rows: Vec::new(),
    };
    eprintln!(
        "workwise-bench: {} pool threads, {} warm-up + {} timed rounds per side{}",
        bench.workers,
        bench.rounds.warmup,
        bench.rounds.timed,
        if bench.quick { " (--quick)" } else { "" }
    );
    if !bench.json {
        print_header();
    }
    let scenarios: Vec<Scenario> = vec![
        rows::submit_wait,
        rows::scope,
        rows::roundtrip,
        rows::map,
        rows::stats_cost,
        rows::chaos_off_cost,
        cpu::par_map_cheap,
        cpu::par_map_heavy,
        cpu::wordcount,
        cpu::par_map_tiny,
        queue::queue_rows,
        resilience::limiter_rows,
        resilience::breaker_rows,
        #[cfg(target_os = "linux")]
        process::roundtrip,
        #[cfg(target_os = "linux")]
        process::map_tiny,
        #[cfg(target_os = "linux")]
        process::shared_100mb,
        aio::gather_limited,
        aio::spawn,
        aio::detector_cost,
    ];
    for scenario in scenarios {
        if let Err(e) = scenario(&mut bench) {
            eprintln!("workwise-bench: cannot build a pool: {e}");
            return ExitCode::FAILURE;
        }
    }
    if bench.rows.is_empty() {
        bench.note("no row ran (check --filter)");
    }
    if !bench.json {
        println!();
        for row in &bench.rows {
            println!("{}", summary(row));
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> impl Iterator<Item = String> + '_ {
        s.split_whitespace().map(str::to_owned)
    }

    #[test]
    fn parses_flags() {
        let o = parse_args(args("--quick --json --filter map --rounds 3")).unwrap();
        assert!(o.quick && o.json);
        assert_eq!(o.filter.as_deref(), Some("map"));
        assert_eq!(o.rounds, Some(3));
        assert!(parse_args(args("--rounds 0")).is_err());
        assert!(parse_args(args("--bogus")).is_err());
    }

    #[test]
    fn usage_states_the_round_counts() {
        assert!(USAGE.contains(&format!("--quick          {QUICK_ROUNDS} rounds")));
        assert!(USAGE.contains(&format!(
            "(default {FULL_ROUNDS}, or {QUICK_ROUNDS} with --quick)"
        )));
    }

    #[test]
    fn summary_says_which_way() {
        let row = |ratio| Row {
            name: "pool.map".into(),
            ours_ns: 1.0,
            peer: "rayon".into(),
            peer_ns: 1.0,
            ratio,
        };
        assert!(summary(&row(2.0)).contains("2.00x slower"));
        assert!(summary(&row(0.5)).contains("2.00x faster"));
    }
}
