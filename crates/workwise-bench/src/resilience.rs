//! The `limiter.*` and `breaker.*` rows: `workwise::RateLimiter` against
//! governor, and `workwise::CircuitBreaker` against failsafe and a bare call.
//! Row names are read by outside scripts: keep them exactly.
//!
//! One round makes `calls` calls on each of T threads (`.1t`, `.2t`) against
//! one limiter or breaker, built once before the row and shared by the
//! threads. With one thread the calls run on the bench's own thread; with
//! two, both threads are spawned (`std::thread::scope`) and start together at
//! a barrier, inside the timed region (tens of µs against rounds of tens of
//! ms). A round reports wall time / `calls`: the time each thread takes per
//! call, so a `.2t` figure above the `.1t` one is what contention costs.
//!
//! - `limiter.try_acquire.*`: both sides get the same quota, [`RATE`] per
//!   second (an interval of 1 ns) with a burst of [`BURST`]. Calls come far
//!   slower than one a nanosecond, so nearly every call is granted and every
//!   side does the same work each call: a clock read, a load and a
//!   compare-and-swap of one shared word. Ours is
//!   `RateLimiter::per_second(RATE).burst(BURST)` and `try_acquire`; the
//!   peers are governor's direct limiter with that quota and `check`, on its
//!   default clock (quanta's TSC: `governor`) and on its `MonotonicClock`
//!   (`Instant`: `governor-monotonic`). Ours reads its default `RealClock`:
//!   the same counter as `governor` where the kernel's clocksource is that
//!   counter, `Instant` elsewhere (then a note says so). Each side counts
//!   its grants; a side that grants under 99% of its calls in a round is
//!   named in a note, since its denials skipped the write.
//! - `breaker.call*`: the success path of a closed breaker. Every call is
//!   `|| Ok::<u64, ()>(black_box(i))` for the call's index `i`, and the
//!   results are summed; each thread's sum must be the sum of `0..calls`.
//!   Ours is `CircuitBreaker::builder().failure_threshold(5)
//!   .reset_after(60 s)` and `call` (5 consecutive failures open it, for
//!   60 s). The
//!   peers are failsafe's `call` on its default breaker
//!   (`Config::new().build()`, whose policy is an EWMA success rate over a
//!   time window or 5 consecutive failures: `failsafe`) and on a breaker
//!   with the policy ours has, 5 consecutive failures then 60 s open
//!   (`failure_policy::consecutive_failures(5, backoff::constant(60 s))`:
//!   `failsafe-consecutive`), and the closure called directly (`bare`).

use std::cell::Cell;
use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::Barrier;
use std::thread;
use std::time::Duration;

use failsafe::CircuitBreaker as _;
use governor::clock::{MonotonicClock, QuantaClock};
use governor::state::{InMemoryState, NotKeyed};
use governor::Quota;
use workwise::{CircuitBreaker, PoolBuildError, RateLimiter};

use crate::harness::{timed, timed_verify, Round};
use crate::Bench;

/// Calls per thread per round (full, `--quick`).
const CALLS: (u64, u64) = (2_000_000, 500_000);
/// The limiters' rate, per second: an interval of 1 ns on both sides.
const RATE: u32 = 1_000_000_000;
/// The limiters' burst: 1 µs of permits at that rate.
const BURST: u32 = 1_000;
/// Our breaker's consecutive-failure threshold (failsafe's default is 5 too).
const THRESHOLD: u32 = 5;
/// The thread counts of the `.1t` and `.2t` rows.
const THREADS: [usize; 2] = [1, 2];
/// The limiter rows' peers.
const LIMITER_PEERS: [&str; 2] = ["governor", "governor-monotonic"];
/// The breaker rows' peers.
const BREAKER_PEERS: [&str; 3] = ["failsafe", "failsafe-consecutive", "bare"];
/// How long a breaker stays open: ours (`reset_after`, 60 s is also its
/// default) and the constant backoff of the `failsafe-consecutive` peer.
const OPEN_FOR: Duration = Duration::from_secs(60);
/// Below this share of granted calls, a limiter round gets a note.
const MIN_GRANTED: f64 = 0.99;

/// The limiter row for `threads` threads (read by outside scripts).
fn limiter_name(threads: usize) -> String {
    format!("limiter.try_acquire.{threads}t")
}

/// The breaker row for `threads` threads (read by outside scripts): plain
/// `breaker.call` for one thread.
fn breaker_name(threads: usize) -> String {
    if threads == 1 {
        "breaker.call".to_owned()
    } else {
        format!("breaker.call.{threads}t")
    }
}

/// Runs `op(i)` for `i` in `0..calls` on each of `threads` threads (on this
/// thread when `threads == 1`), started together, and gives the wrapping
/// sum of every result.
fn hammer(threads: usize, calls: u64, op: impl Fn(u64) -> u64 + Sync) -> u64 {
    if threads == 1 {
        return (0..calls).map(&op).fold(0, u64::wrapping_add);
    }
    let barrier = Barrier::new(threads);
    let (op, barrier) = (&op, &barrier);
    thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(move || {
                    barrier.wait();
                    (0..calls).map(op).fold(0, u64::wrapping_add)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a bench thread does not panic"))
            .fold(0, u64::wrapping_add)
    })
}

/// `count` for a full run, or the `--quick` one (said on stderr).
fn calls(b: &Bench, what: &str) -> u64 {
    if b.quick {
        b.note(&format!(
            "{what}: --quick uses {} calls per thread per round on every side (not {})",
            CALLS.1, CALLS.0
        ));
        CALLS.1
    } else {
        CALLS.0
    }
}

/// The quota of every governor limiter: [`RATE`] per second, burst [`BURST`].
fn quota() -> Quota {
    let rate = NonZeroU32::new(RATE).expect("RATE is not zero");
    let burst = NonZeroU32::new(BURST).expect("BURST is not zero");
    Quota::per_second(rate).allow_burst(burst)
}

/// One limiter round: `threads` threads each call `try_once` `calls` times.
/// The lowest share of granted calls seen so far goes in `low`.
fn limiter_round(
    name: &str,
    who: &str,
    threads: usize,
    calls: u64,
    low: &Cell<f64>,
    verbose: bool,
    try_once: impl Fn() -> bool + Sync,
) -> Round {
    let total = calls * threads as u64;
    timed_verify(
        name,
        who,
        calls,
        || hammer(threads, calls, |_| u64::from(try_once())),
        |&granted| {
            if granted > total {
                return Err(format!("granted {granted} of {total} calls"));
            }
            let share = granted as f64 / total as f64;
            low.set(low.get().min(share));
            if verbose {
                eprintln!("  {name} {who}: granted {granted} of {total} calls");
            }
            Ok(())
        },
    )
}

/// The `limiter.try_acquire.1t` and `.2t` rows, against governor on its
/// default (TSC) clock and on its monotonic clock.
pub fn limiter_rows(b: &mut Bench) -> Result<(), PoolBuildError> {
    let wanted = |b: &Bench, name: &str| LIMITER_PEERS.iter().any(|p| b.wants(name, p));
    if !THREADS.iter().any(|&t| wanted(b, &limiter_name(t))) {
        return Ok(());
    }
    let calls = calls(b, "limiter.*");
    let verbose = b.rounds.verbose;
    let ours = match RateLimiter::per_second(RATE).burst(BURST).build() {
        Ok(l) => l,
        Err(e) => {
            b.note(&format!("limiter.* skipped: cannot build our limiter: {e}"));
            return Ok(());
        }
    };
    if !ours.clock().reads_counter() {
        b.note(
            "limiter.*: ours reads Instant here (the kernel's clocksource is not the CPU's \
             counter), so it reads the clock governor-monotonic reads, not governor's",
        );
    }
    // The type is written out so that the build fails if governor's default
    // clock (what a user gets from `direct`) stops being quanta's.
    let tsc: governor::RateLimiter<NotKeyed, InMemoryState, QuantaClock> =
        governor::RateLimiter::direct(quota());
    let monotonic = governor::RateLimiter::direct_with_clock(quota(), MonotonicClock);
    for threads in THREADS {
        let name = limiter_name(threads);
        for peer in LIMITER_PEERS {
            if !b.wants(&name, peer) {
                continue;
            }
            let (ours_low, peer_low) = (Cell::new(1.0), Cell::new(1.0));
            let run_ours = || {
                limiter_round(
                    &name,
                    "workwise",
                    threads,
                    calls,
                    &ours_low,
                    verbose,
                    || ours.try_acquire().is_ok(),
                )
            };
            if peer == "governor" {
                b.run(&name, peer, b.rounds.warmup, run_ours, || {
                    limiter_round(&name, peer, threads, calls, &peer_low, verbose, || {
                        tsc.check().is_ok()
                    })
                });
            } else {
                b.run(&name, peer, b.rounds.warmup, run_ours, || {
                    limiter_round(&name, peer, threads, calls, &peer_low, verbose, || {
                        monotonic.check().is_ok()
                    })
                });
            }
            for (who, low) in [("workwise", ours_low.get()), (peer, peer_low.get())] {
                if low < MIN_GRANTED {
                    b.note(&format!(
                        "{name} vs {peer}: {who} granted only {:.2}% of its calls in its \
                         worst round; its denials skipped the write, so the sides did not \
                         do the same work",
                        low * 100.0
                    ));
                }
            }
        }
    }
    Ok(())
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
pub fn breaker_rows(b: &mut Bench) -> Result<(), PoolBuildError> {
    let wanted = |b: &Bench, name: &str| BREAKER_PEERS.iter().any(|p| b.wants(name, p));
    if !THREADS.iter().any(|&t| wanted(b, &breaker_name(t))) {
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
        let name = breaker_name(threads);
        let want = want_sum(threads, calls);
        let run_ours = || {
            timed(&name, "workwise", calls, want, || {
                hammer(threads, calls, |i| {
                    ours.call(|| Ok::<_, ()>(black_box(i))).unwrap_or(0)
                })
            })
        };
        if b.wants(&name, "failsafe") {
            b.run(&name, "failsafe", b.rounds.warmup, run_ours, || {
                timed(&name, "failsafe", calls, want, || {
                    hammer(threads, calls, |i| {
                        failsafe.call(|| Ok::<_, ()>(black_box(i))).unwrap_or(0)
                    })
                })
            });
        }
        if b.wants(&name, "failsafe-consecutive") {
            b.run(
                &name,
                "failsafe-consecutive",
                b.rounds.warmup,
                run_ours,
                || {
                    timed(&name, "failsafe-consecutive", calls, want, || {
                        hammer(threads, calls, |i| {
                            consecutive.call(|| Ok::<_, ()>(black_box(i))).unwrap_or(0)
                        })
                    })
                },
            );
        }
        if b.wants(&name, "bare") {
            b.run(&name, "bare", b.rounds.warmup, run_ours, || {
                timed(&name, "bare", calls, want, || {
                    hammer(threads, calls, |i| {
                        let f = || Ok::<_, ()>(black_box(i));
                        f().unwrap_or(0)
                    })
                })
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_names_are_the_published_ones() {
        let limiter: Vec<_> = THREADS.iter().map(|&t| limiter_name(t)).collect();
        assert_eq!(
            limiter,
            ["limiter.try_acquire.1t", "limiter.try_acquire.2t"]
        );
        let breaker: Vec<_> = THREADS.iter().map(|&t| breaker_name(t)).collect();
        assert_eq!(breaker, ["breaker.call", "breaker.call.2t"]);
    }

    #[test]
    fn hammer_runs_every_call_on_every_thread() {
        for threads in THREADS {
            assert_eq!(hammer(threads, 1_000, |i| i), want_sum(threads, 1_000));
        }
    }

    #[test]
    fn both_quotas_have_the_same_interval_and_burst() {
        let ours = RateLimiter::per_second(RATE).burst(BURST).build().unwrap();
        let theirs = quota();
        assert_eq!(ours.interval(), theirs.replenish_interval());
        assert_eq!(ours.burst(), theirs.burst_size().get());
    }

    #[test]
    fn every_side_grants_nearly_every_call() {
        let ours = RateLimiter::per_second(RATE).burst(BURST).build().unwrap();
        let tsc = governor::RateLimiter::direct(quota());
        let monotonic = governor::RateLimiter::direct_with_clock(quota(), MonotonicClock);
        let calls = 10_000;
        let low = |granted: u64| granted < calls * 9 / 10;
        assert!(!low(hammer(1, calls, |_| u64::from(
            ours.try_acquire().is_ok()
        ))));
        assert!(!low(hammer(1, calls, |_| u64::from(tsc.check().is_ok()))));
        assert!(!low(hammer(1, calls, |_| u64::from(
            monotonic.check().is_ok()
        ))));
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
