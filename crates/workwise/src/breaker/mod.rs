//! A circuit breaker: stop calling a service that keeps failing, give it
//! time to recover, then let a few probe calls find out whether it has.
//!
//! The guide's sketch keeps its failure count and state in plain fields, so
//! two threads that fail at once can lose a count, both open it, or both let
//! a probe through. Here the state, the count and an epoch live in one
//! atomic word and every change is a compare-and-swap on it (the protocol
//! below), so counts are exact and every transition happens exactly once,
//! however many threads call.
//!
//! The public face is [`CircuitBreaker`]; the engine is in `core.rs`, the
//! state word in `word.rs`, the failure-rate window in `window.rs`.
//!
//! # Protocol
//!
//! 1. One `u64` state word holds the state (2 bits), an epoch (30 bits, one
//!    more on every transition, wrapping) and a payload (32 bits): the
//!    consecutive failures while closed; the probes admitted and the probes
//!    succeeded (16 bits each) while half-open; zero while open.
//! 2. A call is admitted against the word it read and carries that word's
//!    state and epoch. Its outcome changes the word only by a
//!    compare-and-swap from a word in the same state and epoch; an outcome
//!    from an earlier epoch is counted in the stats and otherwise ignored,
//!    so a slow call cannot trip, close or count towards a breaker that has
//!    moved on. (A call would have to stay in flight through 2^30
//!    transitions for its epoch to come round again.)
//! 3. Closed admission is one load and writes nothing. A success writes only
//!    when it finds the failure count non-zero (it loads first), and then
//!    sets it to zero. A failure adds one to the count, except the failure
//!    that reaches `failure_threshold`, which opens the breaker (rule 5)
//!    instead.
//! 4. Half-open admission adds one to `admitted` while it is below
//!    `half_open_max_calls`, and otherwise rejects. A probe's success adds
//!    one to `succeeded`, except the success that makes it
//!    `half_open_max_calls`, which closes the breaker; any probe failure
//!    opens it (both by rule 5). A probe that ends without an outcome (its
//!    closure panicked, its future was dropped) takes one from `admitted`,
//!    handing its slot to the next caller.
//! 5. A transition is made under the `transitions` mutex: re-read the word,
//!    decide again, and compare-and-swap it to the new state with the next
//!    epoch, deciding again if the swap fails. Under the mutex no other
//!    thread can change the state (only the payload, by rules 3 and 4), and
//!    the epoch changes with each transition, so each one is made exactly
//!    once: none is lost, none doubled. A transition to open first stores
//!    `half_open_at = now + reset_after`; the swap (release) publishes it
//!    to callers that load the word (acquire). When that sum reaches the
//!    clock's end (`u64::MAX` nanoseconds, about 584 years, where a
//!    `ManualClock` stops), it stores `NEVER` (`u64::MAX`) instead, never a
//!    saturated time that the clock could sit at.
//! 6. Open admission reads the clock. At `half_open_at == NEVER` it rejects
//!    with `retry_after = Duration::MAX`, for good. Before `half_open_at`
//!    it rejects with `retry_after = half_open_at - now`. From then on it takes the mutex
//!    and, if the word is still the open word it read, moves to half-open
//!    with `admitted = 1`: this caller is the first probe. Otherwise it
//!    starts again from the new word.
//! 7. With a failure rate, closed-state outcomes are also recorded, under
//!    their own mutex, in a window tagged with the closed epoch it counts: an
//!    outcome from a newer epoch resets the window, one from an older epoch
//!    is dropped. When the window is full and holds enough failures, the
//!    breaker opens by rule 5, if it is still closed at that epoch.
//! 8. Each transition appends `(from, to)` to a queue under the
//!    `transitions` mutex, so the queue is in transition order. After
//!    releasing the mutex, the thread takes the hook gate (`try_lock`),
//!    calls the hook for each queued change, releases the gate and looks at
//!    the queue again. A thread that finds the gate taken leaves its change
//!    to the holder, whose second look finds it. So the hook runs once per
//!    transition, in order, never under the mutex. A panic in the hook is
//!    caught and reported (a `tracing` warning), so it cannot replace a
//!    call's result or leave later changes in the queue.
//! 9. Counters live in per-thread stripes (relaxed adds); `stats()` sums
//!    them. `times_opened` is added under the mutex.

mod builder;
mod core;
mod error;
#[cfg(all(test, loom))]
mod loom_tests;
mod stats;
mod window;
mod word;

use std::fmt;
use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;

pub use builder::{BreakerBuildError, CircuitBreakerBuilder};
pub use error::{BreakerError, BreakerState};
pub use stats::BreakerStats;

use self::core::{Config, Inner};
use builder::Hook;

use crate::clock::{Clock, RealClock};
use crate::sync::Arc;

/// Stops calling a failing service for a while, then probes it: closed
/// (calls go through), open (calls are shed at once with
/// [`BreakerError::Open`]), half-open (a few probes decide).
///
/// ```text
///            failure_threshold in a row,             reset_after passed,
///            or failure_rate over the window         next call is a probe
///   Closed ─────────────────────────────────► Open ─────────────────────► HalfOpen
///     ▲                                        ▲                            │ │
///     │                                        └──── any probe fails ───────┘ │
///     └────────────── half_open_max_calls probes succeed ─────────────────────┘
/// ```
///
/// Counts and transitions are exact however many threads call: two
/// failures at once are two failures, the breaker opens once, and a
/// half-open breaker lets through exactly `half_open_max_calls` probes.
/// A call that was let through before a transition and returns after it
/// does not count towards the new state. Clones share one breaker.
///
/// **Which errors count.** By default every `Err` is a failure. To choose,
/// pass a predicate with the call:
/// [`call_with`](Self::call_with)`(f, is_failure)`. An error it does not
/// count (a 404, a validation error: the service answered) counts as a
/// success for the breaker's health and is still returned as
/// [`BreakerError::Inner`]. The predicate goes with the call, not into the
/// builder, so that the breaker's type does not depend on an error type:
/// one breaker can guard calls with different error types, and a struct
/// field is just `CircuitBreaker`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::{BreakerError, BreakerState, CircuitBreaker, ManualClock};
///
/// let clock = ManualClock::new();
/// let breaker = CircuitBreaker::builder()
///     .failure_threshold(3)
///     .reset_after(Duration::from_secs(30))
///     .clock(clock.clone())
///     .build()?;
///
/// for _ in 0..3 {
///     assert!(breaker.call(|| Err::<(), _>("connection refused")).is_err());
/// }
/// assert_eq!(breaker.state(), BreakerState::Open);
///
/// // Shed without running: the service gets time to recover.
/// let shed = breaker.call(|| -> Result<(), &str> { unreachable!() });
/// assert_eq!(shed, Err(BreakerError::Open { retry_after: Duration::from_secs(30) }));
///
/// clock.advance(Duration::from_secs(30));
/// assert_eq!(breaker.call(|| Ok::<_, &str>("pong")), Ok("pong")); // the probe
/// assert_eq!(breaker.state(), BreakerState::Closed);
/// # Ok::<(), workwise::BreakerBuildError>(())
/// ```
///
/// # When to use this instead of a retry
///
/// A retry rides out a blip of a few failures; a breaker stops calling
/// during an outage, so callers fail fast instead of waiting out timeouts
/// and a struggling service is not kept down by the load. They combine: a
/// retry around a breaker call should stop, or wait `retry_after`, when
/// the call is shed.
pub struct CircuitBreaker<C = RealClock> {
    inner: Arc<Inner<C>>,
}

impl CircuitBreaker<RealClock> {
    /// A builder with the defaults: open after 5 failures in a row, probe
    /// after 60 s, one probe call, the real clock.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let breaker = workwise::CircuitBreaker::builder()
    ///     .failure_threshold(5)
    ///     .reset_after(Duration::from_secs(60))
    ///     .build()?;
    /// assert_eq!(breaker.call(|| "42".parse::<u32>()), Ok(42));
    /// # Ok::<(), workwise::BreakerBuildError>(())
    /// ```
    pub fn builder() -> CircuitBreakerBuilder<RealClock> {
        CircuitBreakerBuilder::new()
    }
}

impl<C: Clock> CircuitBreaker<C> {
    fn from_config(cfg: Config, clock: C, hook: Option<Hook>) -> Self {
        CircuitBreaker {
            inner: Arc::new(Inner::new(cfg, clock, hook)),
        }
    }

    /// Runs `f` if the breaker lets it, and counts every `Err` as a
    /// failure.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::{BreakerError, CircuitBreaker};
    ///
    /// let breaker = CircuitBreaker::builder().failure_threshold(2).build()?;
    /// assert_eq!(breaker.call(|| "7".parse::<u8>()), Ok(7));
    /// let err = breaker.call(|| "x".parse::<u8>()).unwrap_err();
    /// assert!(matches!(err, BreakerError::Inner(_)));
    /// # Ok::<(), workwise::BreakerBuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`BreakerError::Open`] without running `f` while the breaker is open
    /// (or half-open with every probe slot taken);
    /// [`BreakerError::Inner`] with `f`'s own error.
    ///
    /// # Cost
    ///
    /// Closed, on success: two loads of the state word (one before `f`,
    /// one after) and one relaxed add to this thread's stripe of the
    /// counters. No cache line that other threads write is written, so
    /// threads calling one breaker do not slow each other down. A failure
    /// adds a compare-and-swap on the state word; an open breaker, a clock
    /// read. With [`failure_rate`](CircuitBreakerBuilder::failure_rate),
    /// every call also takes the window's mutex (a shared write). The
    /// workwise-bench row `breaker.call` measures this against failsafe and
    /// a bare call.
    #[inline]
    pub fn call<T, E>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, BreakerError<E>> {
        self.call_with(f, |_| true)
    }

    /// Runs `f` if the breaker lets it; an error counts as a failure only
    /// when `is_failure` says so, and otherwise as a success.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::{BreakerState, CircuitBreaker};
    ///
    /// let breaker = CircuitBreaker::builder().failure_threshold(1).build()?;
    /// let server_error = |status: &u16| *status >= 500;
    ///
    /// // A 404 is the caller's problem, not an outage: the breaker stays closed.
    /// let r = breaker.call_with(|| Err::<(), u16>(404), server_error);
    /// assert_eq!(r.unwrap_err().into_inner(), Some(404));
    /// assert_eq!(breaker.state(), BreakerState::Closed);
    ///
    /// let _ = breaker.call_with(|| Err::<(), u16>(503), server_error);
    /// assert_eq!(breaker.state(), BreakerState::Open);
    /// # Ok::<(), workwise::BreakerBuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    ///
    /// # Cost
    ///
    /// As [`call`](Self::call), plus `is_failure` on an error.
    #[inline]
    pub fn call_with<T, E>(
        &self,
        f: impl FnOnce() -> Result<T, E>,
        is_failure: impl FnOnce(&E) -> bool,
    ) -> Result<T, BreakerError<E>> {
        let ticket = self.inner.admit()?;
        let result = f();
        let failed = match &result {
            Ok(_) => false,
            Err(e) => is_failure(e),
        };
        ticket.finish(failed);
        result.map_err(BreakerError::Inner)
    }

    /// Like [`call`](Self::call), for a call that returns a future; it needs
    /// no particular runtime.
    ///
    /// The breaker decides whether to let the call through when the
    /// returned future is first polled.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::CircuitBreaker;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let breaker = CircuitBreaker::builder().build()?;
    /// let r = breaker.call_async(|| async { Ok::<_, std::io::Error>("pong") }).await;
    /// assert_eq!(r.unwrap(), "pong");
    /// # Ok::<(), workwise::BreakerBuildError>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes records no outcome: the call
    /// counts as neither success nor failure, and a half-open probe's slot
    /// is handed to the next caller.
    ///
    /// # Cost
    ///
    /// As [`call`](Self::call).
    pub async fn call_async<T, E, F, Fut>(&self, f: F) -> Result<T, BreakerError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.call_async_with(f, |_| true).await
    }

    /// Like [`call_with`](Self::call_with), for a call that returns a
    /// future.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Error, ErrorKind};
    /// use workwise::{BreakerState, CircuitBreaker};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let breaker = CircuitBreaker::builder().failure_threshold(1).build()?;
    /// let outage = |e: &Error| e.kind() != ErrorKind::NotFound;
    /// let r = breaker
    ///     .call_async_with(|| async { Err::<(), _>(Error::from(ErrorKind::NotFound)) }, outage)
    ///     .await;
    /// assert!(r.is_err());
    /// assert_eq!(breaker.state(), BreakerState::Closed);
    /// # Ok::<(), workwise::BreakerBuildError>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    ///
    /// # Cancel safety
    ///
    /// As [`call_async`](Self::call_async).
    ///
    /// # Cost
    ///
    /// As [`call`](Self::call).
    pub async fn call_async_with<T, E, F, Fut>(
        &self,
        f: F,
        is_failure: impl FnOnce(&E) -> bool,
    ) -> Result<T, BreakerError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let ticket = self.inner.admit()?;
        let result = f().await;
        let failed = match &result {
            Ok(_) => false,
            Err(e) => is_failure(e),
        };
        ticket.finish(failed);
        result.map_err(BreakerError::Inner)
    }
}

impl<C> CircuitBreaker<C> {
    /// The clock the breaker reads (a [`Policy`](crate::Policy) times its
    /// async attempts on it by default).
    pub(crate) fn clock(&self) -> &C {
        &self.inner.clock
    }

    /// The state now.
    ///
    /// An open breaker becomes half-open on the first call after
    /// `reset_after`, not by itself: until that call, this says `Open`.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::{BreakerState, CircuitBreaker};
    ///
    /// let breaker = CircuitBreaker::builder().build()?;
    /// assert_eq!(breaker.state(), BreakerState::Closed);
    /// # Ok::<(), workwise::BreakerBuildError>(())
    /// ```
    pub fn state(&self) -> BreakerState {
        self.inner.load().state()
    }

    /// The counters so far: successes, failures, calls shed, times opened.
    ///
    /// # Examples
    ///
    /// ```
    /// let breaker = workwise::CircuitBreaker::builder().build()?;
    /// let _ = breaker.call(|| Ok::<_, ()>(()));
    /// assert_eq!(breaker.stats().successes, 1);
    /// # Ok::<(), workwise::BreakerBuildError>(())
    /// ```
    ///
    /// # Cost
    ///
    /// Reads one cache line per stripe (one stripe per core, at most 64).
    pub fn stats(&self) -> BreakerStats {
        self.inner.stats.sum(self.inner.times_opened.load(Relaxed))
    }
}

impl<C> Clone for CircuitBreaker<C> {
    fn clone(&self) -> Self {
        CircuitBreaker {
            inner: self.inner.clone(),
        }
    }
}

impl<C: fmt::Debug> fmt::Debug for CircuitBreaker<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("state", &self.state())
            .field("stats", &self.stats())
            .field("clock", &self.inner.clock)
            .finish_non_exhaustive()
    }
}
