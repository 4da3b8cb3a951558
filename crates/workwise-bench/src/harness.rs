//! The comparison harness.
//!
//! Ours and a peer run the same scenario on the same input, alternating round
//! by round in one process (ours first on even rounds, the peer first on odd
//! ones), after a warm-up of each. A round is timed whole and divided by its
//! number of operations; a row reports the median of those ns-per-op figures
//! for each side and `ratio = ours / peer`. Medians only, and no timing is
//! ever asserted: the machines are shared and noisy.

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde::Serialize;

/// One comparison's outcome: one line of the table, or of `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The scenario, e.g. `pool.submit_wait` (read by outside scripts).
    pub name: String,
    /// Median ns per operation for workwise.
    pub ours_ns: f64,
    /// The peer's name, e.g. `rayon`.
    pub peer: String,
    /// Median ns per operation for the peer.
    pub peer_ns: f64,
    /// `ours_ns / peer_ns`: below 1 means workwise took less time.
    pub ratio: f64,
}

/// What one round gives: ns per operation, or why the side cannot run (the
/// row is then skipped with a note).
pub type Round = Result<f64, String>;

/// How many rounds to run.
#[derive(Debug, Clone, Copy)]
pub struct Rounds {
    /// Untimed runs of each side before the timed rounds.
    pub warmup: usize,
    /// Timed rounds of each side.
    pub timed: usize,
    /// Print every round's figure to stderr (`--verbose`).
    pub verbose: bool,
}

/// A pause between measured runs, outside the timed region, so that the
/// threads of the side that just ran have gone idle (stopped spinning) before
/// the other side starts.
const SETTLE: Duration = Duration::from_millis(2);

/// Runs `name` as ours against `peer`, alternating round by round.
///
/// # Errors
///
/// The first error either side gives; the row should be skipped.
pub fn compare(
    name: &str,
    peer: &str,
    rounds: Rounds,
    mut ours: impl FnMut() -> Round,
    mut theirs: impl FnMut() -> Round,
) -> Result<Row, String> {
    for _ in 0..rounds.warmup {
        ours()?;
        theirs()?;
    }
    let mut ours_ns = Vec::with_capacity(rounds.timed);
    let mut peer_ns = Vec::with_capacity(rounds.timed);
    for r in 0..rounds.timed {
        std::thread::sleep(SETTLE);
        if r % 2 == 0 {
            ours_ns.push(ours()?);
            std::thread::sleep(SETTLE);
            peer_ns.push(theirs()?);
        } else {
            peer_ns.push(theirs()?);
            std::thread::sleep(SETTLE);
            ours_ns.push(ours()?);
        }
    }
    if rounds.verbose {
        eprintln!("  {name} workwise ns/op by round: {}", list(&ours_ns));
        eprintln!("  {name} {peer} ns/op by round: {}", list(&peer_ns));
    }
    let ours_ns = median(&mut ours_ns);
    let peer_ns = median(&mut peer_ns);
    Ok(Row {
        name: name.to_owned(),
        ours_ns: round_to(ours_ns, 2),
        peer: peer.to_owned(),
        peer_ns: round_to(peer_ns, 2),
        ratio: round_to(ours_ns / peer_ns, 4),
    })
}

/// Times one run of `f` and gives ns per operation; `f`'s result is checked
/// against `want` (a correctness check: a mismatch ends the process).
pub fn timed(scenario: &str, who: &str, ops: u64, want: u64, f: impl FnOnce() -> u64) -> Round {
    let start = Instant::now();
    let got = black_box(f());
    let elapsed = start.elapsed();
    check(scenario, who, got, want);
    Ok(elapsed.as_nanos() as f64 / ops as f64)
}

/// Times one run of `f` and gives ns per unit, with `units` units (items,
/// bytes, calls) in the run. `verify` then checks `f`'s result outside the
/// timed region, and the result is dropped there too; a mismatch ends the
/// process.
pub fn timed_verify<T>(
    scenario: &str,
    who: &str,
    units: u64,
    f: impl FnOnce() -> T,
    verify: impl FnOnce(&T) -> Result<(), String>,
) -> Round {
    let start = Instant::now();
    let got = black_box(f());
    let elapsed = start.elapsed();
    if let Err(why) = verify(&got) {
        fail(scenario, who, &why);
    }
    drop(got);
    Ok(elapsed.as_nanos() as f64 / units as f64)
}

/// Ends the process with a message when `got != want`.
pub fn check(scenario: &str, who: &str, got: u64, want: u64) {
    if got != want {
        fail(scenario, who, &format!("computed {got}, expected {want}"));
    }
}

/// Ends the process: `who` computed a wrong answer in `scenario`.
pub fn fail(scenario: &str, who: &str, why: &str) -> ! {
    eprintln!(
        "workwise-bench: {scenario}: {who} {why}; \
         a wrong answer makes its timing meaningless"
    );
    std::process::exit(1);
}

fn list(xs: &[f64]) -> String {
    let parts: Vec<String> = xs.iter().map(|x| format!("{x:.1}")).collect();
    parts.join(" ")
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

fn round_to(x: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (x * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&mut []).is_nan());
    }

    #[test]
    fn compare_alternates_and_reports_medians() {
        let order = std::cell::RefCell::new(Vec::new());
        let rounds = Rounds {
            warmup: 1,
            timed: 3,
            verbose: false,
        };
        let row = compare(
            "t",
            "p",
            rounds,
            || {
                order.borrow_mut().push('o');
                Ok(10.0)
            },
            || {
                order.borrow_mut().push('p');
                Ok(5.0)
            },
        )
        .unwrap();
        assert_eq!(order.into_inner(), ['o', 'p', 'o', 'p', 'p', 'o', 'o', 'p']);
        assert_eq!((row.ours_ns, row.peer_ns, row.ratio), (10.0, 5.0, 2.0));
    }
}
