//! Black-box tests of `CircuitBreaker`: every transition on the manual
//! clock, the failure-rate window, the failure predicate, the hook, bad
//! configuration, exact half-open admission under 8 racing threads, async
//! use, and a property test against a plain sequential model.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::Duration;

use proptest::prelude::*;
use workwise::{
    BreakerBuildError, BreakerError, BreakerState, BreakerStats, CircuitBreaker,
    CircuitBreakerBuilder, Clock, ManualClock, RealClock,
};

use BreakerState::{Closed, HalfOpen, Open};

const RESET: Duration = Duration::from_secs(60);
const SEC: Duration = Duration::from_secs(1);

type Breaker = CircuitBreaker<ManualClock>;
type Log = Arc<Mutex<Vec<(BreakerState, BreakerState)>>>;

/// A builder on a manual clock with `reset_after(RESET)`, and the log its
/// hook writes.
fn builder(clock: &ManualClock) -> (CircuitBreakerBuilder<ManualClock>, Log) {
    let log = Log::default();
    let hook_log = log.clone();
    let b = CircuitBreaker::builder()
        .reset_after(RESET)
        .clock(clock.clone())
        .on_state_change(move |from, to| hook_log.lock().unwrap().push((from, to)));
    (b, log)
}

fn with_threshold(n: u32) -> (ManualClock, Breaker, Log) {
    let clock = ManualClock::new();
    let (b, log) = builder(&clock);
    (clock, b.failure_threshold(n).build().unwrap(), log)
}

fn fail(b: &Breaker) -> Result<(), BreakerError<&'static str>> {
    b.call(|| Err("down"))
}

fn succeed(b: &Breaker) -> Result<(), BreakerError<&'static str>> {
    b.call(|| Ok(()))
}

fn shed(retry_after: Duration) -> Result<(), BreakerError<&'static str>> {
    Err(BreakerError::Open { retry_after })
}

fn events(log: &Log) -> Vec<(BreakerState, BreakerState)> {
    log.lock().unwrap().clone()
}

/// Polls a future once with a waker that does nothing.
fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

// ---------------------------------------------------------------------------
// Transitions on the manual clock

#[test]
fn opens_at_exactly_the_threshold() {
    let (_clock, b, log) = with_threshold(3);
    assert_eq!(fail(&b), Err(BreakerError::Inner("down")));
    assert_eq!(fail(&b), Err(BreakerError::Inner("down")));
    assert_eq!(b.state(), Closed);
    assert_eq!(fail(&b), Err(BreakerError::Inner("down")));
    assert_eq!(b.state(), Open);
    assert_eq!(events(&log), [(Closed, Open)]);
}

#[test]
fn open_sheds_without_running_and_retry_after_shrinks() {
    let (clock, b, _log) = with_threshold(1);
    let _ = fail(&b);
    let ran = AtomicUsize::new(0);
    let call = || {
        b.call(|| {
            ran.fetch_add(1, Ordering::Relaxed);
            Ok::<_, &str>(())
        })
    };
    assert_eq!(call(), shed(RESET));
    clock.advance(Duration::from_secs(10));
    assert_eq!(call(), shed(Duration::from_secs(50)));
    clock.advance(Duration::from_secs(49) + Duration::from_millis(999));
    assert_eq!(call(), shed(Duration::from_millis(1)));
    assert_eq!(ran.load(Ordering::Relaxed), 0);
    assert_eq!(b.stats().rejected, 3);
    assert_eq!(b.state(), Open);
}

#[test]
fn becomes_half_open_on_the_first_call_after_reset_after() {
    let (clock, b, log) = with_threshold(1);
    let _ = fail(&b);
    clock.advance(RESET);
    // Lazy: nothing changes until a call comes.
    assert_eq!(b.state(), Open);
    let seen = b.call(|| Ok::<_, ()>(b.state()));
    assert_eq!(seen, Ok(HalfOpen));
    assert_eq!(
        events(&log),
        [(Closed, Open), (Open, HalfOpen), (HalfOpen, Closed)]
    );
}

#[test]
fn half_open_sheds_other_callers_while_the_probe_runs() {
    let (clock, b, _log) = with_threshold(1);
    let _ = fail(&b);
    clock.advance(RESET);
    let inner = b.call(|| Ok::<_, &str>(succeed(&b)));
    // Probing: the answer may come any moment, so no wait is promised.
    assert_eq!(inner, Ok(shed(Duration::ZERO)));
    assert_eq!(b.state(), Closed);
}

#[test]
fn half_open_closes_once_every_probe_has_succeeded() {
    let clock = ManualClock::new();
    let (b, log) = builder(&clock);
    let b = b
        .failure_threshold(1)
        .half_open_max_calls(3)
        .build()
        .unwrap();
    let _ = fail(&b);
    clock.advance(RESET);
    assert_eq!(succeed(&b), Ok(()));
    assert_eq!(succeed(&b), Ok(()));
    assert_eq!(b.state(), HalfOpen);
    assert_eq!(succeed(&b), Ok(()));
    assert_eq!(b.state(), Closed);
    assert_eq!(
        events(&log),
        [(Closed, Open), (Open, HalfOpen), (HalfOpen, Closed)]
    );
}

#[test]
fn a_probe_failure_opens_it_again_for_a_full_reset_after() {
    let clock = ManualClock::new();
    let (b, log) = builder(&clock);
    let b = b
        .failure_threshold(2)
        .half_open_max_calls(3)
        .build()
        .unwrap();
    let _ = fail(&b);
    let _ = fail(&b);
    clock.advance(RESET + Duration::from_secs(5));
    assert_eq!(succeed(&b), Ok(()));
    assert_eq!(fail(&b), Err(BreakerError::Inner("down"))); // one failure is enough
    assert_eq!(b.state(), Open);
    assert_eq!(succeed(&b), shed(RESET));
    assert_eq!(
        events(&log),
        [(Closed, Open), (Open, HalfOpen), (HalfOpen, Open)]
    );
    assert_eq!(b.stats().times_opened, 2);
}

#[test]
fn a_success_starts_the_failure_count_again() {
    let (_clock, b, _log) = with_threshold(3);
    for _ in 0..10 {
        let _ = fail(&b);
        let _ = fail(&b);
        let _ = succeed(&b);
    }
    assert_eq!(b.state(), Closed);
    let _ = fail(&b);
    let _ = fail(&b);
    let _ = fail(&b);
    assert_eq!(b.state(), Open);
}

#[test]
fn after_closing_the_count_starts_from_zero() {
    let (clock, b, _log) = with_threshold(2);
    let _ = fail(&b);
    let _ = fail(&b);
    clock.advance(RESET);
    let _ = succeed(&b);
    assert_eq!(b.state(), Closed);
    let _ = fail(&b);
    assert_eq!(b.state(), Closed);
    let _ = fail(&b);
    assert_eq!(b.state(), Open);
}

#[test]
fn the_default_threshold_is_five() {
    let clock = ManualClock::new();
    let (b, _log) = builder(&clock);
    let b = b.build().unwrap();
    for _ in 0..4 {
        let _ = fail(&b);
    }
    assert_eq!(b.state(), Closed);
    let _ = fail(&b);
    assert_eq!(b.state(), Open);
}

// ---------------------------------------------------------------------------
// The failure-rate window

#[test]
fn the_rate_rule_judges_only_a_full_window() {
    let clock = ManualClock::new();
    let (b, log) = builder(&clock);
    let b = b.failure_rate(0.5, 4).build().unwrap();
    let _ = fail(&b);
    let _ = fail(&b);
    let _ = succeed(&b);
    assert_eq!(b.state(), Closed); // 2 of 3, but 3 calls are not a window
    let _ = succeed(&b);
    assert_eq!(b.state(), Open); // 2 of the last 4
    assert_eq!(events(&log), [(Closed, Open)]);
}

#[test]
fn the_rate_window_slides() {
    let clock = ManualClock::new();
    let (b, _log) = builder(&clock);
    let b = b.failure_rate(0.5, 4).build().unwrap();
    for _ in 0..3 {
        let _ = succeed(&b);
    }
    let _ = fail(&b); // S S S F
    assert_eq!(b.state(), Closed);
    let _ = succeed(&b); // S S F S
    let _ = succeed(&b); // S F S S
    let _ = fail(&b); // F S S F: 2 of 4
    assert_eq!(b.state(), Open);
}

#[test]
fn the_rate_rule_alone_ignores_failures_in_a_row() {
    let clock = ManualClock::new();
    let (b, _log) = builder(&clock);
    let b = b.failure_rate(0.9, 100).build().unwrap();
    for _ in 0..50 {
        let _ = fail(&b);
    }
    assert_eq!(b.state(), Closed); // no consecutive rule unless it is named
    for _ in 0..40 {
        let _ = fail(&b);
    }
    assert_eq!(b.state(), Closed); // 90 calls: the window is not full
    for _ in 0..10 {
        let _ = succeed(&b);
    }
    assert_eq!(b.state(), Open); // 90 of 100
}

#[test]
fn with_both_rules_the_first_to_trip_opens_it() {
    let clock = ManualClock::new();
    let (b, _log) = builder(&clock);
    let b = b
        .failure_threshold(3)
        .failure_rate(0.5, 10)
        .build()
        .unwrap();
    for _ in 0..3 {
        let _ = fail(&b);
    }
    assert_eq!(b.state(), Open); // the consecutive rule, before the window fills

    let clock = ManualClock::new();
    let (b, _log) = builder(&clock);
    let b = b
        .failure_threshold(3)
        .failure_rate(0.5, 10)
        .build()
        .unwrap();
    for _ in 0..5 {
        let _ = fail(&b);
        let _ = succeed(&b);
    }
    assert_eq!(b.state(), Open); // the rate rule, never 3 in a row
}

#[test]
fn the_window_starts_empty_after_closing() {
    let clock = ManualClock::new();
    let (b, _log) = builder(&clock);
    let b = b.failure_rate(0.5, 2).build().unwrap();
    let _ = fail(&b);
    let _ = fail(&b);
    assert_eq!(b.state(), Open);
    clock.advance(RESET);
    let _ = succeed(&b);
    assert_eq!(b.state(), Closed);
    let _ = fail(&b); // 1 of 1: the window (2) is not full again yet
    assert_eq!(b.state(), Closed);
    let _ = succeed(&b); // 1 of 2
    assert_eq!(b.state(), Open);
}

// ---------------------------------------------------------------------------
// The failure predicate

#[test]
fn an_error_the_predicate_does_not_count_leaves_it_closed() {
    let (_clock, b, log) = with_threshold(2);
    let is_outage = |status: &u16| *status >= 500;
    for _ in 0..20 {
        let r = b.call_with(|| Err::<(), u16>(404), is_outage);
        assert_eq!(r, Err(BreakerError::Inner(404)));
    }
    assert_eq!(b.state(), Closed);
    assert_eq!(b.stats().successes, 20);
    assert_eq!(b.stats().failures, 0);
    // It also breaks a run of failures, as a success does.
    let _ = b.call_with(|| Err::<(), u16>(503), is_outage);
    let _ = b.call_with(|| Err::<(), u16>(404), is_outage);
    let _ = b.call_with(|| Err::<(), u16>(503), is_outage);
    assert_eq!(b.state(), Closed);
    let _ = b.call_with(|| Err::<(), u16>(500), is_outage);
    assert_eq!(b.state(), Open);
    assert!(events(&log).len() == 1);
}

#[test]
fn an_uncounted_error_from_a_probe_closes_it() {
    let (clock, b, _log) = with_threshold(1);
    let _ = fail(&b);
    clock.advance(RESET);
    let r = b.call_with(|| Err::<(), &str>("not found"), |e| *e != "not found");
    assert_eq!(r, Err(BreakerError::Inner("not found")));
    assert_eq!(b.state(), Closed);
}

// ---------------------------------------------------------------------------
// Calls that straddle transitions

#[test]
fn an_outcome_from_before_a_transition_is_ignored() {
    let (clock, b, _log) = with_threshold(2);
    // The outer call is admitted while closed and returns after the breaker
    // has opened, probed and closed again: its failure must not count.
    let outer = b.call(|| {
        let _ = fail(&b);
        let _ = fail(&b);
        clock.advance(RESET);
        let _ = succeed(&b);
        assert_eq!(b.state(), Closed);
        Err::<(), _>("late")
    });
    assert_eq!(outer, Err(BreakerError::Inner("late")));
    assert_eq!(b.state(), Closed);
    let _ = fail(&b);
    assert_eq!(b.state(), Closed); // one failure counted, not two
    let _ = fail(&b);
    assert_eq!(b.state(), Open);
}

#[test]
fn a_probe_from_an_earlier_half_open_does_not_count() {
    let clock = ManualClock::new();
    let (b, _log) = builder(&clock);
    let b = b
        .failure_threshold(1)
        .half_open_max_calls(2)
        .build()
        .unwrap();
    let _ = fail(&b);
    clock.advance(RESET);
    let outer = b.call(|| {
        let _ = fail(&b); // the second probe fails: open again
        clock.advance(RESET);
        let _ = succeed(&b); // a probe of the new half-open: 1 of 2
        Ok::<_, &str>(())
    });
    assert_eq!(outer, Ok(()));
    assert_eq!(b.state(), HalfOpen); // the outer success was from the old one
    let _ = succeed(&b);
    assert_eq!(b.state(), Closed);
}

#[test]
fn a_panicking_probe_hands_its_slot_back() {
    let (clock, b, _log) = with_threshold(1);
    let _ = fail(&b);
    clock.advance(RESET);
    let r = catch_unwind(AssertUnwindSafe(|| {
        b.call(|| -> Result<(), &str> { panic!("bug in the probe") })
    }));
    assert!(r.is_err());
    assert_eq!(b.state(), HalfOpen);
    assert_eq!(succeed(&b), Ok(())); // admitted: the slot came back
    assert_eq!(b.state(), Closed);
    let stats = b.stats();
    assert_eq!((stats.successes, stats.failures), (1, 1)); // the panic is neither
}

// ---------------------------------------------------------------------------
// The hook

#[test]
fn the_hook_fires_once_per_transition_in_order() {
    let clock = ManualClock::new();
    let (b, log) = builder(&clock);
    let b = b.failure_threshold(2).build().unwrap();
    let _ = fail(&b);
    let _ = fail(&b);
    let _ = fail(&b); // shed: no transition
    clock.advance(RESET);
    let _ = fail(&b); // probe fails
    let _ = succeed(&b); // shed
    clock.advance(RESET);
    let _ = succeed(&b); // probe succeeds
    let _ = succeed(&b);
    assert_eq!(
        events(&log),
        [
            (Closed, Open),
            (Open, HalfOpen),
            (HalfOpen, Open),
            (Open, HalfOpen),
            (HalfOpen, Closed),
        ]
    );
    assert_eq!(b.stats().times_opened, 2);
}

#[test]
fn the_hook_may_call_into_the_breaker() {
    let clock = ManualClock::new();
    let cell: Arc<OnceLock<Breaker>> = Arc::default();
    let log = Log::default();
    let b = {
        let (cell, log, clock) = (cell.clone(), log.clone(), clock.clone());
        CircuitBreaker::builder()
            .failure_threshold(1)
            .reset_after(RESET)
            .clock(clock.clone())
            .on_state_change(move |from, to| {
                log.lock().unwrap().push((from, to));
                let b = cell.get().unwrap();
                let _ = b.stats();
                if to == Open && b.stats().times_opened == 1 {
                    // Two more transitions from inside the hook.
                    clock.advance(RESET);
                    let _ = succeed(b);
                }
            })
            .build()
            .unwrap()
    };
    assert!(cell.set(b.clone()).is_ok());
    let _ = fail(&b);
    assert_eq!(b.state(), Closed);
    assert_eq!(
        events(&log),
        [(Closed, Open), (Open, HalfOpen), (HalfOpen, Closed)]
    );
}

#[test]
fn a_panicking_hook_never_changes_a_calls_outcome() {
    let clock = ManualClock::new();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let b = {
        let calls = calls.clone();
        CircuitBreaker::builder()
            .failure_threshold(1)
            .reset_after(RESET)
            .clock(clock.clone())
            .on_state_change(move |from, to| {
                calls.lock().unwrap().push((from, to));
                assert!(to == Closed, "hook bug at {from} -> {to}");
            })
            .build()
            .unwrap()
    };
    // The call that trips it gets its own error, not the hook's panic.
    let tripped = catch_unwind(AssertUnwindSafe(|| fail(&b)));
    assert_eq!(tripped.ok(), Some(Err(BreakerError::Inner("down"))));
    assert_eq!(b.state(), Open);
    clock.advance(RESET);
    // The probe runs and its success closes the breaker, panic or not.
    let probe = catch_unwind(AssertUnwindSafe(|| b.call(|| Ok::<_, &str>(7))));
    assert_eq!(probe.ok(), Some(Ok(7)));
    assert_eq!(b.state(), Closed);
    // Every transition still reached the hook, in order.
    assert_eq!(
        *calls.lock().unwrap(),
        [(Closed, Open), (Open, HalfOpen), (HalfOpen, Closed)]
    );
    // And it goes on working: a panic left nothing stuck.
    let _ = catch_unwind(AssertUnwindSafe(|| fail(&b)));
    assert_eq!(b.state(), Open);
    assert_eq!(calls.lock().unwrap().len(), 4);
}

#[tokio::test]
async fn a_panicking_hook_never_changes_an_async_calls_outcome() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder()
        .failure_threshold(1)
        .reset_after(RESET)
        .clock(clock.clone())
        .on_state_change(|_, _| panic!("hook bug"))
        .build()
        .unwrap();
    let r = b.call_async(|| async { Err::<(), _>("down") }).await;
    assert_eq!(r, Err(BreakerError::Inner("down")));
    clock.advance(RESET);
    let r = b.call_async(|| async { Ok::<_, &str>(1) }).await;
    assert_eq!(r, Ok(1));
    assert_eq!(b.state(), Closed);
}

// ---------------------------------------------------------------------------
// The clock's end: a ManualClock stops at u64::MAX nanoseconds

/// A manual clock `before_end` short of its last nanosecond.
fn clock_near_the_end(before_end: Duration) -> ManualClock {
    let clock = ManualClock::new();
    clock.advance(Duration::from_nanos(u64::MAX) - before_end);
    clock
}

#[test]
fn at_the_clocks_end_an_open_breaker_stays_open() {
    let clock = clock_near_the_end(Duration::ZERO);
    let (b, log) = builder(&clock);
    let b = b
        .failure_threshold(1)
        .reset_after(Duration::from_secs(3600))
        .build()
        .unwrap();
    assert_eq!(fail(&b), Err(BreakerError::Inner("down")));
    assert_eq!(b.state(), Open);
    // An hour later cannot come: every call is shed, for good.
    for _ in 0..100 {
        assert_eq!(succeed(&b), shed(Duration::MAX));
        clock.advance(Duration::from_secs(3600));
    }
    assert_eq!(b.state(), Open);
    assert_eq!(events(&log), [(Closed, Open)]);
    let msg = succeed(&b).unwrap_err().to_string();
    assert!(msg.contains("will not let a probe through"), "{msg}");
}

#[test]
fn just_before_the_clocks_end_reset_after_still_counts() {
    let clock = clock_near_the_end(Duration::from_secs(90));
    let (b, log) = builder(&clock);
    let b = b.failure_threshold(1).build().unwrap(); // reset_after 60 s
    let _ = fail(&b);
    assert_eq!(succeed(&b), shed(RESET));
    clock.advance(RESET);
    // 30 s to the end: the probe goes, fails, and the next minute would
    // end past the clock's end.
    assert_eq!(fail(&b), Err(BreakerError::Inner("down")));
    assert_eq!(succeed(&b), shed(Duration::MAX));
    clock.advance(RESET);
    assert_eq!(succeed(&b), shed(Duration::MAX));
    assert_eq!(
        events(&log),
        [(Closed, Open), (Open, HalfOpen), (HalfOpen, Open)]
    );
}

#[test]
fn reset_after_duration_max_opens_it_for_good() {
    let b = CircuitBreaker::builder()
        .failure_threshold(1)
        .reset_after(Duration::MAX)
        .build()
        .unwrap();
    assert_eq!(
        b.call(|| Err::<(), _>("down")),
        Err(BreakerError::Inner("down"))
    );
    assert_eq!(
        b.call(|| Ok::<_, &str>(())),
        Err(BreakerError::Open {
            retry_after: Duration::MAX
        })
    );
    assert_eq!(b.state(), Open);
}

// ---------------------------------------------------------------------------
// Configuration

#[test]
fn bad_configuration_is_a_clear_error() {
    let b = CircuitBreaker::builder;
    let cases: Vec<(
        Result<CircuitBreaker, BreakerBuildError>,
        BreakerBuildError,
        &str,
    )> = vec![
        (
            b().failure_threshold(0).build(),
            BreakerBuildError::ZeroFailureThreshold,
            "at least 1",
        ),
        (
            b().reset_after(Duration::ZERO).build(),
            BreakerBuildError::ZeroResetAfter,
            "such as 30 s",
        ),
        (
            b().failure_rate(0.0, 10).build(),
            BreakerBuildError::FailureRateOutOfRange { rate: 0.0 },
            "above 0 and at most 1",
        ),
        (
            b().failure_rate(1.5, 10).build(),
            BreakerBuildError::FailureRateOutOfRange { rate: 1.5 },
            "above 0 and at most 1",
        ),
        (
            b().failure_rate(0.5, 0).build(),
            BreakerBuildError::ZeroWindow,
            "at least 1 call",
        ),
        (
            b().failure_rate(0.5, 2_000_000).build(),
            BreakerBuildError::WindowTooLarge { window: 2_000_000 },
            "at most 1048576",
        ),
        (
            b().half_open_max_calls(0).build(),
            BreakerBuildError::ZeroHalfOpenCalls,
            "never",
        ),
        (
            b().half_open_max_calls(70_000).build(),
            BreakerBuildError::TooManyHalfOpenCalls { requested: 70_000 },
            "at most 65535",
        ),
    ];
    for (got, want, hint) in cases {
        let err = got.unwrap_err();
        assert_eq!(err, want);
        assert!(err.to_string().contains(hint), "{err}");
    }
    let nan = b().failure_rate(f64::NAN, 10).build().unwrap_err();
    assert!(matches!(
        nan,
        BreakerBuildError::FailureRateOutOfRange { .. }
    ));
    // The edges that are allowed.
    assert!(b().failure_rate(1.0, 1).build().is_ok());
    assert!(b().failure_rate(1e-9, 1 << 20).build().is_ok());
    assert!(b().half_open_max_calls(65_535).build().is_ok());
    assert!(b().failure_threshold(u32::MAX).build().is_ok());
}

#[test]
fn errors_read_well_and_types_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<CircuitBreaker>();
    send_sync::<CircuitBreaker<ManualClock>>();
    send_sync::<CircuitBreakerBuilder<RealClock>>();
    send_sync::<BreakerError<std::io::Error>>();
    send_sync::<BreakerBuildError>();
    send_sync::<BreakerStats>();
    send_sync::<BreakerState>();

    let shed = BreakerError::<std::io::Error>::Open { retry_after: SEC };
    assert!(shed.to_string().contains("fallback"), "{shed}");
    let inner = BreakerError::Inner(std::io::Error::other("refused"));
    assert_eq!(inner.to_string(), "refused");
    let b = CircuitBreaker::builder().build().unwrap();
    assert!(format!("{b:?}").contains("Closed"));
}

#[test]
fn stats_count_every_call() {
    let (clock, b, _log) = with_threshold(2);
    let _ = succeed(&b);
    let _ = fail(&b);
    let _ = fail(&b);
    let _ = succeed(&b);
    let _ = succeed(&b);
    clock.advance(RESET);
    let _ = succeed(&b);
    let s = b.stats();
    assert_eq!(
        (s.successes, s.failures, s.rejected, s.times_opened),
        (2, 2, 2, 1)
    );
    assert_eq!(s.ran(), 4);
}

// ---------------------------------------------------------------------------
// Races

/// One round: a breaker with `max` probe slots, opened and due to probe;
/// 8 threads call at once and each probe holds its slot until every thread
/// knows whether it got one. Returns how many ran, and the breaker.
fn probe_race(max: u32, probes_fail: bool) -> (usize, Breaker, Log) {
    const THREADS: usize = 8;
    let clock = ManualClock::new();
    let (b, log) = builder(&clock);
    let b = b
        .failure_threshold(1)
        .half_open_max_calls(max)
        .build()
        .unwrap();
    let _ = fail(&b);
    clock.advance(RESET);

    let barrier = Barrier::new(THREADS);
    let decided = AtomicUsize::new(0);
    let ran = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                barrier.wait();
                let r = b.call(|| {
                    ran.fetch_add(1, Ordering::SeqCst);
                    decided.fetch_add(1, Ordering::SeqCst);
                    while decided.load(Ordering::SeqCst) < THREADS {
                        thread::yield_now();
                    }
                    if probes_fail {
                        Err("still down")
                    } else {
                        Ok(())
                    }
                });
                match r {
                    Err(BreakerError::Open { retry_after }) => {
                        assert_eq!(retry_after, Duration::ZERO);
                        decided.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(()) => assert!(!probes_fail),
                    Err(BreakerError::Inner(_)) => assert!(probes_fail),
                    Err(e) => panic!("{e:?}"),
                }
            });
        }
    });
    (ran.load(Ordering::SeqCst), b, log)
}

#[test]
fn half_open_admits_exactly_its_probes_under_8_racing_threads() {
    for round in 0..1000 {
        let max = 1 + round % 4;
        let (ran, b, log) = probe_race(max, false);
        assert_eq!(ran, max as usize, "round {round}");
        assert_eq!(b.state(), Closed, "round {round}");
        assert_eq!(
            events(&log),
            [(Closed, Open), (Open, HalfOpen), (HalfOpen, Closed)],
            "round {round}"
        );
        let s = b.stats();
        assert_eq!(s.successes, u64::from(max));
        assert_eq!(s.rejected, 8 - u64::from(max));
        assert_eq!(s.times_opened, 1);
    }
}

#[test]
fn failing_probes_reopen_it_exactly_once() {
    for round in 0..250 {
        let max = 1 + round % 4;
        let (ran, b, log) = probe_race(max, true);
        assert_eq!(ran, max as usize, "round {round}");
        assert_eq!(b.state(), Open, "round {round}");
        assert_eq!(
            events(&log),
            [(Closed, Open), (Open, HalfOpen), (HalfOpen, Open)],
            "round {round}"
        );
        assert_eq!(b.stats().times_opened, 2);
        assert_eq!(b.stats().failures, 1 + u64::from(max));
    }
}

#[test]
fn racing_failures_open_it_exactly_once() {
    for round in 0..250 {
        let (_clock, b, log) = with_threshold(3);
        let barrier = Barrier::new(8);
        thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    barrier.wait();
                    for _ in 0..4 {
                        let _ = fail(&b);
                    }
                });
            }
        });
        assert_eq!(b.state(), Open, "round {round}");
        assert_eq!(events(&log), [(Closed, Open)], "round {round}");
        let s = b.stats();
        assert_eq!(s.times_opened, 1);
        assert_eq!(s.failures + s.rejected, 32);
        assert!(s.failures >= 3);
    }
}

#[test]
fn counts_are_exact_under_8_threads() {
    let (_clock, b, _log) = with_threshold(u32::MAX);
    thread::scope(|s| {
        for t in 0..8 {
            let b = &b;
            s.spawn(move || {
                for i in 0..10_000 {
                    let _ = if (i + t) % 3 == 0 {
                        fail(b)
                    } else {
                        succeed(b)
                    };
                }
            });
        }
    });
    let s = b.stats();
    assert_eq!(s.successes + s.failures, 80_000);
    let failures: u64 = (0..8u64)
        .map(|t| (0..10_000u64).filter(|i| (i + t) % 3 == 0).count() as u64)
        .sum();
    assert_eq!(s.failures, failures);
    assert_eq!(b.state(), Closed);
}

// ---------------------------------------------------------------------------
// Async

#[tokio::test]
async fn call_async_walks_every_state_inside_tokio() {
    let (clock, b, log) = with_threshold(2);
    for _ in 0..2 {
        let r = b
            .call_async(|| async {
                tokio::task::yield_now().await;
                Err::<(), _>("down")
            })
            .await;
        assert_eq!(r, Err(BreakerError::Inner("down")));
    }
    let r = b.call_async(|| async { Ok::<_, &str>(1) }).await;
    assert_eq!(r, Err(BreakerError::Open { retry_after: RESET }));
    clock.advance(RESET);
    let r = b
        .call_async(|| async {
            tokio::task::yield_now().await;
            Ok::<_, &str>(2)
        })
        .await;
    assert_eq!(r, Ok(2));
    assert_eq!(b.state(), Closed);
    assert_eq!(
        events(&log),
        [(Closed, Open), (Open, HalfOpen), (HalfOpen, Closed)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn call_async_from_many_tasks() {
    let b = CircuitBreaker::builder()
        .failure_threshold(u32::MAX)
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|t| {
            let b = b.clone();
            tokio::spawn(async move {
                for i in 0..100 {
                    let fails = (i + t) % 4 == 0;
                    let _ = b
                        .call_async(|| async move {
                            tokio::task::yield_now().await;
                            if fails {
                                Err("down")
                            } else {
                                Ok(())
                            }
                        })
                        .await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let s = b.stats();
    assert_eq!((s.successes, s.failures), (4800, 1600));
}

#[tokio::test]
async fn a_dropped_probe_future_hands_its_slot_back() {
    let (clock, b, _log) = with_threshold(1);
    let _ = fail(&b);
    clock.advance(RESET);
    {
        let mut probe = pin!(b.call_async(std::future::pending::<Result<(), &str>>));
        assert!(poll_once(probe.as_mut()).is_pending()); // admitted, in flight
        assert_eq!(succeed(&b), shed(Duration::ZERO));
    } // dropped: no outcome
    assert_eq!(b.state(), HalfOpen);
    let r = b.call_async(|| async { Ok::<_, &str>(()) }).await;
    assert_eq!(r, Ok(()));
    assert_eq!(b.state(), Closed);
    assert_eq!(b.stats().successes, 1);
}

#[tokio::test]
async fn call_async_with_uses_the_predicate() {
    let (_clock, b, _log) = with_threshold(1);
    let r = b
        .call_async_with(|| async { Err::<(), u16>(404) }, |s| *s >= 500)
        .await;
    assert_eq!(r, Err(BreakerError::Inner(404)));
    assert_eq!(b.state(), Closed);
    let _ = b
        .call_async_with(|| async { Err::<(), u16>(502) }, |s| *s >= 500)
        .await;
    assert_eq!(b.state(), Open);
}

// ---------------------------------------------------------------------------
// Property: the breaker matches a plain sequential model

#[derive(Debug, Clone)]
enum Op {
    Succeed,
    Fail,
    /// An error the predicate does not count.
    Ignored,
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Succeed),
        3 => Just(Op::Fail),
        1 => Just(Op::Ignored),
        2 => (0u64..90).prop_map(Op::Advance),
    ]
}

#[derive(Debug, Clone)]
struct Config {
    threshold: Option<u32>,
    /// `(failures, window)`: open at `failures` of the last `window`.
    rate: Option<(u32, u32)>,
    reset: u64,
    probes: u32,
}

fn config() -> impl Strategy<Value = Config> {
    (
        prop::option::of(1u32..6),
        prop::option::of((1u32..8).prop_flat_map(|w| (1..=w, Just(w)))),
        1u64..60,
        1u32..4,
    )
        .prop_map(|(threshold, rate, reset, probes)| Config {
            threshold: if threshold.is_none() && rate.is_none() {
                Some(5)
            } else {
                threshold
            },
            rate,
            reset,
            probes,
        })
}

/// The clock's end, in nanoseconds: where a `ManualClock` stops.
const END: u128 = u64::MAX as u128;

/// The breaker as the docs describe it, one call at a time, in nanoseconds.
struct Model {
    cfg: Config,
    state: BreakerState,
    failures: u32,
    window: VecDeque<bool>,
    /// `None`: open for good, as `now + reset` reached the clock's end.
    open_until: Option<u128>,
    probes_ok: u32,
    log: Vec<(BreakerState, BreakerState)>,
    stats: (u64, u64, u64, u64),
}

impl Model {
    fn new(cfg: &Config) -> Self {
        Model {
            cfg: cfg.clone(),
            state: Closed,
            failures: 0,
            window: VecDeque::new(),
            open_until: Some(0),
            probes_ok: 0,
            log: Vec::new(),
            stats: (0, 0, 0, 0),
        }
    }

    fn go(&mut self, to: BreakerState, now: u128) {
        self.log.push((self.state, to));
        self.state = to;
        match to {
            Open => {
                let until = now + u128::from(self.cfg.reset) * 1_000_000_000;
                self.open_until = (until < END).then_some(until);
                self.stats.3 += 1;
            }
            HalfOpen => self.probes_ok = 0,
            _ => {
                self.failures = 0;
                self.window.clear();
            }
        }
    }

    /// `Some(retry_after)` if shed.
    fn call(&mut self, now: u128, failed: bool) -> Option<Duration> {
        if self.state == Open {
            match self.open_until {
                None => {
                    self.stats.2 += 1;
                    return Some(Duration::MAX);
                }
                Some(until) if now < until => {
                    self.stats.2 += 1;
                    return Some(Duration::from_nanos((until - now) as u64));
                }
                Some(_) => self.go(HalfOpen, now),
            }
        }
        if failed {
            self.stats.1 += 1;
        } else {
            self.stats.0 += 1;
        }
        if self.state == HalfOpen {
            if failed {
                self.go(Open, now);
            } else {
                self.probes_ok += 1;
                if self.probes_ok == self.cfg.probes {
                    self.go(Closed, now);
                }
            }
            return None;
        }
        self.failures = if failed { self.failures + 1 } else { 0 };
        if self.cfg.threshold.is_some_and(|t| self.failures >= t) {
            self.go(Open, now);
            return None;
        }
        if let Some((k, w)) = self.cfg.rate {
            self.window.push_back(failed);
            if self.window.len() > w as usize {
                self.window.pop_front();
            }
            let fails = self.window.iter().filter(|f| **f).count() as u32;
            if self.window.len() == w as usize && fails >= k {
                self.go(Open, now);
            }
        }
        None
    }
}

/// Runs `ops` on a breaker built from `cfg` and on the model, on a manual
/// clock that starts `before_end` short of its end (or at zero).
fn check_against_model(
    cfg: &Config,
    ops: &[Op],
    before_end: Option<Duration>,
) -> Result<(), TestCaseError> {
    let clock = ManualClock::new();
    if let Some(before_end) = before_end {
        clock.advance(Duration::from_nanos(u64::MAX) - before_end);
    }
    let (builder, log) = builder(&clock);
    let mut builder = builder
        .reset_after(Duration::from_secs(cfg.reset))
        .half_open_max_calls(cfg.probes);
    if let Some(t) = cfg.threshold {
        builder = builder.failure_threshold(t);
    }
    if let Some((k, w)) = cfg.rate {
        builder = builder.failure_rate(f64::from(k) / f64::from(w), w);
    }
    let b = builder.build().unwrap();
    let mut model = Model::new(cfg);
    for op in ops {
        let (r, failed) = match op {
            Op::Advance(s) => {
                clock.advance(Duration::from_secs(*s));
                continue;
            }
            Op::Succeed => (b.call(|| Ok::<_, u8>(())), false),
            Op::Fail => (b.call(|| Err::<(), u8>(1)), true),
            Op::Ignored => (b.call_with(|| Err::<(), u8>(2), |e| *e != 2), false),
        };
        let want = model.call(clock.now().as_nanos(), failed);
        prop_assert_eq!(r.err().and_then(|e| e.retry_after()), want);
        prop_assert_eq!(b.state(), model.state);
    }
    prop_assert_eq!(events(&log), model.log);
    let s = b.stats();
    prop_assert_eq!(
        (s.successes, s.failures, s.rejected, s.times_opened),
        model.stats
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn matches_a_sequential_model(cfg in config(), ops in prop::collection::vec(op(), 1..120)) {
        check_against_model(&cfg, &ops, None)?;
    }

    /// Protocol rules 5 and 6 at the clock's end: an open breaker whose
    /// `reset_after` ends past it stays open, and is never let through.
    #[test]
    fn matches_the_model_near_the_clocks_end(
        cfg in config(),
        ops in prop::collection::vec(op(), 1..120),
        before_end in 0u64..300,
        nanos in 0u32..1_000_000_000,
    ) {
        let before_end = Duration::new(before_end, nanos);
        check_against_model(&cfg, &ops, Some(before_end))?;
    }
}
