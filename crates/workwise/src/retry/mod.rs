//! Retrying a failing call: exponential backoff, full jitter, a budget in
//! attempts and in time, and the server's "retry after" hint.
//!
//! # Protocol
//!
//! 1. The first attempt runs at once; the clock's time just before it is
//!    the start of the `max_elapsed` budget.
//! 2. After a failed attempt, in this order: if `retry_if` rejects the
//!    error, stop with [`GaveUp::NotRetryable`]; if `max_attempts` attempts
//!    have run, stop with [`GaveUp::Attempts`].
//! 3. The wait is the schedule's next delay ([`Retry::delays`]: jittered
//!    when asked), raised to the `retry_after` hint when the error carries
//!    one: `max(hint, delay)`. The hint does not move the schedule on. No
//!    delay of the schedule is longer than about 100 years (`LONGEST_WAIT`),
//!    so that the clock's deadline arithmetic cannot overflow; a hint longer
//!    than that, or a wait that would end past the clock's last instant
//!    (`u64::MAX` ns), stops with [`GaveUp::Never`] at once: that attempt
//!    would never come, and waiting for it would hang the caller.
//! 4. If `now + wait` would pass `start + max_elapsed`, stop with
//!    [`GaveUp::Elapsed`] at once, without waiting.
//! 5. Otherwise sleep on the clock until `now + wait` (the `now` read after
//!    the failure), then run the next attempt.

mod builder;
mod error;
mod schedule;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use builder::{RetryBuildError, RetryBuilder};
pub use error::{GaveUp, RetryError};
pub use schedule::Delays;

use crate::clock::{Clock, RealClock};
use schedule::{fresh_seed, Rng};

const DEFAULT_MAX_ATTEMPTS: usize = 3;
const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(30);
/// No wait is longer than this (about 100 years), so that a clock's
/// deadline arithmetic cannot overflow on an absurd hint or `max_delay`.
const LONGEST_WAIT: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);
/// The last instant a clock can show (`ManualClock` saturates here).
const CLOCK_END: Duration = Duration::from_nanos(u64::MAX);

type Predicate<E> = Arc<dyn Fn(&E) -> bool + Send + Sync>;
type Hint<E> = Arc<dyn Fn(&E) -> Option<Duration> + Send + Sync>;

/// Retries a failing call with backoff: exponential or fixed delays,
/// optional full jitter, and limits in attempts and in time.
///
/// The advice behind it:
///
/// - **Retry only idempotent calls**: a request that timed out may have
///   succeeded on the server, so a retry can run it twice. Reads, `PUT`s
///   and requests carrying an idempotency key are safe; "charge the card"
///   is not. Use [`retry_if`](RetryBuilder::retry_if) to retry only the
///   errors that say "try again" (timeouts, 503s), not "you are wrong"
///   (400s, bad credentials).
/// - **Back off exponentially** (`base`, `2·base`, `4·base`, … up to
///   [`max_delay`](RetryBuilder::max_delay)), so that a struggling service
///   gets more room with every failure instead of a steady hammering.
/// - **Add jitter** ([`jitter`](RetryBuilder::jitter)), so that clients
///   that failed together do not all come back in lockstep and knock the
///   service over again at the same instant.
/// - **Bound it** in attempts ([`max_attempts`](RetryBuilder::max_attempts),
///   3 by default) and in time ([`max_elapsed`](RetryBuilder::max_elapsed)),
///   and **honour the server's hint** ([`retry_after`](RetryBuilder::retry_after)).
///
/// `E` is the error type of the calls it retries; the predicate and the
/// hint read it. A `Retry` is `Send + Sync` and cheap to clone, so one can
/// serve many threads or tasks; each call keeps its own count and schedule.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::Retry;
///
/// let retry = Retry::exponential(Duration::from_millis(1))
///     .max_attempts(5)
///     .jitter()
///     .build()?;
/// let mut calls = 0;
/// let r = retry.call(|| {
///     calls += 1;
///     if calls < 3 { Err("connection reset") } else { Ok("page") }
/// });
/// assert_eq!(r, Ok("page"));
/// assert_eq!(calls, 3);
/// # Ok::<(), workwise::RetryBuildError>(())
/// ```
pub struct Retry<E, C: Clock = RealClock> {
    plan: RetryPlan,
    retry_if: Option<Predicate<E>>,
    retry_after: Option<Hint<E>>,
    clock: C,
}

/// The settings shared by [`RetryBuilder`] and [`Retry`]: which attempts to
/// make and how long to wait between them (not [`Policy`](crate::Policy),
/// which combines a retry with a limiter and a breaker).
#[derive(Debug, Clone, Copy)]
struct RetryPlan {
    backoff: Backoff,
    base: Duration,
    max_delay: Option<Duration>,
    max_attempts: usize,
    max_elapsed: Option<Duration>,
    jitter: bool,
    seed: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backoff {
    Exponential,
    Fixed,
}

impl RetryPlan {
    /// The longest delay the schedule uses: `max_delay`, by default 30 s or
    /// the base delay if that is longer.
    fn cap(&self) -> Duration {
        self.max_delay
            .unwrap_or_else(|| DEFAULT_MAX_DELAY.max(self.base))
    }
}

impl<E> Retry<E, RealClock> {
    /// Starts a policy whose delays double: `base`, `2·base`, `4·base`, …,
    /// each capped at [`max_delay`](RetryBuilder::max_delay) (30 s by
    /// default).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::Retry;
    ///
    /// let retry = Retry::<std::io::Error>::exponential(Duration::from_millis(100))
    ///     .max_attempts(6)
    ///     .max_delay(Duration::from_millis(500))
    ///     .build()?;
    /// let ms: Vec<u128> = retry.delays().map(|d| d.as_millis()).collect();
    /// assert_eq!(ms, [100, 200, 400, 500, 500]);
    /// # Ok::<(), workwise::RetryBuildError>(())
    /// ```
    pub fn exponential(base: Duration) -> RetryBuilder<E> {
        RetryBuilder::new(Backoff::Exponential, base)
    }

    /// Starts a policy that waits the same `delay` between attempts.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::Retry;
    ///
    /// let retry = Retry::<std::io::Error>::fixed(Duration::from_millis(250)).build()?;
    /// let ms: Vec<u128> = retry.delays().map(|d| d.as_millis()).collect();
    /// assert_eq!(ms, [250, 250]); // 3 attempts by default: 2 waits
    /// # Ok::<(), workwise::RetryBuildError>(())
    /// ```
    pub fn fixed(delay: Duration) -> RetryBuilder<E> {
        RetryBuilder::new(Backoff::Fixed, delay)
    }
}

impl<E, C: Clock> Retry<E, C> {
    /// Runs `op` until it succeeds or the policy gives up, blocking the
    /// thread on the clock between attempts.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::{GaveUp, Retry};
    ///
    /// let retry = Retry::fixed(Duration::from_millis(1)).max_attempts(2).build()?;
    /// let err = retry.call(|| Err::<(), _>("503 Service Unavailable")).unwrap_err();
    /// assert_eq!(err.reason, GaveUp::Attempts);
    /// assert_eq!(err.attempts, 2);
    /// assert_eq!(err.last, "503 Service Unavailable");
    /// # Ok::<(), workwise::RetryBuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`RetryError`] holding the last error, the number of attempts and
    /// why it stopped: the error was not retryable, `max_attempts` ran out,
    /// or the next wait would pass `max_elapsed`.
    pub fn call<T, F>(&self, mut op: F) -> Result<T, RetryError<E>>
    where
        F: FnMut() -> Result<T, E>,
    {
        let mut run = Run::start(self);
        loop {
            run.attempts += 1;
            let at = match op() {
                Ok(v) => return Ok(v),
                Err(e) => match run.after_failure(&e) {
                    Ok(at) => at,
                    Err(reason) => return Err(run.give_up(e, reason)),
                },
            };
            self.clock.sleep_until(at);
        }
    }

    /// Runs the future that `op` makes until one succeeds or the policy
    /// gives up, sleeping on the clock between attempts. It needs no
    /// particular runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::Retry;
    ///
    /// let retry = Retry::exponential(Duration::from_millis(1)).build()?;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mut calls = 0;
    /// let r = retry
    ///     .call_async(|| {
    ///         calls += 1;
    ///         let n = calls;
    ///         async move { if n < 2 { Err("timed out") } else { Ok(n) } }
    ///     })
    ///     .await;
    /// assert_eq!(r, Ok(2));
    /// # });
    /// # Ok::<(), workwise::RetryBuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`call`](Retry::call).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops the retries: no further attempt starts.
    /// An attempt in flight is dropped with it, so what that means is up
    /// to the attempt's own future.
    pub async fn call_async<T, F, Fut>(&self, mut op: F) -> Result<T, RetryError<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut run = Run::start(self);
        loop {
            run.attempts += 1;
            // The error is dropped before the sleep: the future holds no `E`
            // while it waits.
            let at = match op().await {
                Ok(v) => return Ok(v),
                Err(e) => match run.after_failure(&e) {
                    Ok(at) => at,
                    Err(reason) => return Err(run.give_up(e, reason)),
                },
            };
            self.clock.sleep_until_async(at).await;
        }
    }

    /// The delays this policy waits between attempts, before any
    /// `retry_after` hint: `max_attempts - 1` of them.
    ///
    /// With [`jitter`](RetryBuilder::jitter) and a
    /// [`seed`](RetryBuilder::seed) these are exactly the delays every call
    /// uses; with jitter and no seed, each call (and each `delays()`) draws
    /// its own.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::Retry;
    ///
    /// let retry = Retry::<std::io::Error>::exponential(Duration::from_millis(100))
    ///     .max_attempts(4)
    ///     .jitter()
    ///     .seed(7)
    ///     .build()?;
    /// let caps = [100, 200, 400];
    /// for (d, cap) in retry.delays().zip(caps) {
    ///     assert!(d <= Duration::from_millis(cap)); // uniform in [0, cap]
    /// }
    /// assert!(retry.delays().eq(retry.delays())); // seeded: the same every time
    /// # Ok::<(), workwise::RetryBuildError>(())
    /// ```
    pub fn delays(&self) -> Delays {
        let p = &self.plan;
        Delays {
            backoff: p.backoff,
            next: p.base,
            cap: p.cap(),
            remaining: p.max_attempts.saturating_sub(1),
            rng: p
                .jitter
                .then(|| Rng::new(p.seed.unwrap_or_else(fresh_seed))),
        }
    }
}

/// One call's progress through the policy.
struct Run<'a, E, C: Clock> {
    retry: &'a Retry<E, C>,
    start: Duration,
    attempts: usize,
    delays: Delays,
}

impl<'a, E, C: Clock> Run<'a, E, C> {
    fn start(retry: &'a Retry<E, C>) -> Self {
        Run {
            retry,
            start: retry.clock.now(),
            attempts: 0,
            delays: retry.delays(),
        }
    }

    /// Protocol rules 2-4: the time to sleep until, or why to stop.
    fn after_failure(&mut self, err: &E) -> Result<Duration, GaveUp> {
        let retry = self.retry;
        if retry.retry_if.as_ref().is_some_and(|f| !f(err)) {
            return Err(GaveUp::NotRetryable);
        }
        if self.attempts >= retry.plan.max_attempts {
            return Err(GaveUp::Attempts);
        }
        let delay = self.delays.next().ok_or(GaveUp::Attempts)?;
        let hint = retry.retry_after.as_ref().and_then(|f| f(err));
        if hint.is_some_and(|h| h > LONGEST_WAIT) {
            return Err(GaveUp::Never);
        }
        let wait = hint.map_or(delay, |h| h.max(delay)).min(LONGEST_WAIT);
        let now = retry.clock.now();
        let at = now.saturating_add(wait);
        if at > CLOCK_END {
            return Err(GaveUp::Never);
        }
        if let Some(budget) = retry.plan.max_elapsed {
            if at.saturating_sub(self.start) > budget {
                return Err(GaveUp::Elapsed);
            }
        }
        #[cfg(feature = "tracing")]
        tracing::debug!(attempt = self.attempts, wait = ?wait, "retrying after a failure");
        Ok(at)
    }

    fn give_up(&self, last: E, reason: GaveUp) -> RetryError<E> {
        let elapsed = self.retry.clock.now().saturating_sub(self.start);
        #[cfg(feature = "tracing")]
        tracing::debug!(attempts = self.attempts, elapsed = ?elapsed, %reason, "gave up retrying");
        RetryError {
            attempts: self.attempts,
            elapsed,
            reason,
            last,
        }
    }
}

impl<E, C: Clock + Clone> Clone for Retry<E, C> {
    fn clone(&self) -> Self {
        Retry {
            plan: self.plan,
            retry_if: self.retry_if.clone(),
            retry_after: self.retry_after.clone(),
            clock: self.clock.clone(),
        }
    }
}

impl<E, C: Clock> fmt::Debug for Retry<E, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("plan", &self.plan)
            .field("retry_if", &self.retry_if.is_some())
            .field("retry_after", &self.retry_after.is_some())
            .field("clock", &self.clock)
            .finish()
    }
}
