//! Black-box tests of `Policy`: the composition order and each part's effect.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use std::pin::pin;
use std::task::Poll;

use workwise::{
    BreakerState, CircuitBreaker, GaveUp, ManualClock, Policy, PolicyBuildError, PolicyBuilder,
    PolicyError, Pool, RateLimiter, RealClock, Retry,
};

const LONG: Duration = Duration::from_secs(30);

/// Waits for `cond` (`workwise::testing::wait_for`) with a generous
/// deadline; fails the test with `what` when it passes.
fn wait_until(what: &str, cond: impl FnMut() -> bool) {
    if let Err(e) = workwise::testing::wait_for(cond, LONG) {
        panic!("timed out waiting for {what}: {e}");
    }
}

fn counter() -> (Arc<AtomicU32>, Arc<AtomicU32>) {
    let c = Arc::new(AtomicU32::new(0));
    (c.clone(), c)
}

#[test]
fn retries_until_the_call_succeeds() {
    let (calls, c) = counter();
    let policy = Policy::<&str>::builder()
        .retry(
            Retry::fixed(Duration::from_millis(1))
                .max_attempts(5)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let r = policy.call(move || {
        if c.fetch_add(1, Ordering::SeqCst) < 3 {
            Err("503")
        } else {
            Ok("200")
        }
    });
    assert_eq!(r.unwrap(), "200");
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[test]
fn without_retry_one_failure_is_final() {
    let policy = Policy::<&str>::builder().build().unwrap();
    let err = policy.call(|| Err::<(), _>("boom")).unwrap_err();
    assert_eq!((err.attempts, err.reason), (1, GaveUp::Attempts));
    assert_eq!(err.last, PolicyError::Inner("boom"));
}

#[test]
fn a_slow_attempt_times_out_and_counts_as_a_breaker_failure() {
    let breaker = CircuitBreaker::builder()
        .failure_threshold(2)
        .build()
        .unwrap();
    let policy = Policy::<&str>::builder()
        .breaker(breaker)
        .attempt_timeout(Duration::from_millis(20))
        .retry(
            Retry::fixed(Duration::from_millis(1))
                .max_attempts(2)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let err = policy
        .call_timed(|| {
            std::thread::sleep(Duration::from_millis(500));
            Ok::<_, &str>(())
        })
        .unwrap_err();
    assert_eq!(err.attempts, 2);
    assert_eq!(
        err.last,
        PolicyError::TimedOut {
            after: Duration::from_millis(20)
        }
    );
    assert_eq!(policy.breaker().unwrap().state(), BreakerState::Open);
}

#[test]
fn an_open_breaker_sheds_attempts_without_calling() {
    let (calls, c) = counter();
    let policy = Policy::<&str>::builder()
        .breaker(
            CircuitBreaker::builder()
                .failure_threshold(3)
                .reset_after(Duration::from_secs(3600))
                .build()
                .unwrap(),
        )
        .retry(
            Retry::fixed(Duration::from_millis(1))
                .max_attempts(6)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let err = policy
        .call(move || {
            c.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>("down")
        })
        .unwrap_err();
    // Three real failures opened it; the other three attempts were shed.
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(err.attempts, 6);
    assert!(
        matches!(err.last, PolicyError::Open { .. }),
        "{:?}",
        err.last
    );
    assert!(err.last.retry_after().unwrap() > Duration::from_secs(3000));
}

#[test]
fn retry_if_can_stop_at_a_shed_call() {
    let (calls, c) = counter();
    let policy = Policy::<&str>::builder()
        .breaker(
            CircuitBreaker::builder()
                .failure_threshold(1)
                .build()
                .unwrap(),
        )
        .retry(
            Retry::fixed(Duration::from_millis(1))
                .max_attempts(10)
                .retry_if(|e: &PolicyError<&str>| !matches!(e, PolicyError::Open { .. }))
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let err = policy
        .call(move || {
            c.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>("down")
        })
        .unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!((err.attempts, err.reason), (2, GaveUp::NotRetryable));
}

#[test]
fn each_attempt_takes_a_permit() {
    // One permit a second: none come back during the test.
    let limiter = RateLimiter::per_second(1).burst(100).build().unwrap();
    let policy = Policy::<&str>::builder()
        .rate_limit(limiter)
        .retry(
            Retry::fixed(Duration::from_millis(1))
                .max_attempts(4)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let _ = policy.call(|| Err::<(), _>("no"));
    // 4 attempts took 4 of the 100 burst permits: 96 are left right away.
    let limiter = policy.limiter().unwrap();
    let left = (0..1000)
        .take_while(|_| limiter.try_acquire().is_ok())
        .count();
    assert!((95..=97).contains(&left), "{left} permits left");
}

#[tokio::test]
async fn async_calls_time_out_and_retry() {
    let (calls, c) = counter();
    let policy = Policy::<&str>::builder()
        .attempt_timeout(Duration::from_millis(10))
        .retry(
            Retry::fixed(Duration::from_millis(1))
                .max_attempts(3)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let r = policy
        .call_async(|| {
            let n = c.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    std::future::pending::<()>().await; // hangs: times out
                }
                Ok::<_, &str>(n)
            }
        })
        .await;
    assert_eq!(r.unwrap(), 2);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

// ---------------------------------------------------------------------------
// Far durations: Duration::MAX means "no limit", never an overflow panic

#[test]
fn an_attempt_timeout_of_duration_max_means_no_timeout() {
    let policy = Policy::<&str>::builder()
        .attempt_timeout(Duration::MAX)
        .build()
        .unwrap();
    assert_eq!(policy.call_timed(|| Ok::<_, &str>(5)).unwrap(), 5);
    let err = policy.call_timed(|| Err::<(), _>("no")).unwrap_err();
    assert_eq!(err.last, PolicyError::Inner("no"));
}

#[tokio::test]
async fn an_async_attempt_timeout_of_duration_max_means_no_timeout() {
    let policy = Policy::<&str>::builder()
        .attempt_timeout(Duration::MAX)
        .build()
        .unwrap();
    let r = policy.call_async(|| async { Ok::<_, &str>(5) }).await;
    assert_eq!(r.unwrap(), 5);
}

#[test]
fn far_durations_in_every_part_work() {
    let (calls, c) = counter();
    let policy = Policy::<&str>::builder()
        .rate_limit(RateLimiter::per_second(1).burst(10).build().unwrap())
        .breaker(
            CircuitBreaker::builder()
                .failure_threshold(2)
                .reset_after(Duration::MAX)
                .build()
                .unwrap(),
        )
        .attempt_timeout(Duration::MAX)
        .retry(
            Retry::fixed(Duration::from_millis(1))
                .max_attempts(4)
                .max_elapsed(Duration::MAX)
                .max_delay(Duration::MAX)
                // Open for good (a hint of Duration::MAX): stop there.
                .retry_if(|e: &PolicyError<&str>| !matches!(e, PolicyError::Open { .. }))
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let err = policy
        .call_timed(move || {
            c.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>("down")
        })
        .unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(err.last.retry_after(), Some(Duration::MAX));
    assert!(
        err.last
            .to_string()
            .contains("will not let a probe through"),
        "{}",
        err.last
    );
}

// ---------------------------------------------------------------------------
// Timed sync attempts on a busy pool

/// A gate that hung attempts wait on (at most `LONG`, so that a failing test
/// cannot hang), opened by the test or when dropped.
#[derive(Clone, Default)]
struct Gate(Arc<AtomicBool>);

impl Gate {
    fn wait(&self) {
        // Past `LONG` the attempt goes on: the test's own deadline reports it.
        let _ = workwise::testing::wait_for(|| self.0.load(Ordering::SeqCst), LONG);
    }

    fn open(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Opens the gate when dropped, so that a failing assertion frees the pool.
struct OpenOnDrop(Gate);

impl Drop for OpenOnDrop {
    fn drop(&mut self) {
        self.0.open();
    }
}

/// A policy whose attempts run on one worker with `queue` places, with a
/// 30 ms attempt timeout and `attempts` attempts a call.
fn one_worker_policy(queue: usize, attempts: usize) -> Policy<&'static str> {
    Policy::<&str>::builder()
        .attempt_pool(Pool::io().max_workers(1).queue_capacity(queue))
        .attempt_timeout(Duration::from_millis(30))
        .retry(
            Retry::fixed(Duration::from_millis(1))
                .max_attempts(attempts)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

/// An attempt that counts its runs in `ran` and then hangs on `gate`.
fn hung(
    gate: &Gate,
    ran: &Arc<AtomicU32>,
) -> impl Fn() -> Result<(), &'static str> + Clone + Send + Sync + 'static {
    let (gate, ran) = (gate.clone(), ran.clone());
    move || {
        ran.fetch_add(1, Ordering::SeqCst);
        gate.wait();
        Err("slow")
    }
}

/// Calls until one attempt has started on the policy's only worker, where
/// it hangs on `gate`; attempts that did not start in time never run.
fn occupy_the_worker(policy: &Policy<&'static str>, gate: &Gate, ran: &Arc<AtomicU32>) {
    let f = hung(gate, ran);
    wait_until("an attempt to take the worker", || {
        let err = policy.call_timed(f.clone()).unwrap_err();
        assert!(
            matches!(err.last, PolicyError::TimedOut { .. }),
            "{:?}",
            err.last
        );
        ran.load(Ordering::SeqCst) > 0
    });
}

/// Waits until the policy's attempt pool has nothing queued or running.
fn wait_for_idle(policy: &Policy<&'static str>) {
    wait_until("the attempt pool to go idle", || {
        let s = policy.attempt_pool_stats().unwrap();
        s.queued == 0 && s.finished() == s.submitted
    });
}

#[test]
fn an_attempt_not_started_by_its_deadline_never_runs() {
    let policy = one_worker_policy(64, 3);
    let gate = Gate::default();
    let _open = OpenOnDrop(gate.clone());
    let ran = Arc::new(AtomicU32::new(0));
    occupy_the_worker(&policy, &gate, &ran);
    // None of this call's three attempts gets the worker in time: each
    // times out while queued.
    let late = Arc::new(AtomicU32::new(0));
    let err = policy.call_timed(hung(&gate, &late)).unwrap_err();
    assert_eq!(err.attempts, 3);
    assert_eq!(
        err.last,
        PolicyError::TimedOut {
            after: Duration::from_millis(30)
        }
    );
    // Free the worker and let the pool drain what it holds.
    gate.open();
    wait_for_idle(&policy);
    // The caller was told these attempts failed: they must never run. Nor
    // may any attempt of the calls that took the worker, but the one.
    assert_eq!(late.load(Ordering::SeqCst), 0);
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert!(policy.attempt_pool_stats().unwrap().cancelled >= 3);
}

#[test]
fn a_call_on_a_full_attempt_queue_times_out_in_time() {
    let policy = Arc::new(one_worker_policy(1, 1));
    let gate = Gate::default();
    let _open = OpenOnDrop(gate.clone());
    let ran = Arc::new(AtomicU32::new(0));
    occupy_the_worker(&policy, &gate, &ran);
    // A timed-out attempt keeps its queue place until the worker reaches it.
    wait_until("the queue to fill", || {
        let _ = policy.call_timed(hung(&gate, &ran));
        policy.attempt_pool_stats().unwrap().queued == 1
    });
    // The next call can get neither a worker nor a queue place: it must
    // still return within its timeout, not wait for the queue.
    let late = Arc::new(AtomicU32::new(0));
    let (tx, rx) = mpsc::channel();
    let caller = {
        let (policy, f) = (policy.clone(), hung(&gate, &late));
        thread::spawn(move || tx.send(policy.call_timed(f).map_err(|e| e.last)))
    };
    // Generous, and well short of the gate's own 30 s limit.
    let got = rx.recv_timeout(Duration::from_secs(10));
    gate.open();
    caller.join().unwrap().ok();
    assert_eq!(
        got.expect("the call waited for a queue place past its timeout"),
        Err(PolicyError::TimedOut {
            after: Duration::from_millis(30)
        })
    );
    wait_for_idle(&policy);
    assert_eq!(late.load(Ordering::SeqCst), 0);
    assert_eq!(ran.load(Ordering::SeqCst), 1);
}

// ---------------------------------------------------------------------------
// The builder: order does not matter

/// The builder's setters, to be applied in any order.
#[derive(Debug, Clone, Copy)]
enum Part {
    Retry,
    Limit,
    Breaker,
    Clock,
    Timeout,
}

fn orders(parts: &[Part]) -> Vec<Vec<Part>> {
    if parts.is_empty() {
        return vec![Vec::new()];
    }
    let mut all = Vec::new();
    for i in 0..parts.len() {
        let mut rest = parts.to_vec();
        let first = rest.remove(i);
        for mut tail in orders(&rest) {
            tail.insert(0, first);
            all.push(tail);
        }
    }
    all
}

#[test]
fn builder_order_does_not_matter() {
    use Part::*;
    let all = orders(&[Retry, Limit, Breaker, Clock, Timeout]);
    assert_eq!(all.len(), 120);
    for order in all {
        let mut b = Policy::<&str>::builder();
        for part in &order {
            b = match part {
                Retry => b.retry(
                    workwise::Retry::fixed(Duration::from_millis(1))
                        .max_attempts(3)
                        .build()
                        .unwrap(),
                ),
                Limit => b.rate_limit(RateLimiter::per_second(1).burst(100).build().unwrap()),
                Breaker => b.breaker(
                    CircuitBreaker::builder()
                        .failure_threshold(2)
                        .reset_after(Duration::from_secs(3600))
                        .build()
                        .unwrap(),
                ),
                Clock => b.clock(RealClock::new()),
                Timeout => b.attempt_timeout(Duration::from_secs(30)),
            };
        }
        let policy = b.build().unwrap();
        let (calls, c) = counter();
        let err = policy
            .call_timed(move || {
                c.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>("down")
            })
            .unwrap_err();
        // Two failures opened the breaker; the third attempt was shed.
        assert_eq!(calls.load(Ordering::SeqCst), 2, "{order:?}");
        assert_eq!(err.attempts, 3, "{order:?}");
        assert!(
            matches!(err.last, PolicyError::Open { .. }),
            "{order:?}: {:?}",
            err.last
        );
        let limiter = policy.limiter().expect("the limiter was dropped");
        let left = (0..200)
            .take_while(|_| limiter.try_acquire().is_ok())
            .count();
        assert!((96..=97).contains(&left), "{order:?}: {left} permits left");
        assert_eq!(
            policy.breaker().unwrap().state(),
            BreakerState::Open,
            "{order:?}"
        );
        assert!(policy.attempt_pool_stats().is_some(), "{order:?}");
    }
}

/// Polls a future once with a waker that does nothing.
fn poll_once<F: std::future::Future>(fut: std::pin::Pin<&mut F>) -> std::task::Poll<F::Output> {
    fut.poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
}

/// The parts of a policy on one manual clock, each taken by its setter.
struct ManualParts {
    clock: ManualClock,
    limit: Option<RateLimiter<ManualClock>>,
    breaker: Option<CircuitBreaker<ManualClock>>,
}

const MANUAL_TIMEOUT: Duration = Duration::from_secs(5);

/// Applies one setter to a builder on any clock type; every part but the
/// timeout moves it to the manual clock.
fn apply<C: workwise::Clock + Clone>(
    b: PolicyBuilder<&'static str, C>,
    part: Part,
    parts: &mut ManualParts,
) -> PolicyBuilder<&'static str, ManualClock> {
    match part {
        Part::Limit => b.rate_limit(parts.limit.take().unwrap()),
        Part::Breaker => b.breaker(parts.breaker.take().unwrap()),
        Part::Clock => b.clock(parts.clock.clone()),
        Part::Retry | Part::Timeout => unreachable!("not a clock part"),
    }
}

#[test]
fn builder_order_does_not_matter_on_a_manual_clock() {
    use Part::*;
    for order in orders(&[Limit, Breaker, Clock, Timeout]) {
        let clock = ManualClock::new();
        let mut parts = ManualParts {
            clock: clock.clone(),
            limit: Some(
                RateLimiter::per_second(1)
                    .burst(10)
                    .clock(clock.clone())
                    .build()
                    .unwrap(),
            ),
            breaker: Some(
                CircuitBreaker::builder()
                    .failure_threshold(2)
                    .reset_after(Duration::from_secs(60))
                    .clock(clock.clone())
                    .build()
                    .unwrap(),
            ),
        };
        // The builder starts on the real clock and moves to the manual one
        // at the first clock part; a timeout set before that moves along.
        let mut real = Some(Policy::<&str>::builder());
        let mut manual: Option<PolicyBuilder<&str, ManualClock>> = None;
        for &part in &order {
            match (part, manual.take()) {
                (Timeout, None) => real = real.map(|b| b.attempt_timeout(MANUAL_TIMEOUT)),
                (Timeout, Some(b)) => manual = Some(b.attempt_timeout(MANUAL_TIMEOUT)),
                (_, None) => manual = Some(apply(real.take().unwrap(), part, &mut parts)),
                (_, Some(b)) => manual = Some(apply(b, part, &mut parts)),
            }
        }
        let policy = manual.unwrap().build().unwrap();
        // The async timeout runs on the manual clock: no real 5 s pass.
        let mut call = pin!(policy.call_async(std::future::pending::<Result<(), &str>>));
        assert!(poll_once(call.as_mut()).is_pending(), "{order:?}");
        clock.advance(MANUAL_TIMEOUT);
        match poll_once(call.as_mut()) {
            Poll::Ready(Err(e)) => assert_eq!(
                e.last,
                PolicyError::TimedOut {
                    after: MANUAL_TIMEOUT
                },
                "{order:?}"
            ),
            other => panic!("{order:?}: {other:?}"),
        }
        // A second failure opens the breaker. The 5 s refilled the burst of
        // 10, and the second attempt took one permit of it.
        let _ = policy.call_timed(|| Err::<(), _>("down"));
        assert_eq!(
            policy.breaker().unwrap().state(),
            BreakerState::Open,
            "{order:?}"
        );
        let limiter = policy.limiter().unwrap();
        let left = (0..20)
            .take_while(|_| limiter.try_acquire().is_ok())
            .count();
        assert_eq!(left, 9, "{order:?}");
    }
}

#[test]
fn the_policy_times_async_attempts_on_its_parts_clock() {
    let clock = ManualClock::new();
    let policy = Policy::<&str>::builder()
        .attempt_timeout(MANUAL_TIMEOUT)
        .breaker(
            CircuitBreaker::builder()
                .clock(clock.clone())
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let mut call = pin!(policy.call_async(std::future::pending::<Result<(), &str>>));
    assert!(poll_once(call.as_mut()).is_pending());
    clock.advance(MANUAL_TIMEOUT);
    assert!(matches!(poll_once(call.as_mut()), Poll::Ready(Err(_))));
}

#[test]
fn parts_on_different_clock_types_are_a_build_error() {
    let real_limit = || RateLimiter::per_second(1).build().unwrap();
    let manual_limit = || {
        RateLimiter::per_second(1)
            .clock(ManualClock::new())
            .build()
            .unwrap()
    };
    let err = Policy::<&str>::builder()
        .rate_limit(real_limit())
        .clock(ManualClock::new())
        .build()
        .unwrap_err();
    assert_eq!(err, PolicyBuildError::ClockMismatch { part: "rate_limit" });
    assert!(err.to_string().contains(".clock(..) of one clock"), "{err}");
    let err = Policy::<&str>::builder()
        .clock(ManualClock::new())
        .breaker(CircuitBreaker::builder().build().unwrap())
        .retry(
            workwise::Retry::fixed(Duration::from_millis(1))
                .build()
                .unwrap(),
        )
        .build()
        .unwrap_err();
    assert_eq!(err, PolicyBuildError::ClockMismatch { part: "clock" });
    // Replacing a part with one on another clock type is no mismatch.
    let policy = Policy::<&str>::builder()
        .rate_limit(real_limit())
        .rate_limit(manual_limit())
        .build();
    assert!(policy.is_ok());
}

#[test]
fn an_attempt_running_on_past_its_timeout_is_reported_as_a_suspected_hang() {
    use workwise::advice::Code;
    let policy = Policy::<String>::builder()
        .attempt_timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    for _ in 0..20 {
        policy.call_timed(|| Ok::<_, String>(())).unwrap();
    }
    assert!(policy.advice().is_empty(), "{:?}", policy.advice());
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let rx = Arc::new(std::sync::Mutex::new(rx));
    // The attempt times out for the caller, and its thread stays blocked.
    assert!(policy
        .call_timed(move || {
            let _ = rx.lock().unwrap().recv();
            Ok::<_, String>(())
        })
        .is_err());
    workwise::testing::wait_for(
        || policy.advice().iter().any(|a| a.code == Code::W10),
        Duration::from_secs(60),
    )
    .expect("W10 once the abandoned attempt has run for a second");
    tx.send(()).unwrap();
}

// ---------------------------------------------------------------------------
// Borrowing calls and panics.

#[test]
fn call_accepts_a_closure_that_borrows_from_the_caller() {
    let policy = Policy::<String>::builder()
        .breaker(CircuitBreaker::builder().build().unwrap())
        .retry(
            Retry::fixed(Duration::from_millis(1))
                .max_attempts(3)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let names: Vec<String> = ["ada", "grace"].map(String::from).into();
    let tries = std::cell::Cell::new(0u32);
    let r = policy.call(|| {
        tries.set(tries.get() + 1);
        if tries.get() < 2 {
            return Err(format!("{} not yet", names[0]));
        }
        Ok(names.iter().map(String::len).sum::<usize>())
    });
    assert_eq!(r.unwrap(), 8);
    assert_eq!(tries.get(), 2);
}

#[test]
fn call_on_a_policy_with_an_attempt_timeout_asks_for_call_timed() {
    let policy = Policy::<&str>::builder()
        .attempt_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let ran = std::cell::Cell::new(false);
    let err = policy
        .call(|| {
            ran.set(true);
            Ok::<_, &str>(())
        })
        .unwrap_err();
    assert_eq!(err.last, PolicyError::NeedsCallTimed);
    assert_eq!(err.attempts, 0);
    assert!(!ran.get());
    assert!(err.last.to_string().contains("call_timed"));
    assert_eq!(policy.call_timed(|| Ok::<_, &str>(4)).unwrap(), 4);
}

fn assert_panicked(err: &PolicyError<&str>) {
    match err {
        PolicyError::Panicked { message } => assert!(message.contains("kaboom"), "{message}"),
        other => panic!("expected Panicked, got {other:?}"),
    }
}

#[test]
fn a_panic_without_a_timeout_is_reported_as_panicked() {
    let policy = Policy::<&str>::builder()
        .breaker(
            CircuitBreaker::builder()
                .failure_threshold(1)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let err = policy
        .call(|| -> Result<(), &str> { panic!("kaboom") })
        .unwrap_err();
    assert_panicked(&err.last);
    // The panic counted as a failure for the breaker.
    assert_eq!(policy.breaker().unwrap().state(), BreakerState::Open);
    let plain = Policy::<&str>::builder().build().unwrap();
    let err = plain
        .call_timed(|| -> Result<(), &str> { panic!("kaboom") })
        .unwrap_err();
    assert_panicked(&err.last);
}

#[test]
fn a_panic_with_a_timeout_is_reported_as_panicked() {
    let policy = Policy::<&str>::builder()
        .attempt_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let err = policy
        .call_timed(|| -> Result<(), &str> { panic!("kaboom") })
        .unwrap_err();
    assert_panicked(&err.last);
}
