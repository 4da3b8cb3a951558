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
mod breaker;
mod calls;
mod harness;
mod limit;
mod oneshot;
mod par;
mod pool;
#[cfg(target_os = "linux")]
mod process;
mod python;
mod queue;
mod redis;

use std::process::ExitCode;

use harness::{ratio, Bench, Rounds, Row, Scenario};

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

/// Every scenario's rows, in the order they run, one list per file.
fn scenarios() -> Vec<Scenario> {
    let files: &[&[Scenario]] = &[
        pool::ROWS,
        par::ROWS,
        queue::ROWS,
        limit::ROWS,
        breaker::ROWS,
        #[cfg(target_os = "linux")]
        process::ROWS,
        aio::ROWS,
        redis::ROWS,
    ];
    files.concat()
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
    let mut bench = Bench::new(
        opts.quick,
        Rounds {
            warmup: 2,
            timed,
            verbose: opts.verbose,
        },
        workwise::available_cores(),
        opts.json,
        opts.filter,
    );
    eprintln!(
        "workwise-bench: {} pool threads, {} warm-up + {} timed rounds per side{}",
        bench.workers,
        bench.rounds.warmup,
        bench.rounds.timed,
        if bench.quick { " (--quick)" } else { "" }
    );
    if !opts.json {
        harness::print_header();
    }
    for scenario in scenarios() {
        if let Err(e) = scenario(&mut bench) {
            eprintln!("workwise-bench: cannot build a pool: {e}");
            return ExitCode::FAILURE;
        }
    }
    if bench.wrong().is_some() {
        // Said on stderr when it happened; the rows before it stand.
        return ExitCode::FAILURE;
    }
    if bench.rows().is_empty() {
        bench.note("no row ran (check --filter)");
    }
    if !opts.json {
        println!();
        for row in bench.rows() {
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
