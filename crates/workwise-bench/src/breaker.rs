//! The `breaker.*` rows: `workwise::CircuitBreaker` against failsafe and a
//! bare call. Row names are read by outside scripts: keep them exactly. One
//! round makes many calls on one or two threads sharing one breaker
//! ([`crate::calls`]).
//!
//! The rows time the success path of a closed breaker. Every call is
//! `|| Ok::<u64, ()>(black_box(i))` for the call's index `i`, and the
//! results are summed; each thread's sum must be the sum of `0..calls`.
//! Ours is `CircuitBreaker::builder().failure_threshold(5)
//! .reset_after(60 s)` and `call` (5 consecutive failures open it, for
//! 60 s). The peers are failsafe's `call` on its default breaker
//! (`Config::new().build()`, whose policy is an EWMA success rate over a
//! time window or 5 consecutive failures: `failsafe`) and on a breaker with
//! the policy ours has, 5 consecutive failures then 60 s open
//! (`failure_policy::consecutive_failures(5, backoff::constant(60 s))`:
//! `failsafe-consecutive`), and the closure called directly (`bare`).

use std::hint::black_box;
use std::time::Duration;

use failsafe::CircuitBreaker as _;
use workwise::CircuitBreaker;

use crate::calls::{calls, hammer, THREADS};
use crate::harness::{Bench, Outcome, Scenario};

/// Our breaker's consecutive-failure threshold (failsafe's default is 5 too).
const THRESHOLD: u32 = 5;
/// The breaker rows' peers.
const PEERS: [&str; 3] = ["failsafe", "failsafe-consecutive", "bare"];
/// How long a breaker stays open: ours (`reset_after`, 60 s is also its
/// default) and the constant backoff of the `failsafe-consecutive` peer.
const OPEN_FOR: Duration = Duration::from_secs(60);

/// The breaker row for `threads` threads (read by outside scripts): plain
/// `breaker.call` for one thread.
fn row_name(threads: usize) -> String {
    if threads == 1 {
        "breaker.call".to_owned()
    } else {
        format!("breaker.call.{threads}t")
    }
}

/// failsafe's breaker with the policy ours has: [`THRESHOLD`] consecutive
/// failures open it, for [`OPEN_FOR`].
fn failsafe_consecutive() -> impl failsafe::CircuitBreaker + Sync {
    use failsafe::{backoff, failure_policy};
    failsafe::Config::new()
        .failure_policy(failure_policy::consecutive_failures(
            THRESHOLD,
            backoff::constant(OPEN_FOR),
        ))
        .build()
}

/// The wrapping sum of `0..calls` on each of `threads` threads.
fn want_sum(threads: usize, calls: u64) -> u64 {
    let one = (0..calls).fold(0, u64::wrapping_add);
    one.wrapping_mul(threads as u64)
}

/// The `breaker.call` (one thread) and `breaker.call.2t` rows, against
/// failsafe's default breaker, failsafe with consecutive failures only, and
/// the bare closure.
fn breaker_rows(b: &mut Bench) -> Outcome {
    if !THREADS.iter().any(|&t| b.wants_any(&row_name(t), &PEERS)) {
        return Ok(());
    }
    let calls = calls(b, "breaker.*");
    let ours = match CircuitBreaker::builder()
        .failure_threshold(THRESHOLD)
        .reset_after(OPEN_FOR)
        .build()
    {
        Ok(breaker) => breaker,
        Err(e) => {
            b.note(&format!("breaker.* skipped: cannot build our breaker: {e}"));
            return Ok(());
        }
    };
    let failsafe = failsafe::Config::new().build();
    let consecutive = failsafe_consecutive();
    for threads in THREADS {
        b.row(&row_name(threads))
            .items(calls)
            .want(want_sum(threads, calls))
            .ours(|| {
                hammer(threads, calls, |i| {
                    ours.call(|| Ok::<_, ()>(black_box(i))).unwrap_or(0)
                })
            })
            .peer("failsafe", || {
                hammer(threads, calls, |i| {
                    failsafe.call(|| Ok::<_, ()>(black_box(i))).unwrap_or(0)
                })
            })
            .peer("failsafe-consecutive", || {
                hammer(threads, calls, |i| {
                    consecutive.call(|| Ok::<_, ()>(black_box(i))).unwrap_or(0)
                })
            })
            .peer("bare", || {
                hammer(threads, calls, |i| {
                    let f = || Ok::<_, ()>(black_box(i));
                    f().unwrap_or(0)
                })
            });
    }
    Ok(())
}

/// The rows of this file.
pub const ROWS: &[Scenario] = &[breaker_rows];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_names_are_the_published_ones() {
        let names: Vec<_> = THREADS.iter().map(|&t| row_name(t)).collect();
        assert_eq!(names, ["breaker.call", "breaker.call.2t"]);
    }

    #[test]
    fn every_breaker_side_sums_every_call() {
        let ours = CircuitBreaker::builder()
            .failure_threshold(THRESHOLD)
            .reset_after(OPEN_FOR)
            .build()
            .unwrap();
        let failsafe = failsafe::Config::new().build();
        let consecutive = failsafe_consecutive();
        for threads in THREADS {
            let want = want_sum(threads, 1_000);
            let got = hammer(threads, 1_000, |i| {
                ours.call(|| Ok::<_, ()>(i)).unwrap_or(0)
            });
            assert_eq!(got, want);
            let got = hammer(threads, 1_000, |i| {
                failsafe.call(|| Ok::<_, ()>(i)).unwrap_or(0)
            });
            assert_eq!(got, want);
            let got = hammer(threads, 1_000, |i| {
                consecutive.call(|| Ok::<_, ()>(i)).unwrap_or(0)
            });
            assert_eq!(got, want);
        }
    }
}
