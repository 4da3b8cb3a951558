//! The `limiter.*` rows: `workwise::RateLimiter` against governor. Row names
//! are read by outside scripts: keep them exactly. One round makes many
//! calls on one or two threads sharing one limiter ([`crate::calls`]).
//!
//! Both sides get the same quota, [`RATE`] per second (an interval of 1 ns)
//! with a burst of [`BURST`]. Calls come far slower than one a nanosecond,
//! so nearly every call is granted and every side does the same work each
//! call: a clock read, a load and a compare-and-swap of one shared word.
//! Ours is `RateLimiter::per_second(RATE).burst(BURST)` and `try_acquire`;
//! the peers are governor's direct limiter with that quota and `check`, on
//! its default clock (quanta's TSC: `governor`) and on its `MonotonicClock`
//! (`Instant`: `governor-monotonic`). Ours reads its default `RealClock`:
//! the same counter as `governor` where the kernel's clocksource is that
//! counter, `Instant` elsewhere (then a note says so). Each side counts its
//! grants; a side that grants under 99% of its calls in a round is named in
//! a note, since its denials skipped the write.

use std::cell::RefCell;
use std::collections::HashMap;
use std::num::NonZeroU32;

use governor::clock::{MonotonicClock, QuantaClock};
use governor::state::{InMemoryState, NotKeyed};
use governor::Quota;
use workwise::RateLimiter;

use crate::calls::{calls, hammer, THREADS};
use crate::harness::{Bench, Outcome, Race, Scenario};

/// The limiters' rate, per second: an interval of 1 ns on both sides.
const RATE: u32 = 1_000_000_000;
/// The limiters' burst: 1 µs of permits at that rate.
const BURST: u32 = 1_000;
/// The limiter rows' peers.
const PEERS: [&str; 2] = ["governor", "governor-monotonic"];
/// Below this share of granted calls, a limiter round gets a note.
const MIN_GRANTED: f64 = 0.99;

/// The limiter row for `threads` threads (read by outside scripts).
fn row_name(threads: usize) -> String {
    format!("limiter.try_acquire.{threads}t")
}

/// The quota of every governor limiter: [`RATE`] per second, burst [`BURST`].
fn quota() -> Quota {
    let rate = NonZeroU32::new(RATE).expect("RATE is not zero");
    let burst = NonZeroU32::new(BURST).expect("BURST is not zero");
    Quota::per_second(rate).allow_burst(burst)
}

/// The lowest share of granted calls each side had in a round, since the
/// last [`Lows::report`].
#[derive(Default)]
struct Lows(RefCell<HashMap<String, f64>>);

impl Lows {
    fn record(&self, who: &str, share: f64) {
        let mut lows = self.0.borrow_mut();
        let low = lows.entry(who.to_owned()).or_insert(1.0);
        *low = low.min(share);
    }

    /// Notes each side of `name` vs `peer` that granted under
    /// [`MIN_GRANTED`] of its calls in its worst round, and forgets them.
    fn report<T>(&self, race: &Race<'_, '_, T>, name: &str, peer: &str) {
        let lows = self.0.take();
        for who in ["workwise", peer] {
            match lows.get(who) {
                Some(&low) if low < MIN_GRANTED => race.note(&format!(
                    "{name} vs {peer}: {who} granted only {:.2}% of its calls in its worst \
                     round; its denials skipped the write, so the sides did not do the same work",
                    low * 100.0
                )),
                _ => {}
            }
        }
    }
}

/// The `limiter.try_acquire.1t` and `.2t` rows, against governor on its
/// default (TSC) clock and on its monotonic clock.
fn limiter_rows(b: &mut Bench) -> Outcome {
    if !THREADS.iter().any(|&t| b.wants_any(&row_name(t), &PEERS)) {
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
        let name = row_name(threads);
        let total = calls * threads as u64;
        let lows = Lows::default();
        let race = b
            .row(&name)
            .items(calls)
            .verify_each(|who, &granted: &u64| {
                if granted > total {
                    return Err(format!("granted {granted} of {total} calls"));
                }
                lows.record(who, granted as f64 / total as f64);
                if verbose {
                    eprintln!("  {name} {who}: granted {granted} of {total} calls");
                }
                Ok(())
            })
            .ours(|| hammer(threads, calls, |_| u64::from(ours.try_acquire().is_ok())))
            .peer("governor", || {
                hammer(threads, calls, |_| u64::from(tsc.check().is_ok()))
            });
        lows.report(&race, &name, "governor");
        let race = race.peer("governor-monotonic", || {
            hammer(threads, calls, |_| u64::from(monotonic.check().is_ok()))
        });
        lows.report(&race, &name, "governor-monotonic");
    }
    Ok(())
}

/// The rows of this file.
pub const ROWS: &[Scenario] = &[limiter_rows];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_names_are_the_published_ones() {
        let names: Vec<_> = THREADS.iter().map(|&t| row_name(t)).collect();
        assert_eq!(names, ["limiter.try_acquire.1t", "limiter.try_acquire.2t"]);
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
}
