//! Loom models of the breaker's protocol (module docs, rules 2-5 and 8):
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p workwise --release --lib loom_breaker`.

use std::sync::Mutex as StdMutex;
use std::time::Duration;

use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::thread;

use super::error::{BreakerError, BreakerState};
use super::CircuitBreaker;
use crate::clock::ManualClock;
use crate::sync::Arc;

use BreakerState::{Closed, HalfOpen, Open};

type Log = std::sync::Arc<StdMutex<Vec<(BreakerState, BreakerState)>>>;

const RESET: Duration = Duration::from_secs(1);

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.max_branches = 100_000;
    builder.check(f);
}

/// A breaker opened by one failure and due to probe, and its hook's log.
fn due_to_probe(probes: u32) -> (Arc<CircuitBreaker<ManualClock>>, Log) {
    let clock = ManualClock::new();
    let log = Log::default();
    let hook_log = log.clone();
    let b = CircuitBreaker::builder()
        .failure_threshold(1)
        .half_open_max_calls(probes)
        .reset_after(RESET)
        .clock(clock.clone())
        .on_state_change(move |from, to| hook_log.lock().unwrap().push((from, to)))
        .build()
        .unwrap();
    let _ = b.call(|| Err::<(), _>(()));
    clock.advance(RESET);
    (Arc::new(b), log)
}

#[test]
fn loom_breaker_one_probe_at_a_time() {
    model(|| {
        let (b, log) = due_to_probe(1);
        let in_flight = Arc::new(AtomicUsize::new(0));
        let call = {
            let (b, in_flight) = (b.clone(), in_flight.clone());
            move || {
                b.call(|| {
                    assert_eq!(in_flight.fetch_add(1, SeqCst), 0, "two probes at once");
                    in_flight.fetch_sub(1, SeqCst);
                    Ok::<_, ()>(())
                })
            }
        };
        let other = thread::spawn(call.clone());
        let mine = call();
        let theirs = other.join().unwrap();
        // Either both ran (the second after the probe closed it) or one
        // was shed while the probe was in flight.
        for r in [mine, theirs] {
            assert!(matches!(r, Ok(()) | Err(BreakerError::Open { .. })));
        }
        assert_eq!(b.state(), Closed);
        assert_eq!(
            *log.lock().unwrap(),
            [(Closed, Open), (Open, HalfOpen), (HalfOpen, Closed)]
        );
    });
}

#[test]
fn loom_breaker_two_slots_three_callers() {
    model(|| {
        let (b, log) = due_to_probe(2);
        let in_flight = Arc::new(AtomicUsize::new(0));
        let call = {
            let (b, in_flight) = (b.clone(), in_flight.clone());
            move || {
                b.call(|| {
                    assert!(in_flight.fetch_add(1, SeqCst) < 2, "three probes at once");
                    in_flight.fetch_sub(1, SeqCst);
                    Ok::<_, ()>(())
                })
            }
        };
        let others = [thread::spawn(call.clone()), thread::spawn(call.clone())];
        let mut ran = usize::from(call().is_ok());
        for t in others {
            ran += usize::from(t.join().unwrap().is_ok());
        }
        // Closing takes two successful probes.
        assert_eq!(b.state(), if ran >= 2 { Closed } else { HalfOpen });
        let closed = [(Closed, Open), (Open, HalfOpen), (HalfOpen, Closed)];
        assert_eq!(*log.lock().unwrap(), closed[..if ran >= 2 { 3 } else { 2 }]);
    });
}

#[test]
fn loom_breaker_racing_failures_open_it_once() {
    model(|| {
        let clock = ManualClock::new();
        let log = Log::default();
        let hook_log = log.clone();
        let b = Arc::new(
            CircuitBreaker::builder()
                .failure_threshold(2)
                .clock(clock)
                .on_state_change(move |from, to| hook_log.lock().unwrap().push((from, to)))
                .build()
                .unwrap(),
        );
        let other = {
            let b = b.clone();
            thread::spawn(move || {
                let _ = b.call(|| Err::<(), _>(()));
            })
        };
        let _ = b.call(|| Err::<(), _>(()));
        other.join().unwrap();
        assert_eq!(b.state(), Open);
        assert_eq!(*log.lock().unwrap(), [(Closed, Open)]);
        assert_eq!(b.stats().times_opened, 1);
    });
}

#[test]
fn loom_breaker_a_failed_probe_wins_over_a_late_success() {
    model(|| {
        let (b, log) = due_to_probe(2);
        let other = {
            let b = b.clone();
            thread::spawn(move || {
                let _ = b.call(|| Ok::<_, ()>(()));
            })
        };
        let _ = b.call(|| Err::<(), _>(()));
        other.join().unwrap();
        assert_eq!(b.state(), Open);
        assert_eq!(
            *log.lock().unwrap(),
            [(Closed, Open), (Open, HalfOpen), (HalfOpen, Open)]
        );
        assert_eq!(b.stats().times_opened, 2);
    });
}
