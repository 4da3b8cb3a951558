//! [`wait_for`]: wait on a condition, with a deadline, instead of sleeping.

use std::fmt;
use std::thread;
use std::time::{Duration, Instant};

use crate::clock::deadline_from;

/// Polls `condition` until it returns `true` or `within` has passed.
///
/// It spins and yields for the first few polls, so a condition that turns
/// true at once costs microseconds, then backs off to sleeps of at most
/// 1 ms. Once the deadline has passed it checks one last time, so a
/// condition that turned true exactly at the deadline still counts.
/// `within` saturates: `Duration::MAX` waits for ever.
///
/// Use it in tests instead of a sleep followed by an assertion: the test
/// waits only as long as it must, and a generous `within` (say 30 s) guards
/// against a hang without making a slow machine fail.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use workwise::testing::wait_for;
///
/// let done = Arc::new(AtomicBool::new(false));
/// let d = done.clone();
/// std::thread::spawn(move || d.store(true, Ordering::Release));
/// wait_for(|| done.load(Ordering::Acquire), Duration::from_secs(30))
///     .expect("the thread sets the flag");
///
/// let err = wait_for(|| false, Duration::from_millis(5)).unwrap_err();
/// assert!(err.waited >= Duration::from_millis(5));
/// ```
///
/// # Errors
///
/// [`WaitTimedOut`], with how long it waited, when `condition` was still
/// false at the deadline.
pub fn wait_for(mut condition: impl FnMut() -> bool, within: Duration) -> Result<(), WaitTimedOut> {
    let start = Instant::now();
    let deadline = deadline_from(start, within);
    let mut backoff = Backoff::default();
    loop {
        // Read the time before the check, so that when it says the deadline
        // has passed, this check was made at or after the deadline.
        let now = Instant::now();
        let left = deadline.map(|d| d.saturating_duration_since(now));
        if condition() {
            return Ok(());
        }
        if left == Some(Duration::ZERO) {
            return Err(WaitTimedOut {
                waited: start.elapsed(),
            });
        }
        backoff.pause(left);
    }
}

/// How [`wait_for`] waits between polls: spin, then yield, then sleep for
/// doubling times up to [`Backoff::MAX_SLEEP`].
#[derive(Debug, Default)]
struct Backoff {
    step: u32,
}

impl Backoff {
    /// Polls that spin (2, 4, … 64 spin-loop hints) before any yield.
    const SPIN_STEPS: u32 = 6;
    /// Polls that yield the thread before the first sleep.
    const YIELD_STEPS: u32 = 4;
    const FIRST_SLEEP: Duration = Duration::from_micros(10);
    const MAX_SLEEP: Duration = Duration::from_millis(1);

    /// Waits before the next poll, never longer than `left` (`None`: no
    /// deadline).
    fn pause(&mut self, left: Option<Duration>) {
        let step = self.step;
        self.step = self.step.saturating_add(1);
        if step < Self::SPIN_STEPS {
            for _ in 0..(2u32 << step) {
                std::hint::spin_loop();
            }
        } else if step < Self::SPIN_STEPS + Self::YIELD_STEPS {
            thread::yield_now();
        } else {
            let doublings = (step - Self::SPIN_STEPS - Self::YIELD_STEPS).min(16);
            let sleep = Self::FIRST_SLEEP
                .saturating_mul(1 << doublings)
                .min(Self::MAX_SLEEP);
            thread::sleep(left.map_or(sleep, |left| sleep.min(left)));
        }
    }
}

/// [`wait_for`]'s condition was still false when its time was up.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::testing::{wait_for, WaitTimedOut};
///
/// let err: WaitTimedOut = wait_for(|| false, Duration::from_millis(1)).unwrap_err();
/// assert!(err.waited >= Duration::from_millis(1));
/// println!("{err}");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WaitTimedOut {
    /// How long it waited, from the call to the last check: at least the
    /// `within` it was given.
    pub waited: Duration,
}

impl fmt::Display for WaitTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the condition was still false after waiting {:?}: if it is only slow \
             (a loaded machine), give it a longer `within`; otherwise check that \
             something makes it true (a missed wake-up, a lost task, a deadlock)",
            self.waited
        )
    }
}

impl std::error::Error for WaitTimedOut {}
