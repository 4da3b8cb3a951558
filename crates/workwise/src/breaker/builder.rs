//! Building a breaker, and the errors of a bad configuration.

use std::fmt;
use std::time::Duration;

use super::error::BreakerState;
use super::window::MAX_WINDOW;
use super::word::MAX_HALF_OPEN_CALLS;
use super::{CircuitBreaker, Config};
use crate::clock::{Clock, RealClock};

pub(super) type Hook = Box<dyn Fn(BreakerState, BreakerState) + Send + Sync>;

/// The default `failure_threshold`, used when no opening rule is named.
const DEFAULT_THRESHOLD: u32 = 5;
/// The default `reset_after`.
const DEFAULT_RESET_AFTER: Duration = Duration::from_secs(60);

/// Configures a [`CircuitBreaker`]; made by [`CircuitBreaker::builder`].
///
/// Two rules can open the breaker: [`failure_threshold`](Self::failure_threshold)
/// consecutive failures, and a [`failure_rate`](Self::failure_rate) over the
/// last calls. Name either or both (whichever trips first opens it); name
/// neither and it opens after 5 consecutive failures.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::{CircuitBreaker, ManualClock};
///
/// let breaker = CircuitBreaker::builder()
///     .failure_threshold(5)                       // 5 failures in a row open it,
///     .failure_rate(0.5, 20)                      // and so do 10 in the last 20 calls
///     .reset_after(Duration::from_secs(30))       // then a probe after 30 s
///     .half_open_max_calls(2)                     // 2 probes must succeed to close
///     .on_state_change(|from, to| eprintln!("breaker: {from} -> {to}"))
///     .clock(ManualClock::new())                  // time under the test's control
///     .build()?;
/// # let _ = breaker;
/// # Ok::<(), workwise::BreakerBuildError>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct CircuitBreakerBuilder<C = RealClock> {
    clock: C,
    failure_threshold: Option<u32>,
    failure_rate: Option<(f64, u32)>,
    reset_after: Duration,
    half_open_max_calls: u32,
    hook: Option<Hook>,
}

impl<C: fmt::Debug> fmt::Debug for CircuitBreakerBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerBuilder")
            .field("clock", &self.clock)
            .field("failure_threshold", &self.failure_threshold)
            .field("failure_rate", &self.failure_rate)
            .field("reset_after", &self.reset_after)
            .field("half_open_max_calls", &self.half_open_max_calls)
            .field("on_state_change", &self.hook.as_ref().map(|_| ".."))
            .finish()
    }
}

impl CircuitBreakerBuilder<RealClock> {
    pub(super) fn new() -> Self {
        CircuitBreakerBuilder {
            clock: RealClock::new(),
            failure_threshold: None,
            failure_rate: None,
            reset_after: DEFAULT_RESET_AFTER,
            half_open_max_calls: 1,
            hook: None,
        }
    }
}

impl<C: Clock> CircuitBreakerBuilder<C> {
    /// Opens the breaker after `n` failures in a row (default 5); a
    /// success in between starts the count again.
    ///
    /// # Examples
    ///
    /// ```
    /// let breaker = workwise::CircuitBreaker::builder().failure_threshold(3).build()?;
    /// for _ in 0..3 {
    ///     let _ = breaker.call(|| Err::<(), _>("refused"));
    /// }
    /// assert_eq!(breaker.state(), workwise::BreakerState::Open);
    /// # Ok::<(), workwise::BreakerBuildError>(())
    /// ```
    pub fn failure_threshold(mut self, n: u32) -> Self {
        self.failure_threshold = Some(n);
        self
    }

    /// Opens the breaker when at least `rate` (in (0, 1]) of the last
    /// `window` calls failed, judged once `window` calls have run since it
    /// last closed. Without
    /// [`failure_threshold`](Self::failure_threshold), this is the only
    /// rule.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::{BreakerState, CircuitBreaker};
    ///
    /// let breaker = CircuitBreaker::builder().failure_rate(0.5, 4).build()?;
    /// for fail in [true, false, true] {
    ///     let _ = breaker.call(|| if fail { Err("timeout") } else { Ok(()) });
    /// }
    /// assert_eq!(breaker.state(), BreakerState::Closed); // 3 calls: not judged yet
    /// let _ = breaker.call(|| Ok::<_, &str>(()));         // 2 of the last 4 failed
    /// assert_eq!(breaker.state(), BreakerState::Open);
    /// # Ok::<(), workwise::BreakerBuildError>(())
    /// ```
    ///
    /// # Cost
    ///
    /// Every call then takes a mutex to record its outcome: a shared
    /// write per call, where the consecutive rule alone writes nothing on
    /// success. See [`CircuitBreaker::call`].
    pub fn failure_rate(mut self, rate: f64, window: u32) -> Self {
        self.failure_rate = Some((rate, window));
        self
    }

    /// How long the breaker stays open before it lets a probe through
    /// (default 60 s). The check is lazy: the first call after this time
    /// makes the breaker half-open. A time past the clock's end (say
    /// `Duration::MAX`) never comes: the breaker then stays open for good,
    /// shedding calls with `retry_after` of `Duration::MAX`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let breaker = workwise::CircuitBreaker::builder()
    ///     .reset_after(Duration::from_secs(10))
    ///     .build()?;
    /// # let _ = breaker;
    /// # Ok::<(), workwise::BreakerBuildError>(())
    /// ```
    pub fn reset_after(mut self, d: Duration) -> Self {
        self.reset_after = d;
        self
    }

    /// How many probe calls a half-open breaker lets through (default 1):
    /// it closes once that many have succeeded and opens again on the
    /// first probe failure; other calls meanwhile are shed.
    ///
    /// # Examples
    ///
    /// ```
    /// let breaker = workwise::CircuitBreaker::builder().half_open_max_calls(3).build()?;
    /// # let _ = breaker;
    /// # Ok::<(), workwise::BreakerBuildError>(())
    /// ```
    pub fn half_open_max_calls(mut self, n: u32) -> Self {
        self.half_open_max_calls = n;
        self
    }

    /// Calls `hook(from, to)` once for every change of state, in the order
    /// the changes happened.
    ///
    /// The hook runs after the breaker's internal lock is released, on the
    /// thread that made the change or on another thread that is running
    /// hooks for the same breaker at that moment, so a call may return
    /// just before its change's hook has run. It may call into the breaker.
    ///
    /// A panic in the hook is caught: it never replaces the result of the
    /// call that made the change, and never changes the breaker's state;
    /// later changes still reach the hook. With the `tracing` feature the
    /// panic is logged as a warning; without it, only the panic hook's
    /// usual message (on stderr by default) reports it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use workwise::{BreakerState, CircuitBreaker};
    ///
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// let breaker = CircuitBreaker::builder()
    ///     .failure_threshold(1)
    ///     .on_state_change(move |from, to| log.lock().unwrap().push((from, to)))
    ///     .build()?;
    /// let _ = breaker.call(|| Err::<(), _>("refused"));
    /// assert_eq!(*seen.lock().unwrap(), [(BreakerState::Closed, BreakerState::Open)]);
    /// # Ok::<(), workwise::BreakerBuildError>(())
    /// ```
    ///
    /// # Warning
    ///
    /// Keep the hook short (log, count, alert): while it runs, other
    /// threads' state changes queue up for it.
    pub fn on_state_change(
        mut self,
        hook: impl Fn(BreakerState, BreakerState) + Send + Sync + 'static,
    ) -> Self {
        self.hook = Some(Box::new(hook));
        self
    }

    /// The clock that times `reset_after` (default [`RealClock`]); a
    /// [`ManualClock`](crate::ManualClock) makes tests exact.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::{BreakerState, CircuitBreaker, ManualClock};
    ///
    /// let clock = ManualClock::new();
    /// let breaker = CircuitBreaker::builder()
    ///     .failure_threshold(1)
    ///     .reset_after(Duration::from_secs(60))
    ///     .clock(clock.clone())
    ///     .build()?;
    /// let _ = breaker.call(|| Err::<(), _>("refused"));
    /// clock.advance(Duration::from_secs(60)); // no real minute passes
    /// assert_eq!(breaker.call(|| Ok::<_, ()>(1)), Ok(1)); // the probe
    /// assert_eq!(breaker.state(), BreakerState::Closed);
    /// # Ok::<(), workwise::BreakerBuildError>(())
    /// ```
    pub fn clock<C2: Clock>(self, clock: C2) -> CircuitBreakerBuilder<C2> {
        CircuitBreakerBuilder {
            clock,
            failure_threshold: self.failure_threshold,
            failure_rate: self.failure_rate,
            reset_after: self.reset_after,
            half_open_max_calls: self.half_open_max_calls,
            hook: self.hook,
        }
    }

    /// Builds the breaker, closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let breaker = workwise::CircuitBreaker::builder().build()?;
    /// assert_eq!(breaker.state(), workwise::BreakerState::Closed);
    /// # Ok::<(), workwise::BreakerBuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`BreakerBuildError`] that says what to change: a zero failure
    /// threshold, a rate outside (0, 1], a window of zero or more than
    /// 2^20 calls, a zero `reset_after`, or zero or more than 65535
    /// half-open calls.
    pub fn build(self) -> Result<CircuitBreaker<C>, BreakerBuildError> {
        if self.failure_threshold == Some(0) {
            return Err(BreakerBuildError::ZeroFailureThreshold);
        }
        if let Some((rate, window)) = self.failure_rate {
            if !(rate > 0.0 && rate <= 1.0) {
                return Err(BreakerBuildError::FailureRateOutOfRange { rate });
            }
            if window == 0 {
                return Err(BreakerBuildError::ZeroWindow);
            }
            if window > MAX_WINDOW {
                return Err(BreakerBuildError::WindowTooLarge { window });
            }
        }
        if self.reset_after.is_zero() {
            return Err(BreakerBuildError::ZeroResetAfter);
        }
        if self.half_open_max_calls == 0 {
            return Err(BreakerBuildError::ZeroHalfOpenCalls);
        }
        if self.half_open_max_calls > MAX_HALF_OPEN_CALLS {
            return Err(BreakerBuildError::TooManyHalfOpenCalls {
                requested: self.half_open_max_calls,
            });
        }
        let threshold = match (self.failure_threshold, self.failure_rate) {
            (None, None) => Some(DEFAULT_THRESHOLD),
            (t, _) => t,
        };
        Ok(CircuitBreaker::from_config(
            Config {
                threshold,
                rate: self.failure_rate,
                reset_after: self.reset_after,
                half_open_max: self.half_open_max_calls as u16,
            },
            self.clock,
            self.hook,
        ))
    }
}

/// Why a breaker could not be built; its message says what to do instead.
///
/// # Examples
///
/// ```
/// use workwise::{BreakerBuildError, CircuitBreaker};
///
/// let err = CircuitBreaker::builder().failure_threshold(0).build().unwrap_err();
/// assert_eq!(err, BreakerBuildError::ZeroFailureThreshold);
/// assert!(err.to_string().contains("at least 1"));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum BreakerBuildError {
    /// `failure_threshold(0)`.
    ZeroFailureThreshold,
    /// `failure_rate(rate, _)` with `rate` not in (0, 1] (NaN included).
    FailureRateOutOfRange {
        /// The rate asked for.
        rate: f64,
    },
    /// `failure_rate(_, 0)`.
    ZeroWindow,
    /// `failure_rate(_, window)` with more than 2^20 calls.
    WindowTooLarge {
        /// The window asked for.
        window: u32,
    },
    /// `reset_after(Duration::ZERO)`.
    ZeroResetAfter,
    /// `half_open_max_calls(0)`.
    ZeroHalfOpenCalls,
    /// `half_open_max_calls(n)` with `n` above 65535.
    TooManyHalfOpenCalls {
        /// The number asked for.
        requested: u32,
    },
}

impl fmt::Display for BreakerBuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BreakerBuildError::ZeroFailureThreshold => f.write_str(
                "failure_threshold(0) would open the breaker before any call failed: \
                 use at least 1 (the default is 5 failures in a row)",
            ),
            BreakerBuildError::FailureRateOutOfRange { rate } => write!(
                f,
                "failure_rate({rate}, _) is not a fraction of calls: use a rate above 0 and \
                 at most 1, such as 0.5 to open when half the calls fail"
            ),
            BreakerBuildError::ZeroWindow => f.write_str(
                "failure_rate(_, 0) judges no calls: use a window of at least 1 call, \
                 such as 20 or 100",
            ),
            BreakerBuildError::WindowTooLarge { window } => write!(
                f,
                "failure_rate(_, {window}) is a window too long to react to an outage: \
                 use at most {MAX_WINDOW} calls (20 to 100 is usual)"
            ),
            BreakerBuildError::ZeroResetAfter => f.write_str(
                "reset_after(0) would let every call through at once after opening, shedding \
                 nothing: use a pause the service can recover in, such as 30 s (the default \
                 is 60 s)",
            ),
            BreakerBuildError::ZeroHalfOpenCalls => f.write_str(
                "half_open_max_calls(0) lets no probe through, so the breaker could never \
                 close again: use at least 1 (the default)",
            ),
            BreakerBuildError::TooManyHalfOpenCalls { requested } => write!(
                f,
                "half_open_max_calls({requested}) is more probes than a recovering service \
                 should take at once: use at most {MAX_HALF_OPEN_CALLS} (1 to 10 is usual)"
            ),
        }
    }
}

impl std::error::Error for BreakerBuildError {}
