//! Black-box tests of `Policy`: the composition order and each part's effect.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use workwise::{BreakerState, CircuitBreaker, GaveUp, Policy, PolicyError, RateLimiter, Retry};

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
        .call(|| {
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
