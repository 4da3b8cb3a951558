//! Black-box tests of `RateLimiter`: exact schedules on the manual clock, a
//! property test against a plain token bucket, first-come-first-served order
//! of blocked callers, async use, and one real-clock throughput check.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use workwise::{
    AcquireError, Clock, LimitBuildError, ManualClock, RateLimiter, RealClock, RetryAfter,
    TryAcquireError,
};

const LONG: Duration = Duration::from_secs(60);
const SEC: Duration = Duration::from_secs(1);

/// Waits for `cond` (`workwise::testing::wait_for`) with a generous
/// deadline; fails the test with `what` when it passes.
fn wait_until(what: &str, cond: impl FnMut() -> bool) {
    if let Err(e) = workwise::testing::wait_for(cond, LONG) {
        panic!("timed out waiting for {what}: {e}");
    }
}

/// Moves the clock far ahead when dropped, so that a failing test does not
/// leave scoped threads asleep on the manual clock (and the test hung).
struct WakeAllOnDrop<'a>(&'a ManualClock);

impl Drop for WakeAllOnDrop<'_> {
    fn drop(&mut self) {
        self.0.advance(Duration::from_secs(1 << 30));
    }
}

/// Polls a future once with a waker that does nothing.
fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

fn manual(rate: u32, period: Duration, burst: u32) -> (ManualClock, RateLimiter<ManualClock>) {
    let clock = ManualClock::new();
    let limiter = RateLimiter::new(rate, period)
        .burst(burst)
        .clock(clock.clone())
        .build()
        .unwrap();
    (clock, limiter)
}

#[test]
fn public_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}
    send_sync::<RateLimiter>();
    send_sync::<RateLimiter<ManualClock>>();
    send_sync::<workwise::RateLimiterBuilder>();
    send_sync::<RetryAfter>();
    send_sync::<TryAcquireError>();
    send_sync::<LimitBuildError>();
    send_sync::<AcquireError>();
    let limiter = RateLimiter::per_second(1).build().unwrap();
    send(&limiter.acquire_async());
    send(&limiter.acquire_n_async(1));
}

#[test]
fn bad_configuration_is_a_clear_error() {
    let err = RateLimiter::per_second(0).build().unwrap_err();
    assert_eq!(err, LimitBuildError::ZeroRate);
    assert!(err.to_string().contains("per_second(10)"), "{err}");

    let err = RateLimiter::new(5, Duration::ZERO).build().unwrap_err();
    assert_eq!(err, LimitBuildError::ZeroPeriod);
    assert!(err.to_string().contains("Duration::from_secs(1)"), "{err}");

    let err = RateLimiter::per_minute(5).burst(0).build().unwrap_err();
    assert_eq!(err, LimitBuildError::ZeroBurst);
    assert!(err.to_string().contains(".burst(1)"), "{err}");

    let century = Duration::from_secs(200 * 365 * 24 * 3600);
    let err = RateLimiter::new(1, century).build().unwrap_err();
    assert_eq!(err, LimitBuildError::WindowTooLong);
    assert!(err.to_string().contains("shorter period"), "{err}");
    // The same period is fine when spread over enough permits.
    assert!(RateLimiter::new(1000, century).build().is_ok());
}

/// The message of `err`, checked to name `fix`; `err` must be a
/// `std::error::Error` that is `Clone + PartialEq`, so callers can box it,
/// keep it and compare it.
fn message_names_fix<E>(err: E, fix: &str) -> String
where
    E: std::error::Error + Clone + PartialEq + Send + Sync + 'static,
{
    assert!(err.clone() == err);
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(err);
    let msg = boxed.to_string();
    assert!(msg.contains(fix), "{msg:?} does not name the fix {fix:?}");
    msg
}

#[test]
fn build_error_zero_rate_says_to_pick_a_rate() {
    let err = RateLimiter::per_second(0).build().unwrap_err();
    assert_eq!(err, LimitBuildError::ZeroRate);
    message_names_fix(err, "RateLimiter::per_second(10)");
}

#[test]
fn build_error_zero_period_says_to_give_a_period() {
    let err = RateLimiter::new(3, Duration::ZERO).build().unwrap_err();
    assert_eq!(err, LimitBuildError::ZeroPeriod);
    message_names_fix(err, "a period such as Duration::from_secs(1)");
}

#[test]
fn build_error_zero_burst_says_to_use_burst_1() {
    let err = RateLimiter::per_second(3).burst(0).build().unwrap_err();
    assert_eq!(err, LimitBuildError::ZeroBurst);
    message_names_fix(err, "use .burst(1)");
}

#[test]
fn build_error_window_too_long_says_what_to_shorten() {
    let err = RateLimiter::per_minute(1)
        .burst(u32::MAX)
        .build()
        .unwrap_err();
    assert_eq!(err, LimitBuildError::WindowTooLong);
    message_names_fix(err, "a shorter period, a higher rate or a smaller burst");
}

#[test]
fn build_error_rate_too_fine_names_the_finest_rate_kept() {
    let err = RateLimiter::new(10, Duration::from_nanos(3))
        .build()
        .unwrap_err();
    assert!(matches!(
        err,
        LimitBuildError::RateTooFine { rate: 10, period } if period == Duration::from_nanos(3)
    ));
    message_names_fix(err, "ask for a rate of at most that");
}

#[test]
fn acquire_error_exceeds_burst_says_to_ask_for_less_or_raise_the_burst() {
    let (_clock, l) = manual(10, SEC, 3);
    let err = l.acquire_n(5).unwrap_err();
    assert_eq!(
        err,
        AcquireError::ExceedsBurst {
            requested: 5,
            burst: 3
        }
    );
    let msg = message_names_fix(err, "ask for at most 3 at a time");
    assert!(msg.contains("build the limiter with .burst(5)"), "{msg}");
}

#[test]
fn try_acquire_error_exceeds_burst_says_to_ask_for_less_or_raise_the_burst() {
    let (_clock, l) = manual(10, SEC, 3);
    let err = l.try_acquire_n(4).unwrap_err();
    assert_eq!(
        err,
        TryAcquireError::ExceedsBurst {
            requested: 4,
            burst: 3
        }
    );
    let msg = message_names_fix(err, "ask for at most 3 at a time");
    assert!(msg.contains("build the limiter with .burst(4)"), "{msg}");
}

#[test]
fn try_acquire_error_retry_after_says_when_and_how_to_wait() {
    let (_clock, l) = manual(10, SEC, 3);
    l.try_acquire_n(3).unwrap();
    let err = l.try_acquire_n(1).unwrap_err();
    assert_eq!(
        err,
        TryAcquireError::RetryAfter(RetryAfter(Duration::from_millis(100)))
    );
    let msg = message_names_fix(err, "try again then, or call acquire()");
    assert!(msg.contains("100ms"), "{msg}");
}

#[test]
fn retry_after_says_when_and_how_to_wait() {
    let (_clock, l) = manual(10, SEC, 1);
    l.acquire_timeout(Duration::ZERO).unwrap();
    let err = l.acquire_timeout(Duration::from_millis(50)).unwrap_err();
    assert_eq!(err, RetryAfter(Duration::from_millis(100)));
    message_names_fix(err, "try again then, or call acquire()");
}

#[test]
fn retry_after_never_says_to_use_a_clock_nearer_zero() {
    message_names_fix(
        RetryAfter(Duration::MAX),
        "build the limiter on a clock that starts nearer zero",
    );
}

#[test]
fn the_interval_is_the_period_over_the_rate_rounded_up() {
    let l = RateLimiter::per_second(3).build().unwrap();
    assert_eq!(l.interval(), Duration::from_nanos(333_333_334));
    let l = RateLimiter::per_minute(120).build().unwrap();
    assert_eq!(l.interval(), Duration::from_millis(500));
    // Rounding up to whole nanoseconds costs less than 1% of the rate here.
    let l = RateLimiter::per_minute(u32::MAX).build().unwrap();
    assert_eq!(l.interval(), Duration::from_nanos(14));
    let l = RateLimiter::per_second(1_000_000_000).build().unwrap();
    assert_eq!(l.interval(), Duration::from_nanos(1));
}

#[test]
fn a_rate_finer_than_the_limiter_keeps_is_a_build_error() {
    // Each asks for permits closer together than whole nanoseconds can
    // space them: built, they would run 1.5 to 4 × 10^9 times too slowly.
    let finer = [
        (
            RateLimiter::new(u32::MAX, Duration::from_nanos(1)),
            u32::MAX,
            1,
        ),
        (RateLimiter::new(10, Duration::from_nanos(3)), 10, 3),
        (RateLimiter::new(2, Duration::from_nanos(3)), 2, 3),
        (RateLimiter::per_second(u32::MAX), u32::MAX, 1_000_000_000),
        (
            RateLimiter::per_second(600_000_000),
            600_000_000,
            1_000_000_000,
        ),
        (RateLimiter::new(50, Duration::from_nanos(120)), 50, 120),
    ];
    for (builder, rate, nanos) in finer {
        for b in [builder.clone(), builder.burst(1000)] {
            let err = b.clock(ManualClock::new()).build().unwrap_err();
            assert_eq!(
                err,
                LimitBuildError::RateTooFine {
                    rate,
                    period: Duration::from_nanos(nanos)
                }
            );
            let msg = err.to_string();
            assert!(msg.contains("one permit per nanosecond"), "{msg}");
            assert!(msg.contains("10,000,000 a second"), "{msg}");
        }
    }
    // Just inside the 1% that rounding up may cost: 101 per 100 µs, an
    // interval of 990.09… ns kept as 991 ns.
    let l = RateLimiter::new(101, Duration::from_micros(100))
        .build()
        .unwrap();
    assert_eq!(l.interval(), Duration::from_nanos(991));
    // One per nanosecond exactly, and one per 100 ns, are kept exactly.
    assert!(RateLimiter::new(7, Duration::from_nanos(7)).build().is_ok());
    assert!(RateLimiter::per_second(10_000_000).build().is_ok());
}

/// A limiter on a manual clock that is `before_end` short of its end: the
/// last nanosecond a `u64` holds (about 584 years), where
/// `ManualClock::advance` saturates.
fn near_the_end(
    rate: u32,
    period: Duration,
    burst: u32,
    before_end: Duration,
) -> (ManualClock, RateLimiter<ManualClock>) {
    let (clock, l) = manual(rate, period, burst);
    clock.advance(Duration::from_nanos(u64::MAX) - before_end);
    (clock, l)
}

#[test]
fn at_the_clocks_end_the_limiter_grants_nothing() {
    let (_clock, l) = near_the_end(1, SEC, 1, Duration::ZERO);
    let granted = (0..1000).filter(|_| l.try_acquire().is_ok()).count();
    assert_eq!(granted, 0);
    assert_eq!(l.try_acquire(), Err(RetryAfter(Duration::MAX)));
    assert_eq!(
        l.try_acquire_n(1).unwrap_err().retry_after(),
        Some(Duration::MAX)
    );
    assert_eq!(
        l.acquire_timeout(Duration::MAX),
        Err(RetryAfter(Duration::MAX))
    );
    assert_eq!(l.acquire_timeout(LONG), Err(RetryAfter(Duration::MAX)));
    // acquire waits for a time that never comes.
    assert!(poll_once(pin!(l.acquire_async())).is_pending());
    assert!(poll_once(pin!(l.acquire_n_async(1))).is_pending());
    assert!(RetryAfter(Duration::MAX).to_string().contains("never"));
}

#[test]
fn just_before_the_clocks_end_the_limiter_keeps_its_rate() {
    let (clock, l) = near_the_end(1, SEC, 2, Duration::from_millis(5500));
    // The burst of 2, then one a second while whole intervals still fit.
    assert_eq!(l.try_acquire_n(2), Ok(()));
    assert_eq!(l.try_acquire(), Err(RetryAfter(SEC)));
    clock.advance(SEC);
    assert_eq!(l.try_acquire(), Ok(()));
    assert_eq!(l.try_acquire(), Err(RetryAfter(SEC)));
    // Reserved, then forfeited: the slot 3.5 s before the end is gone.
    assert!(poll_once(pin!(l.acquire_async())).is_pending());
    assert_eq!(l.try_acquire(), Err(RetryAfter(2 * SEC)));
    clock.advance(2 * SEC);
    assert_eq!(l.try_acquire(), Ok(()));
    // Half a second to the end: the next permit's interval would end past it.
    assert_eq!(l.try_acquire(), Err(RetryAfter(Duration::MAX)));
    clock.advance(SEC);
    assert_eq!(l.try_acquire(), Err(RetryAfter(Duration::MAX)));
    clock.advance(LONG);
    assert_eq!(l.try_acquire(), Err(RetryAfter(Duration::MAX)));
}

#[test]
fn a_blocked_acquire_at_the_clocks_end_never_returns() {
    let (clock, l) = near_the_end(1, SEC, 1, Duration::ZERO);
    let (tx, rx) = mpsc::channel();
    let l = Arc::new(l);
    let waiter = {
        let l = l.clone();
        thread::spawn(move || {
            l.acquire();
            tx.send(()).ok();
        })
    };
    // It parks on a time past the clock's end; moving the clock wakes it
    // to look again, and it sleeps on.
    for _ in 0..20 {
        clock.advance(LONG);
        assert!(
            rx.recv_timeout(Duration::from_millis(5)).is_err(),
            "granted at the clock's end"
        );
    }
    assert!(!waiter.is_finished());
    // The thread is left parked; the test process ends without it.
    drop(waiter);
}

#[test]
fn the_burst_goes_at_once_then_one_permit_per_interval() {
    let (clock, l) = manual(10, SEC, 4);
    for _ in 0..4 {
        assert_eq!(l.try_acquire(), Ok(()));
    }
    assert_eq!(l.try_acquire(), Err(RetryAfter(Duration::from_millis(100))));
    clock.advance(Duration::from_millis(40));
    assert_eq!(l.try_acquire(), Err(RetryAfter(Duration::from_millis(60))));
    clock.advance(Duration::from_millis(60));
    assert_eq!(l.try_acquire(), Ok(()));
    assert_eq!(l.try_acquire(), Err(RetryAfter(Duration::from_millis(100))));
    // Five intervals of quiet refill five permits, but only `burst` pile up.
    clock.advance(Duration::from_millis(500));
    let granted = (0..10).filter(|_| l.try_acquire().is_ok()).count();
    assert_eq!(granted, 4);
}

/// A real clock may step back (a TSC read on a core whose counter is behind):
/// the limiter must then only get stricter. Granted permits never pass
/// `burst + t / interval`, where `t` is the furthest time the clock has
/// shown, however it moves in between.
#[test]
fn a_clock_that_steps_back_never_grants_extra_permits() {
    let (clock, l) = manual(10, SEC, 5);
    let ms = Duration::from_millis;
    clock.advance(Duration::from_secs(10));
    assert_eq!((0..10).filter(|_| l.try_acquire().is_ok()).count(), 5);
    // Back 5 s: nothing more, and the wait grows by the step.
    clock.rewind(Duration::from_secs(5));
    assert_eq!(l.try_acquire(), Err(RetryAfter(ms(5_100))));
    assert!(l.try_acquire_n(1).is_err());
    assert_eq!(l.acquire_timeout(ms(1_000)), Err(RetryAfter(ms(5_100))));
    // Forward to where it was: no time has passed beyond what was seen.
    clock.advance(Duration::from_secs(5));
    assert_eq!(l.try_acquire(), Err(RetryAfter(ms(100))));
    clock.advance(ms(100));
    assert_eq!((0..10).filter(|_| l.try_acquire().is_ok()).count(), 1);

    // A sawtooth that goes back and forth without passing its furthest time
    // grants nothing, whatever the size of the steps.
    for step in [1, 50, 99, 100, 101, 499, 500, 501, 5_000] {
        for _ in 0..20 {
            clock.rewind(ms(step));
            assert!(
                l.try_acquire().is_err(),
                "granted after a {step} ms step back"
            );
            clock.advance(ms(step));
            assert!(
                l.try_acquire().is_err(),
                "granted after a {step} ms step back and forth"
            );
        }
    }

    // With slots reserved by waiting callers (the TAT further ahead than
    // a burst), a step back must not hand those slots out again.
    clock.advance(Duration::from_secs(1));
    let mut waiters: Vec<_> = (0..20).map(|_| Box::pin(l.acquire_async())).collect();
    let ready = waiters
        .iter_mut()
        .map(|w| poll_once(w.as_mut()))
        .filter(Poll::is_ready)
        .count();
    assert_eq!(ready, 5, "the refilled burst goes at once, the rest wait");
    for step in [
        ms(100),
        ms(600),
        Duration::from_secs(3),
        Duration::from_secs(11), // back to 0.1 s: `rewind` stops at zero
    ] {
        clock.rewind(step);
        assert!(
            l.try_acquire().is_err(),
            "granted after a {step:?} step back"
        );
        clock.advance(step);
    }
    // The last waiter's slot is 1.5 s away, the next free one an interval
    // after it: the steps changed nothing.
    assert_eq!(l.try_acquire(), Err(RetryAfter(ms(1_600))));
    drop(waiters);
}

#[test]
fn the_default_burst_is_one() {
    let default = RateLimiter::per_second(2)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    assert_eq!(default.burst(), 1);
    assert_eq!(default.try_acquire(), Ok(()));
    assert_eq!(
        default.try_acquire(),
        Err(RetryAfter(Duration::from_millis(500)))
    );
}

#[test]
fn try_acquire_n_takes_all_or_nothing() {
    let (clock, l) = manual(10, SEC, 5);
    assert_eq!(l.try_acquire_n(0), Ok(()));
    assert_eq!(l.try_acquire_n(3), Ok(()));
    let err = l.try_acquire_n(3).unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_millis(100)));
    assert_eq!(l.try_acquire_n(2), Ok(()));
    assert_eq!(
        l.try_acquire_n(5).unwrap_err(),
        TryAcquireError::RetryAfter(RetryAfter(Duration::from_millis(500)))
    );
    let never = l.try_acquire_n(6).unwrap_err();
    assert_eq!(
        never,
        TryAcquireError::ExceedsBurst {
            requested: 6,
            burst: 5
        }
    );
    assert!(never.to_string().contains(".burst(6)"), "{never}");
    clock.advance(Duration::from_millis(500));
    assert_eq!(l.try_acquire_n(5), Ok(()));
}

#[test]
fn acquire_n_larger_than_the_burst_is_an_error_not_a_hang() {
    // On a manual clock that never moves, a wait would hang this test.
    let (_clock, l) = manual(10, SEC, 3);
    assert_eq!(
        l.acquire_n(4),
        Err(AcquireError::ExceedsBurst {
            requested: 4,
            burst: 3
        })
    );
    assert_eq!(l.acquire_n(0), Ok(()));
    assert_eq!(l.acquire_n(3), Ok(()));
    // The refused request reserved nothing: the next permit is one interval away.
    assert_eq!(l.try_acquire(), Err(RetryAfter(Duration::from_millis(100))));
}

#[test]
fn acquire_timeout_waits_only_when_the_turn_comes_in_time() {
    let (clock, l) = manual(1, SEC, 1);
    assert_eq!(l.acquire_timeout(Duration::ZERO), Ok(()));
    // A second is needed; half a second is too short, and nothing is reserved.
    assert_eq!(
        l.acquire_timeout(Duration::from_millis(500)),
        Err(RetryAfter(SEC))
    );
    assert_eq!(l.try_acquire(), Err(RetryAfter(SEC)));
    thread::scope(|s| {
        let _wake = WakeAllOnDrop(&clock);
        let waiter = s.spawn(|| l.acquire_timeout(2 * SEC));
        // Reserved: the next free slot moved one interval further.
        wait_until("the waiter to reserve", || {
            l.try_acquire() == Err(RetryAfter(2 * SEC))
        });
        clock.advance(SEC);
        assert_eq!(waiter.join().unwrap(), Ok(()));
    });
}

#[test]
fn try_acquire_never_jumps_ahead_of_a_waiting_caller() {
    let (clock, l) = manual(10, SEC, 1);
    l.try_acquire().unwrap();
    thread::scope(|s| {
        let _wake = WakeAllOnDrop(&clock);
        let waiter = s.spawn(|| {
            l.acquire();
            l.clock().now()
        });
        wait_until("the waiter to reserve", || {
            l.try_acquire() == Err(RetryAfter(Duration::from_millis(200)))
        });
        clock.advance(Duration::from_millis(100));
        // The permit of t = 100 ms is the waiter's, not ours.
        assert_eq!(waiter.join().unwrap(), Duration::from_millis(100));
        assert_eq!(l.try_acquire(), Err(RetryAfter(Duration::from_millis(100))));
    });
}

#[test]
fn blocked_callers_are_served_in_arrival_order() {
    const N: u32 = 8;
    let (clock, l) = manual(1, SEC, 1);
    l.try_acquire().unwrap(); // the permit of t = 0 is gone
    let (tx, rx) = mpsc::channel();
    thread::scope(|s| {
        let _wake = WakeAllOnDrop(&clock);
        for k in 1..=N {
            let (l, tx) = (&l, tx.clone());
            s.spawn(move || {
                l.acquire();
                tx.send((k, l.clock().now())).unwrap();
            });
            // Caller k has reserved the slot at k seconds when the next free
            // permit is k + 1 seconds away; only then does k + 1 start.
            wait_until(&format!("caller {k} to reserve"), || {
                l.try_acquire() == Err(RetryAfter((k + 1) * SEC))
            });
        }
        for k in 1..=N {
            assert!(rx.try_recv().is_err(), "a caller returned early");
            clock.advance(SEC);
            let (who, at) = rx.recv_timeout(LONG).unwrap();
            assert_eq!((who, at), (k, k * SEC), "served out of order");
        }
    });
}

#[test]
fn a_dropped_async_acquire_forfeits_its_slot() {
    let (clock, l) = manual(10, SEC, 1);
    assert!(poll_once(pin!(l.acquire_async())).is_ready());
    {
        // Polled once: it reserved the slot at 100 ms, then it is dropped.
        let mut fut = pin!(l.acquire_async());
        assert!(poll_once(fut.as_mut()).is_pending());
    }
    // The forfeited slot is not handed to anyone else: the rate holds.
    assert_eq!(l.try_acquire(), Err(RetryAfter(Duration::from_millis(200))));
    // A future never polled reserves nothing.
    drop(l.acquire_async());
    clock.advance(Duration::from_millis(200));
    assert_eq!(l.try_acquire(), Ok(()));
}

#[test]
fn async_acquire_wakes_when_the_manual_clock_moves() {
    let (clock, l) = manual(10, SEC, 2);
    let l = Arc::new(l);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (l, done) = (l.clone(), done.clone());
            rt.spawn(async move {
                l.acquire_async().await;
                done.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    // The burst of 2 goes at once; the other two reserved 100 and 200 ms.
    wait_until("the burst to be granted", || {
        done.load(Ordering::SeqCst) == 2
            && l.try_acquire() == Err(RetryAfter(Duration::from_millis(300)))
    });
    clock.advance(Duration::from_millis(100));
    wait_until("the third permit", || done.load(Ordering::SeqCst) == 3);
    clock.advance(Duration::from_millis(100));
    wait_until("the fourth permit", || done.load(Ordering::SeqCst) == 4);
    rt.block_on(async {
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert_eq!(
        rt.block_on(l.acquire_n_async(3)),
        Err(AcquireError::ExceedsBurst {
            requested: 3,
            burst: 2
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn async_acquire_works_inside_tokio() {
    let start = Instant::now();
    let l = Arc::new(RateLimiter::per_second(200).burst(2).build().unwrap());
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let l = l.clone();
            tokio::spawn(async move {
                for _ in 0..3 {
                    l.acquire_async().await;
                }
                l.acquire_n_async(2).await.unwrap();
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    // 20 permits, 2 at once and then one every 5 ms: the last at 90 ms.
    assert!(
        start.elapsed() >= Duration::from_millis(90),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn real_clock_8_threads_get_the_rate() {
    const RATE: u32 = 500;
    const BURST: u32 = 10;
    const WINDOW: Duration = Duration::from_secs(2);
    let clock = RealClock::new();
    let l = RateLimiter::per_second(RATE)
        .burst(BURST)
        .clock(clock)
        .build()
        .unwrap();
    let granted = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| loop {
                l.acquire();
                if clock.now() >= WINDOW {
                    break;
                }
                granted.fetch_add(1, Ordering::Relaxed);
            });
        }
    });
    // The contract is the upper bound: never more than the rate allows in
    // the window. Fewer is the machine: a grant is counted only if its
    // thread reads the clock before the window ends, and on a loaded
    // machine a thread woken for a permit late in the window may read it
    // after (this test once failed at -2% under a load of 10 on 2 cores).
    // So the lower bound only says the limiter kept granting.
    let expected = (RATE * 2 + BURST) as f64;
    let got = granted.load(Ordering::Relaxed) as f64;
    assert!(
        got <= expected * 1.02,
        "granted {got} in {WINDOW:?}, more than the {expected} (+2%) the rate allows"
    );
    assert!(
        got >= expected * 0.5,
        "granted {got} in {WINDOW:?}, under half the {expected} the rate allows"
    );
}

/// The obviously-correct reference: a token bucket whose credit is counted
/// in nanoseconds (a permit costs one interval), refilled by elapsed time up
/// to `burst` permits' worth. A reservation (a blocking acquire) takes its
/// permits on credit, which may go negative.
struct Bucket {
    credit: i128,
    cap: i128,
    interval: i128,
    last: i128,
}

impl Bucket {
    fn refill(&mut self, now: i128) {
        self.credit = (self.credit + (now - self.last)).min(self.cap);
        self.last = now;
    }

    /// `Ok` if granted at once, else the wait. Zero permits are always free,
    /// even while reservations have taken the credit below zero.
    fn try_take(&mut self, now: i128, n: u32) -> Result<(), i128> {
        self.refill(now);
        if n == 0 {
            return Ok(());
        }
        let cost = i128::from(n) * self.interval;
        if self.credit >= cost {
            self.credit -= cost;
            Ok(())
        } else {
            Err(cost - self.credit)
        }
    }

    /// Reserves unconditionally; returns the wait until the slot.
    fn reserve(&mut self, now: i128, n: u32) -> i128 {
        self.refill(now);
        let cost = i128::from(n) * self.interval;
        self.credit -= cost;
        (-self.credit).max(0)
    }
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Try,
    TryN(u32),
    /// An async acquire polled once and dropped: reserves, forfeits.
    Reserve(u32),
}

/// One arrival, drawn as plain numbers (cheap for proptest to generate and
/// shrink) and decoded against the limiter's burst and interval.
type RawStep = (u8, u32, u8, u64);

fn decode((kind, n, gap_kind, gap): RawStep, burst: u32, interval: u64) -> (u64, Op) {
    // Gaps from nothing (simultaneous calls) to a few intervals.
    let gap = match gap_kind {
        0 => 0,
        1 => gap % (interval * 3 + 1),
        _ => gap % (interval / 4 + 1),
    };
    let op = match kind {
        0..=2 => Op::Try,
        3..=5 => Op::TryN(n % (burst + 2)), // up to burst + 1: never
        _ => Op::Reserve(1 + n % burst),
    };
    (gap, op)
}

fn trace() -> impl Strategy<Value = (u32, u64, u32, Vec<RawStep>)> {
    (
        1u32..=50,
        1u64..=2_000,
        1u32..=8,
        prop::collection::vec((0u8..7, any::<u32>(), 0u8..3, any::<u64>()), 1..120),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn grants_exactly_what_a_token_bucket_grants((rate, period_ms, burst, raw) in trace()) {
        let (clock, l) = manual(rate, Duration::from_millis(period_ms), burst);
        let interval = l.interval().as_nanos() as i128;
        let ops: Vec<_> = raw.into_iter().map(|r| decode(r, burst, interval as u64)).collect();
        let mut model = Bucket { credit: interval * i128::from(burst), cap: interval * i128::from(burst), interval, last: 0 };
        // (time, permits) of every grant; reservations at their slot time.
        let mut grants: Vec<(i128, u32)> = Vec::new();
        for (step, &(gap, op)) in ops.iter().enumerate() {
            clock.advance(Duration::from_nanos(gap));
            let now = clock.now().as_nanos() as i128;
            match op {
                Op::Try => {
                    let want = model.try_take(now, 1).map_err(|w| RetryAfter(Duration::from_nanos(w as u64)));
                    prop_assert_eq!(l.try_acquire(), want, "step {} of {:?}", step, ops);
                    if want.is_ok() { grants.push((now, 1)); }
                }
                Op::TryN(n) => {
                    let got = l.try_acquire_n(n);
                    if n > burst {
                        prop_assert_eq!(got, Err(TryAcquireError::ExceedsBurst { requested: n, burst }), "step {} of {:?}", step, ops);
                        continue;
                    }
                    let want = model.try_take(now, n).map_err(|w| Duration::from_nanos(w as u64));
                    prop_assert_eq!(got.map_err(|e| e.retry_after()), want.map_err(Some), "step {} of {:?}", step, ops);
                    if want.is_ok() && n > 0 { grants.push((now, n)); }
                }
                Op::Reserve(n) => {
                    let wait = model.reserve(now, n);
                    let mut fut = pin!(l.acquire_n_async(n));
                    prop_assert_eq!(poll_once(fut.as_mut()).is_ready(), wait == 0, "step {} of {:?}", step, ops);
                    grants.push((now + wait, n));
                }
            }
        }
        // Never more than burst + elapsed / interval in any window [t_i, t_j]:
        // with P(k) the permits of grants before k, that is
        // P(j + 1) - P(i) <= burst + (t_j - t_i) / interval (the floor does not
        // matter for whole permits), i.e.
        // P(j + 1) * interval - t_j <= burst * interval + min over i <= j of (P(i) * interval - t_i).
        grants.sort_unstable();
        let (mut before, mut best) = (0i128, i128::MAX);
        for &(t, n) in &grants {
            best = best.min(before * interval - t);
            before += i128::from(n);
            prop_assert!(
                before * interval - t <= i128::from(burst) * interval + best,
                "too many permits by {} ns: {:?}", t, grants
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

    /// Protocol rule 6: up to the clock's last nanosecond, no window gets
    /// more than `burst + w / T` permits, every finite `RetryAfter` comes
    /// true, and once a whole interval no longer fits, nothing is granted.
    #[test]
    fn near_the_clocks_end_the_rate_holds(
        rate in 1u32..=50,
        period_ms in 1u64..=2_000,
        burst in 1u32..=8,
        intervals_left in 0u64..=20,
        fraction in 0u64..1_000,
        steps in prop::collection::vec((0u8..5, any::<u32>(), any::<u64>()), 1..80),
    ) {
        let period = Duration::from_millis(period_ms);
        let interval = RateLimiter::new(rate, period).build().unwrap().interval();
        let t = interval.as_nanos() as u64;
        let before_end = Duration::from_nanos(intervals_left * t + fraction * t / 1000);
        let (clock, l) = near_the_end(rate, period, burst, before_end);
        let end = u128::from(u64::MAX);
        let now = || clock.now().as_nanos();
        let mut grants: Vec<(u128, u32)> = Vec::new();
        for (step, &(kind, n, gap)) in steps.iter().enumerate() {
            let at = now();
            let n = 1 + n % burst;
            let refused = match kind {
                0 => {
                    clock.advance(Duration::from_nanos(gap % (3 * t + 1)));
                    continue;
                }
                1 => l.try_acquire().map(|()| 1),
                2 => l.try_acquire_n(n).map(|()| n).map_err(|e| RetryAfter(e.retry_after().unwrap())),
                3 => {
                    // Reserved and dropped: the slot is forfeited.
                    let ready = poll_once(pin!(l.acquire_n_async(n))).is_ready();
                    if ready {
                        grants.push((at, n));
                    }
                    continue;
                }
                _ => match l.try_acquire() {
                    Ok(()) => Ok(1),
                    // Follow a finite hint: at that time the permit is there.
                    Err(RetryAfter(d)) if d != Duration::MAX => {
                        clock.advance(d);
                        prop_assert_eq!(l.try_acquire(), Ok(()), "step {}: the hint {:?} was wrong", step, d);
                        grants.push((now(), 1));
                        continue;
                    }
                    Err(e) => Err(e),
                },
            };
            match refused {
                Ok(k) => {
                    prop_assert!(at + u128::from(t) <= end, "step {}: granted within an interval of the end", step);
                    grants.push((at, k));
                }
                Err(RetryAfter(d)) => {
                    prop_assert!(d == Duration::MAX || at + d.as_nanos() <= end, "step {}: a wait past the end", step);
                    if at + u128::from(t) > end {
                        prop_assert_eq!(d, Duration::MAX, "step {}", step);
                    }
                }
            }
        }
        // As in the token-bucket property: P(j + 1) · T − t_j ≤ burst · T +
        // min over i ≤ j of (P(i) · T − t_i).
        grants.sort_unstable();
        let (t, mut before, mut best) = (i128::from(t), 0i128, i128::MAX);
        let start = grants.first().map_or(0, |g| g.0);
        for &(at, k) in &grants {
            let at = (at - start) as i128;
            best = best.min(before * t - at);
            before += i128::from(k);
            prop_assert!(before * t - at <= i128::from(burst) * t + best, "too many permits: {:?}", grants);
        }
    }
}
