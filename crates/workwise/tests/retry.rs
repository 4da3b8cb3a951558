//! Black-box tests of `Retry`: the delay schedule, jitter bounds, the limits
//! and their reasons, `retry_if`, the `retry_after` hint, configuration
//! errors, and `call` / `call_async` timing on the manual clock.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};
use std::thread;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use workwise::{
    Clock, GaveUp, ManualClock, Retry, RetryBuildError, RetryBuilder, RetryError, Sleep,
};

const LONG: Duration = Duration::from_secs(60);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A `ManualClock` that records every sleep as `(now, deadline)`.
///
/// A `manual` one leaves the time to the test; an `auto` one jumps the time
/// to each sleep's deadline itself, so that a whole retry run happens at
/// once, on one thread, with every wait on record.
#[derive(Debug, Clone)]
struct TestClock {
    clock: ManualClock,
    auto: bool,
    sleeps: Arc<Mutex<Vec<(Duration, Duration)>>>,
}

impl TestClock {
    fn manual() -> Self {
        TestClock {
            clock: ManualClock::new(),
            auto: false,
            sleeps: Arc::default(),
        }
    }

    fn auto() -> Self {
        TestClock {
            auto: true,
            ..Self::manual()
        }
    }

    fn advance(&self, d: Duration) {
        self.clock.advance(d);
    }

    fn advance_to(&self, at: Duration) {
        self.clock.advance(at.saturating_sub(self.clock.now()));
    }

    fn sleeps(&self) -> usize {
        self.sleeps.lock().unwrap().len()
    }

    fn deadlines(&self) -> Vec<Duration> {
        self.sleeps.lock().unwrap().iter().map(|s| s.1).collect()
    }

    /// How long each sleep was asked to last.
    fn waits(&self) -> Vec<Duration> {
        self.sleeps
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.1 - s.0)
            .collect()
    }

    fn record(&self, at: Duration) {
        self.sleeps.lock().unwrap().push((self.clock.now(), at));
        if self.auto {
            self.advance_to(at);
        }
    }
}

impl Clock for TestClock {
    fn now(&self) -> Duration {
        self.clock.now()
    }

    fn sleep_until(&self, at: Duration) {
        self.record(at);
        self.clock.sleep_until(at);
    }

    fn sleep_until_async(&self, at: Duration) -> Sleep {
        self.record(at);
        self.clock.sleep_until_async(at)
    }
}

/// Polls `cond` until it holds, failing the test after a generous deadline.
fn wait_until(what: &str, cond: impl FnMut() -> bool) {
    if let Err(e) = workwise::testing::wait_for(cond, LONG) {
        panic!("timed out waiting for {what}: {e}");
    }
}

async fn wait_until_async(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + LONG;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(ms(1)).await;
    }
}

fn delays_ms<E, C: Clock>(retry: &Retry<E, C>) -> Vec<u128> {
    retry.delays().map(|d| d.as_millis()).collect()
}

/// Runs `retry` on an auto clock over `errors` (then success) and returns
/// the result with the waits it slept.
fn run_auto<E: Clone + Send + 'static>(
    builder: RetryBuilder<E>,
    errors: Vec<E>,
) -> (Result<usize, RetryError<E>>, Vec<Duration>) {
    let clock = TestClock::auto();
    let retry = builder.clock(clock.clone()).build().unwrap();
    let mut n = 0;
    let r = retry.call(|| {
        n += 1;
        errors.get(n - 1).cloned().map_or(Ok(n), Err)
    });
    (r, clock.waits())
}

// --- the schedule ----------------------------------------------------------

#[test]
fn exponential_delays_double_up_to_the_cap() {
    let retry = Retry::<()>::exponential(ms(100))
        .max_attempts(8)
        .max_delay(secs(1))
        .build()
        .unwrap();
    assert_eq!(delays_ms(&retry), [100, 200, 400, 800, 1000, 1000, 1000]);
}

#[test]
fn the_default_cap_is_30_seconds_and_the_default_attempts_3() {
    let retry = Retry::<()>::exponential(secs(1))
        .max_attempts(10)
        .build()
        .unwrap();
    let s: Vec<u64> = retry.delays().map(|d| d.as_secs()).collect();
    assert_eq!(s, [1, 2, 4, 8, 16, 30, 30, 30, 30]);
    let retry = Retry::<()>::exponential(secs(1)).build().unwrap();
    assert_eq!(retry.delays().len(), 2);
    // A base delay longer than the default cap is not cut down to it.
    let retry = Retry::<()>::exponential(secs(60)).build().unwrap();
    assert_eq!(retry.delays().collect::<Vec<_>>(), [secs(60), secs(60)]);
}

#[test]
fn fixed_delays_stay_the_same() {
    let retry = Retry::<()>::fixed(ms(250)).max_attempts(5).build().unwrap();
    assert_eq!(delays_ms(&retry), [250, 250, 250, 250]);
}

#[test]
fn there_is_one_delay_fewer_than_attempts() {
    for n in [1, 2, 7] {
        let retry = Retry::<()>::exponential(ms(1))
            .max_attempts(n)
            .build()
            .unwrap();
        assert_eq!(retry.delays().len(), n - 1);
        assert_eq!(retry.delays().count(), n - 1);
    }
}

#[test]
fn huge_delays_saturate_instead_of_overflowing() {
    let retry = Retry::<()>::exponential(Duration::MAX / 4)
        .max_delay(Duration::MAX)
        .max_attempts(6)
        .build()
        .unwrap();
    let d: Vec<Duration> = retry.delays().collect();
    assert_eq!(d[..2], [Duration::MAX / 4, Duration::MAX / 4 * 2]);
    assert_eq!(d[2], Duration::MAX / 4 * 4);
    assert!(d[3..].iter().all(|&x| x == Duration::MAX));
    // Jitter over such a delay stays in range too.
    let retry = Retry::<()>::exponential(Duration::MAX)
        .jitter()
        .seed(1)
        .build()
        .unwrap();
    assert_eq!(retry.delays().count(), 2);
}

// --- jitter ------------------------------------------------------------------

proptest! {
    #[test]
    fn jittered_delays_stay_within_their_capped_delay(
        seed in any::<u64>(),
        base_ms in 1u64..2_000,
        cap_factor in 1u64..50,
        attempts in 1usize..20,
        exponential in any::<bool>(),
    ) {
        let start = |b: Duration| if exponential { Retry::<()>::exponential(b) } else { Retry::fixed(b) };
        let cap = ms(base_ms * cap_factor);
        let plain = start(ms(base_ms)).max_attempts(attempts).max_delay(cap).build().unwrap();
        let jittered = start(ms(base_ms))
            .max_attempts(attempts)
            .max_delay(cap)
            .jitter()
            .seed(seed)
            .build()
            .unwrap();
        prop_assert_eq!(jittered.delays().len(), plain.delays().len());
        for (j, d) in jittered.delays().zip(plain.delays()) {
            prop_assert!(j <= d, "jittered {j:?} above its delay {d:?}");
            prop_assert!(d <= cap);
        }
        // A seed makes it reproducible.
        prop_assert!(jittered.delays().eq(jittered.delays()));
    }
}

#[test]
fn jitter_spreads_delays_over_the_whole_range() {
    let base = secs(1);
    let fractions: Vec<f64> = (0..4000u64)
        .map(|seed| {
            let retry = Retry::<()>::fixed(base)
                .jitter()
                .seed(seed)
                .build()
                .unwrap();
            retry.delays().next().unwrap().as_secs_f64() / base.as_secs_f64()
        })
        .collect();
    let mean = fractions.iter().sum::<f64>() / fractions.len() as f64;
    assert!((0.45..0.55).contains(&mean), "mean {mean}");
    let below = |x: f64| fractions.iter().filter(|&&f| f < x).count();
    assert!(below(0.05) > 100, "few short delays: {}", below(0.05));
    assert!(
        below(0.95) < 3900,
        "few long delays: {}",
        4000 - below(0.95)
    );
}

#[test]
fn different_seeds_give_different_delays() {
    let delays = |seed| {
        Retry::<()>::exponential(secs(1))
            .max_attempts(6)
            .jitter()
            .seed(seed)
            .build()
            .unwrap()
            .delays()
            .collect::<Vec<_>>()
    };
    assert_eq!(delays(1), delays(1));
    assert_ne!(delays(1), delays(2));
    assert_ne!(delays(0), delays(u64::MAX));
}

#[test]
fn unseeded_calls_on_one_retry_do_not_jitter_in_lockstep() {
    let clock = TestClock::auto();
    let retry = Retry::exponential(secs(1))
        .max_attempts(8)
        .jitter()
        .clock(clock.clone())
        .build()
        .unwrap();
    let _ = retry.call(|| Err::<(), _>("down"));
    let first = clock.waits();
    clock.sleeps.lock().unwrap().clear();
    let _ = retry.call(|| Err::<(), _>("down"));
    assert_eq!(first.len(), 7);
    assert_ne!(first, clock.waits());
}

#[test]
fn a_seeded_call_waits_exactly_the_delays_it_reports() {
    let clock = TestClock::auto();
    let retry = Retry::exponential(ms(100))
        .max_attempts(6)
        .jitter()
        .seed(99)
        .clock(clock.clone())
        .build()
        .unwrap();
    let err = retry.call(|| Err::<(), _>("down")).unwrap_err();
    assert_eq!(clock.waits(), retry.delays().collect::<Vec<_>>());
    assert_eq!(err.elapsed, retry.delays().sum::<Duration>());
}

// --- call on the manual clock -------------------------------------------------

#[test]
fn attempts_happen_exactly_when_each_backoff_ends() {
    let clock = TestClock::manual();
    let retry = Retry::exponential(ms(100))
        .max_attempts(4)
        .clock(clock.clone())
        .build()
        .unwrap();
    let attempts = Arc::new(AtomicUsize::new(0));
    let times = Arc::new(Mutex::new(Vec::new()));
    let caller = {
        let (attempts, times, clock) = (attempts.clone(), times.clone(), clock.clone());
        thread::spawn(move || {
            retry.call(|| {
                times.lock().unwrap().push(clock.now());
                attempts.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>("connection refused")
            })
        })
    };
    for (i, at) in [ms(100), ms(300), ms(700)].into_iter().enumerate() {
        wait_until("the retry to sleep", || clock.sleeps() == i + 1);
        assert_eq!(clock.deadlines()[i], at);
        clock.advance_to(at - ms(1));
        // The clock is short of the deadline: the sleeper cannot have woken.
        assert_eq!(attempts.load(Ordering::SeqCst), i + 1);
        clock.advance(ms(1));
        wait_until("the next attempt", || {
            attempts.load(Ordering::SeqCst) == i + 2
        });
    }
    let err = caller.join().unwrap().unwrap_err();
    assert_eq!(*times.lock().unwrap(), [ms(0), ms(100), ms(300), ms(700)]);
    assert_eq!((err.reason, err.attempts), (GaveUp::Attempts, 4));
    assert_eq!(err.elapsed, ms(700));
    assert_eq!(err.last, "connection refused");
    assert_eq!(clock.sleeps(), 3, "no wait after the last attempt");
}

#[test]
fn a_success_returns_at_once_with_its_value() {
    let (r, waits) = run_auto(
        Retry::exponential(ms(100)).max_attempts(5),
        vec!["reset", "reset"],
    );
    assert_eq!(r, Ok(3));
    assert_eq!(waits, [ms(100), ms(200)]);
    let (r, waits) = run_auto(Retry::<&str>::exponential(ms(100)), vec![]);
    assert_eq!(r, Ok(1));
    assert!(waits.is_empty());
}

#[test]
fn max_attempts_one_means_no_retry() {
    let (r, waits) = run_auto(Retry::fixed(ms(10)).max_attempts(1), vec!["down"]);
    let err = r.unwrap_err();
    assert_eq!((err.reason, err.attempts), (GaveUp::Attempts, 1));
    assert!(waits.is_empty());
}

#[test]
fn max_elapsed_stops_before_a_wait_that_would_pass_it() {
    let clock = TestClock::auto();
    let retry = Retry::fixed(secs(1))
        .max_attempts(100)
        .max_elapsed(ms(3_500))
        .clock(clock.clone())
        .build()
        .unwrap();
    let err = retry.call(|| Err::<(), _>("busy")).unwrap_err();
    // Attempts at 0, 1, 2 and 3 s; a wait to 4 s would pass 3.5 s.
    assert_eq!((err.reason, err.attempts), (GaveUp::Elapsed, 4));
    assert_eq!(err.elapsed, secs(3));
    assert_eq!(clock.now(), secs(3), "it gave up without sleeping");
}

#[test]
fn a_wait_that_ends_exactly_at_the_budget_is_allowed() {
    let (r, waits) = run_auto(
        Retry::fixed(secs(1)).max_attempts(100).max_elapsed(secs(3)),
        vec!["busy"; 100],
    );
    let err = r.unwrap_err();
    assert_eq!((err.reason, err.attempts), (GaveUp::Elapsed, 4));
    assert_eq!(waits, [secs(1); 3]);
}

#[test]
fn max_elapsed_counts_the_time_spent_in_attempts() {
    let clock = TestClock::auto();
    let retry = Retry::fixed(secs(1))
        .max_attempts(100)
        .max_elapsed(secs(5))
        .clock(clock.clone())
        .build()
        .unwrap();
    let err = retry
        .call(|| {
            clock.advance(secs(2)); // a slow attempt
            Err::<(), _>("timed out")
        })
        .unwrap_err();
    // 0-2 s, wait to 3 s, 3-5 s; a wait to 6 s would pass 5 s.
    assert_eq!((err.reason, err.attempts), (GaveUp::Elapsed, 2));
    assert_eq!(err.elapsed, secs(5));
}

// --- retry_if ------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum ApiError {
    Unavailable,
    BadRequest,
    TooManyRequests(Duration),
}

fn api_retry() -> RetryBuilder<ApiError> {
    Retry::exponential(ms(100))
        .max_attempts(10)
        .retry_if(|e: &ApiError| *e != ApiError::BadRequest)
        .retry_after(|e: &ApiError| match e {
            ApiError::TooManyRequests(d) => Some(*d),
            _ => None,
        })
}

#[test]
fn a_non_retryable_error_stops_after_one_attempt() {
    let (r, waits) = run_auto(api_retry(), vec![ApiError::BadRequest]);
    let err = r.unwrap_err();
    assert_eq!((err.reason, err.attempts), (GaveUp::NotRetryable, 1));
    assert_eq!(err.last, ApiError::BadRequest);
    assert!(waits.is_empty());
}

#[test]
fn retryable_errors_are_retried_until_a_non_retryable_one() {
    use ApiError::*;
    let (r, waits) = run_auto(api_retry(), vec![Unavailable, Unavailable, BadRequest]);
    let err = r.unwrap_err();
    assert_eq!((err.reason, err.attempts), (GaveUp::NotRetryable, 3));
    assert_eq!(waits, [ms(100), ms(200)]);
}

#[test]
fn not_retryable_wins_over_attempts_on_the_last_attempt() {
    let (r, _) = run_auto(api_retry().max_attempts(1), vec![ApiError::BadRequest]);
    assert_eq!(r.unwrap_err().reason, GaveUp::NotRetryable);
}

// --- the retry_after hint ---------------------------------------------------------

#[test]
fn a_longer_hint_lengthens_the_wait() {
    use ApiError::*;
    let (r, waits) = run_auto(
        api_retry(),
        vec![TooManyRequests(secs(2)), Unavailable, Unavailable],
    );
    assert_eq!(r, Ok(4));
    // The hint does not move the schedule on: 100 ms was replaced by 2 s,
    // then the schedule goes on with 200 ms.
    assert_eq!(waits, [secs(2), ms(200), ms(400)]);
}

#[test]
fn a_shorter_hint_does_not_shorten_the_backoff() {
    let (r, waits) = run_auto(
        api_retry(),
        vec![ApiError::Unavailable, ApiError::TooManyRequests(ms(10))],
    );
    assert_eq!(r, Ok(3));
    assert_eq!(waits, [ms(100), ms(200)]);
}

#[test]
fn a_hint_is_not_capped_by_max_delay_but_counts_against_max_elapsed() {
    let (r, waits) = run_auto(
        api_retry().max_delay(ms(500)),
        vec![ApiError::TooManyRequests(secs(5))],
    );
    assert_eq!(r, Ok(2));
    assert_eq!(waits, [secs(5)]);

    let (r, waits) = run_auto(
        api_retry().max_elapsed(secs(4)),
        vec![ApiError::TooManyRequests(secs(5))],
    );
    let err = r.unwrap_err();
    assert_eq!((err.reason, err.attempts), (GaveUp::Elapsed, 1));
    assert!(waits.is_empty());
}

#[test]
fn a_hint_with_jitter_is_still_a_floor() {
    let clock = TestClock::auto();
    let retry = api_retry()
        .jitter()
        .seed(5)
        .clock(clock.clone())
        .build()
        .unwrap();
    let mut n = 0;
    let r = retry.call(|| {
        n += 1;
        if n < 4 {
            Err(ApiError::TooManyRequests(ms(150)))
        } else {
            Ok(n)
        }
    });
    assert_eq!(r, Ok(4));
    for (wait, delay) in clock.waits().into_iter().zip(retry.delays()) {
        assert_eq!(wait, delay.max(ms(150)));
    }
}

#[test]
fn an_absurd_hint_gives_up_at_once_instead_of_waiting_a_century() {
    // With a budget or without one, a hint of "never" ends the call now:
    // waiting ~100 years for it (the old contract) hung the caller.
    for budget in [Some(secs(1)), None] {
        let mut b = Retry::fixed(ms(1))
            .max_attempts(3)
            .retry_after(|_: &()| Some(Duration::MAX));
        if let Some(budget) = budget {
            b = b.max_elapsed(budget);
        }
        let err = b.build().unwrap().call(|| Err::<(), _>(())).unwrap_err();
        assert_eq!((err.reason, err.attempts), (GaveUp::Never, 1), "{budget:?}");
    }
}

// --- configuration errors -----------------------------------------------------------

#[test]
fn bad_configuration_is_a_clear_error() {
    let build = |b: RetryBuilder<()>| b.build().unwrap_err();
    let cases = [
        (
            build(Retry::exponential(Duration::ZERO)),
            RetryBuildError::ZeroDelay,
            "more than zero",
        ),
        (
            build(Retry::fixed(Duration::ZERO)),
            RetryBuildError::ZeroDelay,
            "50-100 ms",
        ),
        (
            build(Retry::exponential(ms(1)).max_attempts(0)),
            RetryBuildError::ZeroAttempts,
            "at least 1",
        ),
        (
            build(Retry::exponential(ms(1)).max_elapsed(Duration::ZERO)),
            RetryBuildError::ZeroMaxElapsed,
            "max_attempts(1)",
        ),
        (
            build(Retry::exponential(secs(1)).max_delay(ms(10))),
            RetryBuildError::MaxDelayBelowBase {
                base: secs(1),
                max_delay: ms(10),
            },
            "raise max_delay",
        ),
    ];
    for (err, expected, advice) in cases {
        assert_eq!(err, expected);
        let msg = err.to_string();
        assert!(msg.contains(advice), "{msg:?} lacks {advice:?}");
    }
    // A cap equal to the base is fine: a constant delay.
    let retry = Retry::<()>::exponential(secs(1))
        .max_delay(secs(1))
        .build()
        .unwrap();
    assert_eq!(delays_ms(&retry), [1000, 1000]);
}

#[test]
fn retry_error_says_why_and_its_source_is_the_last_error() {
    use std::error::Error;
    let (r, _) = run_auto(
        Retry::fixed(ms(1)).max_attempts(2),
        vec![std::io::ErrorKind::TimedOut; 2],
    );
    let err = r.unwrap_err();
    assert_eq!(
        err.to_string(),
        "gave up after 2 attempts: max_attempts reached"
    );

    let retry = Retry::fixed(ms(1))
        .max_attempts(1)
        .clock(TestClock::auto())
        .build()
        .unwrap();
    let err = retry
        .call(|| Err::<(), _>(std::io::Error::other("disk on fire")))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "gave up after 1 attempt: max_attempts reached"
    );
    assert_eq!(err.source().unwrap().to_string(), "disk on fire");
    assert_eq!(err.into_last().to_string(), "disk on fire");

    let (r, _) = run_auto(
        Retry::fixed(secs(2)).max_attempts(9).max_elapsed(secs(3)),
        vec!["busy"; 9],
    );
    assert_eq!(
        r.unwrap_err().to_string(),
        "gave up after 2 attempts in 2s: the next wait would pass max_elapsed"
    );
}

#[test]
fn a_retry_is_shared_between_threads() {
    fn send_sync_clone<T: Send + Sync + Clone>() {}
    send_sync_clone::<Retry<std::io::Error>>();
    send_sync_clone::<Retry<std::rc::Rc<u8>, ManualClock>>();
    send_sync_clone::<workwise::Delays>();
    fn send_sync<T: Send + Sync>() {}
    send_sync::<RetryBuildError>();
    send_sync::<RetryError<std::io::Error>>();
    send_sync::<RetryBuilder<std::io::Error>>();

    let retry = Arc::new(Retry::fixed(ms(1)).max_attempts(3).build().unwrap());
    let calls = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (retry, calls) = (retry.clone(), calls.clone());
            thread::spawn(move || {
                let mut mine = 0;
                retry.call(|| {
                    mine += 1;
                    calls.fetch_add(1, Ordering::SeqCst);
                    if mine < 2 {
                        Err("flaky")
                    } else {
                        Ok(mine)
                    }
                })
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), Ok(2));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 8, "each call counts its own");
}

// --- call_async -------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_async_retries_on_the_real_clock() {
    let retry = Retry::exponential(ms(1))
        .max_attempts(5)
        .jitter()
        .build()
        .unwrap();
    let attempts = AtomicUsize::new(0);
    let r = tokio::time::timeout(
        LONG,
        retry.call_async(|| {
            let n = attempts.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                tokio::task::yield_now().await;
                if n < 3 {
                    Err("reset")
                } else {
                    Ok(n)
                }
            }
        }),
    )
    .await
    .unwrap();
    assert_eq!(r, Ok(3));

    let err = tokio::time::timeout(LONG, retry.call_async(|| async { Err::<(), _>("down") }))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!((err.reason, err.attempts), (GaveUp::Attempts, 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_async_waits_on_the_manual_clock() {
    let clock = TestClock::manual();
    let retry = Retry::exponential(secs(1))
        .max_attempts(5)
        .clock(clock.clone())
        .build()
        .unwrap();
    let attempts = Arc::new(AtomicUsize::new(0));
    let task = {
        let attempts = attempts.clone();
        // tokio::spawn also proves the future is Send.
        tokio::spawn(async move {
            retry
                .call_async(|| {
                    let n = attempts.fetch_add(1, Ordering::SeqCst) + 1;
                    async move {
                        if n < 3 {
                            Err("busy")
                        } else {
                            Ok(n)
                        }
                    }
                })
                .await
        })
    };
    for (i, at) in [secs(1), secs(3)].into_iter().enumerate() {
        wait_until_async("the retry to sleep", || clock.sleeps() == i + 1).await;
        assert_eq!(clock.deadlines()[i], at);
        assert_eq!(attempts.load(Ordering::SeqCst), i + 1);
        clock.advance_to(at);
    }
    let r = tokio::time::timeout(LONG, task).await.unwrap().unwrap();
    assert_eq!(r, Ok(3));
    assert_eq!(clock.now(), secs(3));
}

#[test]
fn dropping_call_async_stops_the_retries() {
    let clock = TestClock::manual();
    let retry = Retry::fixed(secs(1))
        .max_attempts(5)
        .clock(clock.clone())
        .build()
        .unwrap();
    let attempts = AtomicUsize::new(0);
    {
        let mut fut = pin!(retry.call_async(|| {
            attempts.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), _>("down") }
        }));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        assert_eq!(clock.deadlines(), [secs(1)]);
    }
    clock.advance(secs(10));
    // Nothing can run the dropped future again: no second attempt.
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    // And a poll after the deadline runs the next attempt at once.
    let mut fut = pin!(retry.call_async(|| {
        attempts.fetch_add(1, Ordering::SeqCst);
        async { Err::<(), _>("down") }
    }));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    clock.advance(secs(1));
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
}

// ---- Issue 8 neighbours: waits that could never end ----

/// Runs `body` on a thread; fails the test if it has not returned in time.
fn within_deadline<T: Send + 'static>(what: &str, body: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(body());
    });
    rx.recv_timeout(LONG)
        .unwrap_or_else(|_| panic!("{what} did not return within {LONG:?}"))
}

#[test]
fn a_retry_after_hint_of_never_gives_up_at_once() {
    let err = within_deadline("the retry", || {
        let clock = ManualClock::new();
        let retry = Retry::exponential(ms(10))
            .max_attempts(5)
            .retry_after(|_: &&str| Some(Duration::MAX))
            .clock(clock)
            .build()
            .unwrap();
        retry.call(|| Err::<(), _>("busy")).unwrap_err()
    });
    assert_eq!((err.reason, err.attempts), (GaveUp::Never, 1));
}

#[test]
fn a_retry_on_a_clock_at_its_end_gives_up_instead_of_blocking() {
    let err = within_deadline("the retry", || {
        let clock = ManualClock::new();
        clock.advance(Duration::MAX);
        let retry = Retry::exponential(ms(10))
            .max_attempts(5)
            .max_elapsed(Duration::MAX)
            .clock(clock)
            .build()
            .unwrap();
        retry.call(|| Err::<(), _>("down")).unwrap_err()
    });
    assert_eq!((err.reason, err.attempts), (GaveUp::Never, 1));
}
