//! A rate limiter: the generic cell rate algorithm (GCRA) on one atomic word.
//!
//! A limiter of `n` permits per `period` hands out one permit every
//! *interval* (`period / n`), and lets up to `burst` permits go at once after
//! a quiet spell. Its whole state is the *theoretical arrival time* (TAT):
//! the clock time, in nanoseconds, at which the limiter would be idle again.
//! Every decision reads the clock once and moves the TAT with one
//! compare-and-swap, so there is no lock, no refill task and no per-caller
//! memory.
//!
//! # Protocol
//!
//! Let `T` be the interval and `L = burst × T`, both in whole nanoseconds.
//!
//! 1. A request for `k` permits at time `now` would move the TAT to
//!    `new = max(TAT, now) + k × T`; its *slot* is `new − L`, the time at
//!    which it conforms. It may go at once when `slot ≤ now`.
//! 2. `try_acquire*` compare-and-swaps the TAT to `new` only when it may go at
//!    once; otherwise it changes nothing and reports `slot − now` as the
//!    wait. It never takes a slot in the future, so it cannot jump ahead of
//!    a waiting caller.
//! 3. `acquire*` compare-and-swaps the TAT to `new` unconditionally: that
//!    *reserves* its slot. Then it sleeps on the clock until the slot. Each
//!    successful swap moves the TAT forward by at least `T`, so slots are
//!    handed out in the order of the swaps: callers that wait are served
//!    first come, first served, and none of them spins.
//! 4. A reserved slot is never given back (a later caller may already have
//!    reserved the one after it). A caller that gives up after reserving,
//!    such as a dropped [`acquire_async`](RateLimiter::acquire_async) future,
//!    leaves its slot unused: the rate can only come out lower, never
//!    higher.
//! 5. The TAT guards no other data, and every change to it is a
//!    read-modify-write of that one word, so relaxed ordering is enough: the
//!    word's modification order is the order of the grants.
//!
//! 6. The clock's end is the last nanosecond a `u64` holds (about 584 years;
//!    a [`ManualClock`](crate::ManualClock) stops there). A request whose new
//!    TAT would pass it is refused, never granted: `try_acquire*` reports
//!    [`RetryAfter`]`(Duration::MAX)` ("never"), and `acquire*` waits for a
//!    time that never comes. A TAT pinned at the end would let every request
//!    through, since no slot could ever look late.
//!
//! With these rules, the permits granted in any window of length `w` number
//! at most `burst + w / T`.

use std::fmt;
use std::time::Duration;

use crossbeam_utils::CachePadded;

use crate::clock::{Clock, RealClock};

#[cfg(loom)]
use loom::sync::atomic::AtomicU64;
#[cfg(not(loom))]
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

/// The longest `interval × burst` a limiter accepts, so that clock times
/// plus that window fit a `u64` of nanoseconds for centuries of uptime.
const MAX_WINDOW: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// A lock-free rate limiter: `n` permits per period, with a burst.
///
/// Share it between threads by reference (in [`std::thread::scope`] or a
/// [`Pool::scope`](crate::Pool::scope)) or in an [`Arc`](std::sync::Arc).
/// The clock is a type parameter, so reading the default [`RealClock`] (the
/// CPU's counter where the kernel vouches for it, the OS monotonic clock
/// elsewhere) is a direct call, and tests can use a
/// [`ManualClock`](crate::ManualClock).
///
/// The default burst is 1: permits are spaced evenly, one per interval,
/// which is what an API's "10 requests a second" usually means. governor
/// defaults to a burst of the whole rate (10 at once, then one every
/// 100 ms); ask for that with [`burst`](RateLimiterBuilder::burst).
///
/// # Examples
///
/// ```
/// use workwise::RateLimiter;
///
/// let limiter = RateLimiter::per_second(10).burst(5).build()?;
/// for _ in 0..5 {
///     limiter.try_acquire()?; // the burst is there at once
/// }
/// let wait = limiter.try_acquire().unwrap_err(); // the sixth must wait
/// assert!(wait.0.as_millis() <= 100);
/// limiter.acquire(); // sleeps until its turn (about 100 ms)
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RateLimiter<C: Clock = RealClock> {
    /// The theoretical arrival time, in nanoseconds on `clock`.
    tat: CachePadded<AtomicU64>,
    /// `T`: nanoseconds between permits, at least 1.
    interval: u64,
    /// `L = burst × T`.
    window: u64,
    burst: u32,
    clock: C,
}

impl<C: Clock> fmt::Debug for RateLimiter<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("interval", &self.interval())
            .field("burst", &self.burst)
            .field("clock", &self.clock)
            .finish()
    }
}

impl RateLimiter<RealClock> {
    /// A builder for a limiter of `n` permits a second.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::RateLimiter;
    ///
    /// let limiter = RateLimiter::per_second(4).build()?;
    /// assert_eq!(limiter.interval(), Duration::from_millis(250));
    /// # Ok::<(), workwise::LimitError>(())
    /// ```
    pub fn per_second(n: u32) -> RateLimiterBuilder {
        Self::new(n, Duration::from_secs(1))
    }

    /// A builder for a limiter of `n` permits a minute.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::RateLimiter;
    ///
    /// let limiter = RateLimiter::per_minute(30).build()?;
    /// assert_eq!(limiter.interval(), Duration::from_secs(2));
    /// # Ok::<(), workwise::LimitError>(())
    /// ```
    pub fn per_minute(n: u32) -> RateLimiterBuilder {
        Self::new(n, Duration::from_secs(60))
    }

    /// A builder for a limiter of `n` permits per `period`.
    ///
    /// The interval between permits is `period / n`, rounded *up* to whole
    /// nanoseconds so that the rate is never exceeded. A rate that rounding
    /// would lower by more than 1% (finer than one permit per nanosecond,
    /// or a few nanoseconds apart) is refused by
    /// [`build`](RateLimiterBuilder::build) with
    /// [`LimitError::RateTooFine`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::RateLimiter;
    ///
    /// let limiter = RateLimiter::new(3, Duration::from_millis(30)).build()?;
    /// assert_eq!(limiter.interval(), Duration::from_millis(10));
    /// # Ok::<(), workwise::LimitError>(())
    /// ```
    #[allow(
        clippy::new_ret_no_self,
        reason = "the general form beside per_second and per_minute; all three return the builder"
    )]
    pub fn new(n: u32, period: Duration) -> RateLimiterBuilder {
        RateLimiterBuilder {
            rate: n,
            period,
            burst: 1,
            clock: RealClock::new(),
        }
    }
}

impl<C: Clock> RateLimiter<C> {
    /// Takes one permit if one is free now, or says how long until one is.
    ///
    /// Never waits and never reserves a future slot, so it cannot take a
    /// turn from a caller blocked in [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::{ManualClock, RateLimiter, RetryAfter};
    ///
    /// let clock = ManualClock::new();
    /// let limiter = RateLimiter::per_second(10).clock(clock.clone()).build()?;
    /// assert_eq!(limiter.try_acquire(), Ok(()));
    /// assert_eq!(limiter.try_acquire(), Err(RetryAfter(Duration::from_millis(100))));
    /// clock.advance(Duration::from_millis(100));
    /// assert_eq!(limiter.try_acquire(), Ok(()));
    /// # Ok::<(), workwise::LimitError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`RetryAfter`] with the wait until a permit is free, when none is now;
    /// `RetryAfter(Duration::MAX)` when none ever will be on this clock
    /// (protocol rule 6: the clock is at its end, some 584 years in).
    ///
    /// # Cost
    ///
    /// One clock read, one load and one compare-and-swap (again only if
    /// another thread changed the limiter in between). The clock read is
    /// most of it: on the default [`RealClock`] reading the CPU's counter
    /// (as here), about 20 ns a call on one thread, 0.73-0.77× governor on
    /// its default quanta clock and about a third of governor on `Instant`;
    /// reading `Instant` (about 30 ns; [`RealClock::os`]) it was 2.1-2.3×
    /// governor-on-quanta and 0.77-0.82× governor-on-`Instant`. The clock is
    /// read as whole nanoseconds ([`Clock::now_nanos`]), skipping a
    /// `Duration` round trip that was worth about 0.2× of governor.
    /// Bench rows `limiter.try_acquire.1t` (one thread) and
    /// `limiter.try_acquire.2t` (two threads on one limiter, where the shared
    /// word's cache line dominates), against governor's `check`.
    #[inline]
    pub fn try_acquire(&self) -> Result<(), RetryAfter> {
        self.take(self.interval, 0)
            .map(drop)
            .map_err(Refused::retry_after)
    }

    /// Takes `n` permits at once if they are free now, or says how long
    /// until they are; `n = 0` always succeeds.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::{ManualClock, RateLimiter, TryAcquireError};
    ///
    /// let limiter = RateLimiter::per_second(10)
    ///     .burst(5)
    ///     .clock(ManualClock::new())
    ///     .build()?;
    /// limiter.try_acquire_n(3)?;
    /// assert!(matches!(limiter.try_acquire_n(3), Err(TryAcquireError::RetryAfter(_))));
    /// assert!(matches!(limiter.try_acquire_n(6), Err(TryAcquireError::ExceedsBurst { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::RetryAfter`] with the wait when the permits are not
    /// free yet; [`TryAcquireError::ExceedsBurst`] when `n` is more than the
    /// burst, which can never succeed.
    ///
    /// # Cost
    ///
    /// As [`try_acquire`](Self::try_acquire).
    pub fn try_acquire_n(&self, n: u32) -> Result<(), TryAcquireError> {
        let cost = self.cost(n).map_err(|_| TryAcquireError::ExceedsBurst {
            requested: n,
            burst: self.burst,
        })?;
        if cost == 0 {
            return Ok(());
        }
        self.take(cost, 0)
            .map(drop)
            .map_err(|why| TryAcquireError::RetryAfter(why.retry_after()))
    }

    /// Takes one permit, blocking the thread until its turn.
    ///
    /// The caller reserves the next free slot at once and then sleeps on the
    /// clock until it: blocked callers are served in the order they arrived,
    /// and none of them spins. (governor's `until_ready` instead sleeps and
    /// retries, and callers that retry race each other in no order.) On a
    /// clock at its end it waits for good (protocol rule 6).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use workwise::RateLimiter;
    ///
    /// let start = Instant::now();
    /// let limiter = RateLimiter::per_second(100).build()?;
    /// for _ in 0..3 {
    ///     limiter.acquire();
    /// }
    /// assert!(start.elapsed() >= Duration::from_millis(20)); // 0, 10 and 20 ms
    /// # Ok::<(), workwise::LimitError>(())
    /// ```
    pub fn acquire(&self) {
        if let Some(at) = self.reserve(self.interval) {
            self.clock.sleep_until(at);
        }
    }

    /// Takes `n` permits at once, blocking the thread until their turn; the
    /// order is first come, first served, as for [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::RateLimiter;
    ///
    /// let limiter = RateLimiter::per_second(1000).burst(10).build()?;
    /// limiter.acquire_n(10)?;
    /// assert!(limiter.acquire_n(11).is_err()); // more than the burst: never
    /// # Ok::<(), workwise::LimitError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`LimitError::ExceedsBurst`] at once, without waiting or reserving,
    /// when `n` is more than the burst: those permits could never be free
    /// together.
    pub fn acquire_n(&self, n: u32) -> Result<(), LimitError> {
        let cost = self.cost(n)?;
        if cost > 0 {
            if let Some(at) = self.reserve(cost) {
                self.clock.sleep_until(at);
            }
        }
        Ok(())
    }

    /// Takes one permit if its turn comes within `timeout`, blocking until
    /// then; otherwise returns at once, reserving nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::{ManualClock, RateLimiter, RetryAfter};
    ///
    /// let limiter = RateLimiter::per_second(1).clock(ManualClock::new()).build()?;
    /// limiter.acquire_timeout(Duration::ZERO)?;
    /// let err = limiter.acquire_timeout(Duration::from_millis(500)).unwrap_err();
    /// assert_eq!(err, RetryAfter(Duration::from_secs(1)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`RetryAfter`] with the whole wait a permit needs now, when that is
    /// longer than `timeout`.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<(), RetryAfter> {
        match self.take(self.interval, duration_nanos(timeout)) {
            Ok((at, wait)) => {
                if wait > 0 {
                    self.clock.sleep_until(Duration::from_nanos(at));
                }
                Ok(())
            }
            Err(why) => Err(why.retry_after()),
        }
    }

    /// Takes one permit, waiting asynchronously until its turn; works on any
    /// runtime (tokio included) or none.
    ///
    /// The future reserves its slot when it is first polled, then sleeps
    /// with [`Clock::sleep_until_async`]; the order is first come, first
    /// served, as for [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::RateLimiter;
    ///
    /// let limiter = RateLimiter::per_second(100).build()?;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// limiter.acquire_async().await;
    /// limiter.acquire_async().await; // about 10 ms later
    /// # });
    /// # Ok::<(), workwise::LimitError>(())
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before its first poll changes nothing. Dropping
    /// it after (under `select!` or a timeout) forfeits its reserved slot:
    /// nobody gets that permit, so the rate is never exceeded, only a permit
    /// goes unused. To give up without losing a slot, decide first with
    /// [`try_acquire`](Self::try_acquire), whose error carries the wait.
    pub async fn acquire_async(&self) {
        if let Some(at) = self.reserve(self.interval) {
            self.clock.sleep_until_async(at).await;
        }
    }

    /// Takes `n` permits at once, waiting asynchronously until their turn.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::RateLimiter;
    ///
    /// let limiter = RateLimiter::per_second(1000).burst(4).build()?;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// limiter.acquire_n_async(4).await.unwrap();
    /// assert!(limiter.acquire_n_async(5).await.is_err());
    /// # });
    /// # Ok::<(), workwise::LimitError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`LimitError::ExceedsBurst`] at once, reserving nothing, when `n` is
    /// more than the burst.
    ///
    /// # Cancel safety
    ///
    /// As for [`acquire_async`](Self::acquire_async): a future dropped after
    /// its first poll forfeits its `n` permits.
    pub async fn acquire_n_async(&self, n: u32) -> Result<(), LimitError> {
        let cost = self.cost(n)?;
        if cost > 0 {
            if let Some(at) = self.reserve(cost) {
                self.clock.sleep_until_async(at).await;
            }
        }
        Ok(())
    }

    /// The time between permits: the period divided by the rate, rounded up
    /// to whole nanoseconds.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let limiter = workwise::RateLimiter::per_second(3).build()?;
    /// assert_eq!(limiter.interval(), Duration::from_nanos(333_333_334));
    /// # Ok::<(), workwise::LimitError>(())
    /// ```
    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.interval)
    }

    /// The most permits granted at once.
    ///
    /// # Examples
    ///
    /// ```
    /// let limiter = workwise::RateLimiter::per_second(10).burst(5).build()?;
    /// assert_eq!(limiter.burst(), 5);
    /// # Ok::<(), workwise::LimitError>(())
    /// ```
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// The clock the limiter reads.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::{Clock, ManualClock, RateLimiter};
    ///
    /// let limiter = RateLimiter::per_second(1).clock(ManualClock::new()).build()?;
    /// assert_eq!(limiter.clock().now(), std::time::Duration::ZERO);
    /// # Ok::<(), workwise::LimitError>(())
    /// ```
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The TAT increase for `n` permits, or the error when `n > burst`.
    fn cost(&self, n: u32) -> Result<u64, LimitError> {
        if n > self.burst {
            return Err(LimitError::ExceedsBurst {
                requested: n,
                burst: self.burst,
            });
        }
        // n ≤ burst, so n × T ≤ L, which `build` checked fits.
        Ok(u64::from(n) * self.interval)
    }

    /// Protocol rule 3: reserves the next slot for `cost` unconditionally;
    /// returns the slot time when it is still in the future.
    #[inline]
    fn reserve(&self, cost: u64) -> Option<Duration> {
        match self.take(cost, u64::MAX) {
            Ok((at, wait)) if wait > 0 => Some(Duration::from_nanos(at)),
            Ok(_) => None,
            // Rule 6: a time no clock reaches, so the caller waits for good.
            Err(_) => Some(Duration::MAX),
        }
    }

    /// Protocol rules 1-3 and 6: moves the TAT by `cost` if the wait for the
    /// slot is at most `max_wait` nanoseconds, returning `(slot, wait)`;
    /// otherwise leaves it and says why.
    #[inline]
    fn take(&self, cost: u64, max_wait: u64) -> Result<(u64, u64), Refused> {
        let now = self.clock.now_nanos();
        let mut tat = self.tat.load(Relaxed);
        loop {
            // Rule 6: a TAT past the clock's end cannot be kept, so that
            // request is never granted.
            let Some(new_tat) = tat.max(now).checked_add(cost) else {
                return Err(Refused::Never);
            };
            let slot = new_tat.saturating_sub(self.window);
            let wait = slot.saturating_sub(now);
            if wait > max_wait {
                return Err(Refused::Wait(wait));
            }
            // A retry keeps the first `now`: an older `now` only makes the
            // decision stricter (protocol rule 1: `max(TAT, now) − now`
            // does not grow as `now` grows).
            match self
                .tat
                .compare_exchange_weak(tat, new_tat, Relaxed, Relaxed)
            {
                Ok(_) => return Ok((slot, wait)),
                Err(actual) => tat = actual,
            }
        }
    }
}

/// Why [`RateLimiter::take`] granted nothing.
#[derive(Clone, Copy)]
enum Refused {
    /// The slot is this many nanoseconds away.
    Wait(u64),
    /// Protocol rule 6: never, on this clock.
    Never,
}

impl Refused {
    fn retry_after(self) -> RetryAfter {
        RetryAfter(match self {
            Refused::Wait(nanos) => Duration::from_nanos(nanos),
            Refused::Never => Duration::MAX,
        })
    }
}

/// The rate, in permits a second, that `rate` per `period` keeps once its
/// interval is rounded up to whole nanoseconds.
fn kept_rate(rate: u32, period: Duration) -> f64 {
    let interval = period.as_nanos().div_ceil(u128::from(rate.max(1))).max(1);
    1e9 / interval as f64
}

fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Configures a [`RateLimiter`]; made by [`RateLimiter::per_second`],
/// [`RateLimiter::per_minute`] or [`RateLimiter::new`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::{ManualClock, RateLimiter};
///
/// let limiter = RateLimiter::new(100, Duration::from_secs(60))
///     .burst(10)
///     .clock(ManualClock::new())
///     .build()?;
/// assert_eq!(limiter.interval(), Duration::from_millis(600));
/// # Ok::<(), workwise::LimitError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct RateLimiterBuilder<C: Clock = RealClock> {
    rate: u32,
    period: Duration,
    burst: u32,
    clock: C,
}

impl<C: Clock> RateLimiterBuilder<C> {
    /// The most permits granted at once after a quiet spell (default 1:
    /// evenly spaced permits). The limiter still grants `n` per period over
    /// time; the burst only lets unused permits pile up, to at most `b`.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::{ManualClock, RateLimiter};
    ///
    /// let limiter = RateLimiter::per_second(10).burst(3).clock(ManualClock::new()).build()?;
    /// assert_eq!((0..5).filter(|_| limiter.try_acquire().is_ok()).count(), 3);
    /// # Ok::<(), workwise::LimitError>(())
    /// ```
    pub fn burst(mut self, b: u32) -> Self {
        self.burst = b;
        self
    }

    /// The clock to read instead of a new [`RealClock`]: a
    /// [`ManualClock`](crate::ManualClock) in tests, or
    /// [`RealClock::os`](crate::RealClock::os) to read the OS monotonic
    /// clock on every call whatever the kernel's clocksource.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::{ManualClock, RateLimiter};
    ///
    /// let clock = ManualClock::new();
    /// let limiter = RateLimiter::per_minute(1).clock(clock.clone()).build()?;
    /// limiter.try_acquire()?;
    /// assert!(limiter.try_acquire().is_err());
    /// clock.advance(Duration::from_secs(60)); // no real minute passes
    /// limiter.try_acquire()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn clock<C2: Clock>(self, clock: C2) -> RateLimiterBuilder<C2> {
        RateLimiterBuilder {
            rate: self.rate,
            period: self.period,
            burst: self.burst,
            clock,
        }
    }

    /// Checks the configuration and makes the limiter, with its full burst
    /// free.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::{LimitError, RateLimiter};
    ///
    /// assert!(RateLimiter::per_second(10).build().is_ok());
    /// assert_eq!(RateLimiter::per_second(0).build().unwrap_err(), LimitError::ZeroRate);
    /// ```
    ///
    /// # Errors
    ///
    /// A [`LimitError`] that says what to change: a rate, period or burst of
    /// zero, an `interval × burst` longer than 100 years, or a rate finer
    /// than whole nanoseconds keep to within 1%
    /// ([`LimitError::RateTooFine`]).
    pub fn build(self) -> Result<RateLimiter<C>, LimitError> {
        if self.rate == 0 {
            return Err(LimitError::ZeroRate);
        }
        if self.period.is_zero() {
            return Err(LimitError::ZeroPeriod);
        }
        if self.burst == 0 {
            return Err(LimitError::ZeroBurst);
        }
        let period = self.period.as_nanos();
        let interval = period.div_ceil(u128::from(self.rate));
        let window = interval * u128::from(self.burst);
        if window > MAX_WINDOW.as_nanos() {
            return Err(LimitError::WindowTooLong);
        }
        // interval ≤ 100 years and rate < 2^32, so neither side overflows:
        // refuse when `interval × rate > 1.01 × period`.
        if interval * u128::from(self.rate) * 100 > period * 101 {
            return Err(LimitError::RateTooFine {
                rate: self.rate,
                period: self.period,
            });
        }
        // Both fit: interval ≤ window ≤ MAX_WINDOW < u64::MAX nanoseconds.
        let interval = u64::try_from(interval).unwrap_or(u64::MAX);
        let window = u64::try_from(window).unwrap_or(u64::MAX);
        Ok(RateLimiter {
            tat: CachePadded::new(AtomicU64::new(0)),
            interval,
            window,
            burst: self.burst,
            clock: self.clock,
        })
    }
}

/// The wait until a permit is free: the answer of a refused
/// [`RateLimiter::try_acquire`]. `Duration::MAX` means never: the clock is
/// at its end.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::{ManualClock, RateLimiter};
///
/// let limiter = RateLimiter::per_second(2).clock(ManualClock::new()).build()?;
/// limiter.try_acquire()?;
/// let wait = limiter.try_acquire().unwrap_err();
/// assert_eq!(wait.0, Duration::from_millis(500));
/// assert!(wait.to_string().contains("500ms"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RetryAfter(pub Duration);

impl fmt::Display for RetryAfter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == Duration::MAX {
            return f.write_str(
                "rate limit reached: a permit will never be free, because the limiter's clock \
                 has reached its end (u64::MAX nanoseconds, about 584 years); build the limiter \
                 on a clock that starts nearer zero",
            );
        }
        write!(
            f,
            "rate limit reached: a permit is free in {:?}; try again then, or call acquire() to wait for it in turn",
            self.0
        )
    }
}

impl std::error::Error for RetryAfter {}

/// Why [`RateLimiter::try_acquire_n`] granted nothing.
///
/// # Examples
///
/// ```
/// use workwise::{ManualClock, RateLimiter, TryAcquireError};
///
/// let limiter = RateLimiter::per_second(10).burst(2).clock(ManualClock::new()).build()?;
/// let err = limiter.try_acquire_n(3).unwrap_err();
/// assert_eq!(err, TryAcquireError::ExceedsBurst { requested: 3, burst: 2 });
/// assert_eq!(err.retry_after(), None);
/// # Ok::<(), workwise::LimitError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TryAcquireError {
    /// Not now: the permits are free after this wait.
    RetryAfter(RetryAfter),
    /// Never: more permits than the burst can ever be free together.
    ExceedsBurst {
        /// The permits asked for.
        requested: u32,
        /// The limiter's burst.
        burst: u32,
    },
}

impl TryAcquireError {
    /// The wait, when waiting can help.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::{ManualClock, RateLimiter};
    ///
    /// let limiter = RateLimiter::per_second(1).clock(ManualClock::new()).build()?;
    /// limiter.try_acquire_n(1)?;
    /// let err = limiter.try_acquire_n(1).unwrap_err();
    /// assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(1)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            TryAcquireError::RetryAfter(r) => Some(r.0),
            TryAcquireError::ExceedsBurst { .. } => None,
        }
    }
}

impl From<RetryAfter> for TryAcquireError {
    fn from(r: RetryAfter) -> Self {
        TryAcquireError::RetryAfter(r)
    }
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryAcquireError::RetryAfter(r) => r.fmt(f),
            TryAcquireError::ExceedsBurst { requested, burst } => LimitError::ExceedsBurst {
                requested: *requested,
                burst: *burst,
            }
            .fmt(f),
        }
    }
}

impl std::error::Error for TryAcquireError {}

/// A rate limiter that cannot work as configured, or a request it can never
/// grant.
///
/// # Examples
///
/// ```
/// use workwise::{LimitError, RateLimiter};
///
/// let err = RateLimiter::per_second(10).burst(0).build().unwrap_err();
/// assert_eq!(err, LimitError::ZeroBurst);
/// assert!(err.to_string().contains("burst(1)"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitError {
    /// A rate of zero permits per period.
    ZeroRate,
    /// A period of zero.
    ZeroPeriod,
    /// A burst of zero.
    ZeroBurst,
    /// `interval × burst` longer than 100 years.
    WindowTooLong,
    /// A rate finer than the limiter keeps: `period / rate`, rounded up to
    /// whole nanoseconds, would lower the rate by more than 1%.
    RateTooFine {
        /// The permits asked for per period.
        rate: u32,
        /// The period.
        period: Duration,
    },
    /// More permits asked for at once than the burst.
    ExceedsBurst {
        /// The permits asked for.
        requested: u32,
        /// The limiter's burst.
        burst: u32,
    },
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitError::ZeroRate => f.write_str(
                "a rate limiter needs a rate of at least 1 permit per period: a rate of 0 would \
                 block every call forever; pick the most calls the service allows (say \
                 RateLimiter::per_second(10)), or per_minute(n) for slower rates",
            ),
            LimitError::ZeroPeriod => f.write_str(
                "a rate limiter needs a period longer than zero: n permits per 0 s is no limit \
                 at all; use RateLimiter::per_second(n) or RateLimiter::new(n, period) with a \
                 period such as Duration::from_secs(1)",
            ),
            LimitError::ZeroBurst => f.write_str(
                "a rate limiter's burst must be at least 1: a burst of 0 would grant nothing; \
                 use .burst(1) (the default) for evenly spaced calls, or more to let that many \
                 go at once",
            ),
            LimitError::WindowTooLong => f.write_str(
                "the rate limiter's interval times its burst is longer than 100 years; use a \
                 shorter period, a higher rate or a smaller burst",
            ),
            LimitError::RateTooFine { rate, period } => write!(
                f,
                "{rate} permits per {period:?} is finer than a rate limiter keeps: it spaces \
                 permits by whole nanoseconds, so it would grant only {kept:.0} a second \
                 ({lost:.0}% fewer than asked). The finest rate it keeps is one permit per \
                 nanosecond (1,000,000,000 a second), when the period divides evenly, and \
                 any rate up to 10,000,000 a second (a permit every 100 ns or more) to \
                 within 1%: ask for a rate of at most that",
                kept = kept_rate(*rate, *period),
                lost = 100.0
                    - 100.0 * kept_rate(*rate, *period) * period.as_secs_f64() / f64::from(*rate),
            ),
            LimitError::ExceedsBurst { requested, burst } => write!(
                f,
                "{requested} permits at once can never be granted by a limiter with a burst of \
                 {burst}: ask for at most {burst} at a time, or build the limiter with \
                 .burst({requested})"
            ),
        }
    }
}

impl std::error::Error for LimitError {}

/// Loom models of the protocol: no grant is lost or doubled when two threads
/// race on the TAT.
#[cfg(all(test, loom))]
mod loom_tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Waker};

    use loom::sync::Arc;
    use loom::thread;

    use super::*;
    use crate::clock::ManualClock;

    fn limiter() -> Arc<RateLimiter<ManualClock>> {
        let built = RateLimiter::per_second(10)
            .clock(ManualClock::new())
            .build();
        Arc::new(built.unwrap_or_else(|e| panic!("{e}")))
    }

    /// Rule 2: with a burst of 1, exactly one of two racing callers wins.
    #[test]
    fn loom_limiter_grants_one_permit_once() {
        loom::model(|| {
            let l = limiter();
            let other = {
                let l = l.clone();
                thread::spawn(move || l.try_acquire().is_ok())
            };
            let mine = l.try_acquire().is_ok();
            let theirs = other.join().unwrap_or(false);
            assert!(mine ^ theirs, "granted {mine} and {theirs}");
        });
    }

    /// Rule 3: two racing reservations take the next two slots, one each.
    #[test]
    fn loom_limiter_reservations_take_distinct_slots() {
        fn reserve(l: &RateLimiter<ManualClock>) -> bool {
            let fut = pin!(l.acquire_async());
            fut.poll(&mut Context::from_waker(Waker::noop())).is_ready()
        }
        loom::model(|| {
            let l = limiter();
            let other = {
                let l = l.clone();
                thread::spawn(move || reserve(&l))
            };
            let mine = reserve(&l);
            let theirs = other.join().unwrap_or(false);
            assert!(mine ^ theirs, "ready: {mine} and {theirs}");
            assert_eq!(l.try_acquire(), Err(RetryAfter(Duration::from_millis(200))));
        });
    }
}
