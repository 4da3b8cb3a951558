//! The call paths: on the caller's thread, timed on the policy's pool, and
//! async.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use crate::breaker::BreakerError;
use crate::clock::deadline_after;
use crate::clock::{Clock, RealClock};
use crate::pool::task::catch;
use crate::pool::{Pool, TaskError, TaskHandle, TrySubmitError};
use crate::retry::{GaveUp, RetryError};

use super::{Policy, PolicyError};

impl<E, C: Clock> Policy<E, C> {
    /// Calls `f` under the policy on the calling thread, blocking while it
    /// waits for permits and between retries; `f` may borrow from the
    /// caller.
    ///
    /// A panic in `f` is caught and reported as [`PolicyError::Panicked`]
    /// (it counts as a failure for the breaker, and retries see it).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use workwise::Policy;
    ///
    /// let policy = Policy::<String>::builder().build()?;
    /// let names = vec!["ada".to_string(), "grace".to_string()];
    /// let calls = Cell::new(0);
    /// let longest = policy.call(|| {
    ///     calls.set(calls.get() + 1);
    ///     names.iter().map(String::len).max().ok_or_else(|| "no names".to_string())
    /// })?;
    /// assert_eq!((longest, calls.get()), (5, 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`RetryError`] with the last attempt's [`PolicyError`] and the number
    /// of attempts, once retries (if any) are spent.
    ///
    /// [`PolicyError::NeedsCallTimed`] (after 0 attempts, `f` not run) when
    /// the policy has an attempt timeout: a timed attempt runs on another
    /// thread and may outlive the call, so it needs
    /// [`call_timed`](Policy::call_timed) and a `'static` closure.
    pub fn call<T, F>(&self, f: F) -> Result<T, RetryError<PolicyError<E>>>
    where
        F: Fn() -> Result<T, E>,
    {
        if self.pool.is_some() {
            return Err(RetryError {
                attempts: 0,
                ..once(PolicyError::NeedsCallTimed)
            });
        }
        match &self.retry {
            Some(retry) => retry.call(|| self.attempt(|| run_here(&f))),
            None => self.attempt(|| run_here(&f)).map_err(once),
        }
    }

    /// Calls `f` under the policy, with the policy's attempt timeout if it
    /// has one, blocking while it waits for permits and between retries.
    ///
    /// With an attempt timeout, each attempt runs on a small I/O pool of the
    /// policy's own (see [`attempt_pool`](super::PolicyBuilder::attempt_pool)), and
    /// the caller waits at most the timeout for it, waiting for a place in
    /// the pool's queue included. An attempt that has not started by then
    /// is cancelled and never runs, so no side effect of `f` comes after the
    /// caller was told the attempt failed, except from an attempt that had
    /// started: that one goes on in the background and its result is
    /// dropped (a thread cannot be stopped from outside). That is why `f`
    /// must be `'static`. Without an attempt timeout it runs on the calling
    /// thread, as [`call`](Policy::call) does.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::Policy;
    ///
    /// let policy = Policy::<String>::builder()
    ///     .attempt_timeout(Duration::from_secs(10))
    ///     .build()?;
    /// let url = String::from("https://example.com");
    /// let len = policy.call_timed(move || Ok::<_, String>(url.len()))?;
    /// assert_eq!(len, 19);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`RetryError`] with the last attempt's [`PolicyError`] and the number
    /// of attempts, once retries (if any) are spent; a panic in `f` is
    /// [`PolicyError::Panicked`].
    ///
    /// # Warning
    ///
    /// Dropping the policy shuts its pool down, which waits for attempts that
    /// timed out but are still running: give the call itself a timeout too
    /// (an HTTP client's, say) so none runs forever.
    pub fn call_timed<T, F>(&self, f: F) -> Result<T, RetryError<PolicyError<E>>>
    where
        F: Fn() -> Result<T, E> + Send + Sync + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let f = Arc::new(f);
        let run = || match (self.timeout, &self.pool) {
            (Some(after), Some(pool)) => run_timed(pool, &f, after),
            _ => run_here(&*f),
        };
        match &self.retry {
            Some(retry) => retry.call(|| self.attempt(run)),
            None => self.attempt(run).map_err(once),
        }
    }

    /// One attempt: a permit, then `run` through the breaker.
    fn attempt<T>(
        &self,
        run: impl FnOnce() -> Result<T, PolicyError<E>>,
    ) -> Result<T, PolicyError<E>> {
        if let Some(limiter) = &self.limiter {
            limiter.acquire();
        }
        match &self.breaker {
            None => run(),
            Some(breaker) => breaker.call(run).map_err(flatten),
        }
    }

    /// Calls `f` under the policy from async code, on any runtime.
    ///
    /// # Errors
    ///
    /// As [`call`](Policy::call).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops between or inside attempts; an attempt
    /// already admitted by the breaker and dropped is neither a success nor a
    /// failure for it.
    pub async fn call_async<T, F, Fut>(&self, f: F) -> Result<T, RetryError<PolicyError<E>>>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        match &self.retry {
            Some(retry) => retry.call_async(|| self.attempt_async(&f)).await,
            None => self.attempt_async(&f).await.map_err(once),
        }
    }

    async fn attempt_async<T, F, Fut>(&self, f: &F) -> Result<T, PolicyError<E>>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(limiter) = &self.limiter {
            limiter.acquire_async().await;
        }
        let run = || async {
            match self.timeout {
                None => f().await.map_err(PolicyError::Inner),
                Some(after) => {
                    // A deadline past what the clock can count is none.
                    let timer = match &self.clock {
                        Some(clock) => clock
                            .now()
                            .checked_add(after)
                            .map(|at| clock.sleep_until_async(at)),
                        None => {
                            let clock = RealClock::new();
                            clock
                                .now()
                                .checked_add(after)
                                .map(|at| clock.sleep_until_async(at))
                        }
                    };
                    let mut call = pin!(f());
                    let mut timer = pin!(timer);
                    std::future::poll_fn(|cx| {
                        if let Poll::Ready(r) = call.as_mut().poll(cx) {
                            return Poll::Ready(r.map_err(PolicyError::Inner));
                        }
                        match timer.as_mut().as_pin_mut().map(|t| t.poll(cx)) {
                            Some(Poll::Ready(())) => {
                                Poll::Ready(Err(PolicyError::TimedOut { after }))
                            }
                            _ => Poll::Pending,
                        }
                    })
                    .await
                }
            }
        };
        match &self.breaker {
            None => run().await,
            Some(breaker) => breaker.call_async(run).await.map_err(flatten),
        }
    }
}

/// One sync attempt on `pool`, bounded by `after` from now: getting a queue
/// place included. An attempt that has not started by the deadline is
/// cancelled, so it never runs after its caller was told it failed.
fn run_timed<T, E, F>(pool: &Pool, f: &Arc<F>, after: Duration) -> Result<T, PolicyError<E>>
where
    F: Fn() -> Result<T, E> + Send + Sync + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    let job = {
        let f = f.clone();
        move || f()
    };
    let Some(deadline) = deadline_after(after) else {
        // No deadline an Instant can hold: no timeout.
        return from_task(pool.submit(job).wait());
    };
    let timed_out = || Err(PolicyError::TimedOut { after });
    let mut handle = match submit_by(pool, job, deadline) {
        Ok(handle) => handle,
        Err(None) => return timed_out(),
        Err(Some(e)) => return from_task(Err(e)),
    };
    let left = deadline.saturating_duration_since(Instant::now());
    match handle.wait_timeout(left) {
        Err(TaskError::TimedOut) => {
            if handle.cancel() {
                // It had not started, and now never will.
                return timed_out();
            }
            // It started: a genuine timeout, unless it has just finished.
            match handle.try_result() {
                Some(r) => from_task(r),
                None => timed_out(),
            }
        }
        r => from_task(r),
    }
}

/// Submits `job` to `pool`, waiting for a queue place until `deadline` at
/// most: `Err(None)` when there was none by then, `Err(Some(Closed))` when
/// the pool takes no work.
fn submit_by<T, J>(
    pool: &Pool,
    mut job: J,
    deadline: Instant,
) -> Result<TaskHandle<T>, Option<TaskError>>
where
    J: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // The pool offers no wait for a place with a deadline, so poll, backing
    // off to a millisecond: a full queue means attempts already hang, and
    // a millisecond more matters little then.
    let mut pause = Duration::from_micros(50);
    loop {
        match pool.try_submit(job) {
            Ok(handle) => return Ok(handle),
            Err(TrySubmitError::Full(back)) => job = back,
            // Closed: only dropping the policy shuts its pool down.
            Err(_) => return Err(Some(TaskError::Closed)),
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(None);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(1));
    }
}

/// One attempt of `f` on the calling thread, its panic caught.
fn run_here<T, E>(f: &impl Fn() -> Result<T, E>) -> Result<T, PolicyError<E>> {
    from_task(catch(f))
}

/// An attempt's result from its task's.
fn from_task<T, E>(r: Result<Result<T, E>, TaskError>) -> Result<T, PolicyError<E>> {
    match r {
        Ok(r) => r.map_err(PolicyError::Inner),
        Err(TaskError::Panicked { message }) => Err(PolicyError::Panicked { message }),
        // Refused or cancelled by a pool that was shut down.
        Err(TaskError::Closed | TaskError::Cancelled) => Err(PolicyError::AttemptPoolClosed),
        Err(other) => Err(PolicyError::Panicked {
            message: other.to_string(),
        }),
    }
}

fn flatten<E>(e: BreakerError<PolicyError<E>>) -> PolicyError<E> {
    match e {
        BreakerError::Open { retry_after } => PolicyError::Open { retry_after },
        BreakerError::Inner(inner) => inner,
    }
}

/// The error of a policy without retries: one attempt, given up.
fn once<E>(last: PolicyError<E>) -> RetryError<PolicyError<E>> {
    RetryError {
        attempts: 1,
        elapsed: Duration::ZERO,
        reason: GaveUp::Attempts,
        last,
    }
}
