//! The manual clock, for tests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use event_listener::{Event, Listener};

use super::sleep::SleepInner;
use super::{Clock, Sleep};

/// A clock that moves only when told to, for tests. Clones share one time.
///
/// Threads blocked in [`Clock::sleep_until`] and futures from
/// [`Clock::sleep_until_async`] wake when [`advance`](ManualClock::advance)
/// moves the time past their deadline.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// let sleeper = {
///     let clock = clock.clone();
///     std::thread::spawn(move || clock.sleep_until(Duration::from_secs(60)))
/// };
/// clock.advance(Duration::from_secs(60)); // no real minute passes
/// sleeper.join().unwrap();
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    pub(super) inner: Arc<ManualInner>,
}

#[derive(Debug, Default)]
pub(super) struct ManualInner {
    nanos: AtomicU64,
    pub(super) moved: Event,
}

impl ManualClock {
    /// A clock at time zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the time forward by `d`.
    pub fn advance(&self, d: Duration) {
        let d = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .inner
            .nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_add(d))
            });
        self.inner.moved.notify(usize::MAX);
    }

    /// Moves the time *back* by `d` (stopping at zero), for tests of what
    /// code does when a real clock steps back.
    ///
    /// This breaks [`Clock::now`]'s promise on purpose: a real clock can
    /// still step back a little, for instance a TSC read on a core whose
    /// counter is behind another's, and code that reads a clock must never
    /// hand out more because of it. A thread asleep on this clock sleeps on
    /// until the time passes its deadline again.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::{Clock, ManualClock, RateLimiter};
    ///
    /// let clock = ManualClock::new();
    /// let limiter = RateLimiter::per_second(1).clock(clock.clone()).build()?;
    /// clock.advance(Duration::from_secs(10));
    /// limiter.try_acquire()?;
    /// clock.rewind(Duration::from_secs(5));
    /// assert_eq!(clock.now(), Duration::from_secs(5));
    /// assert!(limiter.try_acquire().is_err()); // the step back grants nothing
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rewind(&self, d: Duration) {
        let d = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .inner
            .nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_sub(d))
            });
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.inner.nanos.load(Ordering::Acquire))
    }

    fn sleep_until(&self, at: Duration) {
        loop {
            if self.now() >= at {
                return;
            }
            let listener = self.inner.moved.listen();
            if self.now() >= at {
                return;
            }
            listener.wait();
        }
    }

    fn sleep_until_async(&self, at: Duration) -> Sleep {
        Sleep(SleepInner::Manual {
            clock: self.clone(),
            at,
            listener: None,
        })
    }
}
