//! The GCRA state word: protocol rules 1-3 and 6 on the theoretical
//! arrival time, one compare-and-swap per decision.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use super::{AcquireError, RateLimiter, RetryAfter};
use crate::clock::Clock;

impl<C: Clock> RateLimiter<C> {
    /// The TAT increase for `n` permits, or the error when `n > burst`.
    pub(super) fn cost(&self, n: u32) -> Result<u64, AcquireError> {
        if n > self.burst {
            return Err(AcquireError::ExceedsBurst {
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
    pub(super) fn reserve(&self, cost: u64) -> Option<Duration> {
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
    pub(super) fn take(&self, cost: u64, max_wait: u64) -> Result<(u64, u64), Refused> {
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
pub(super) enum Refused {
    /// The slot is this many nanoseconds away.
    Wait(u64),
    /// Protocol rule 6: never, on this clock.
    Never,
}

impl Refused {
    pub(super) fn retry_after(self) -> RetryAfter {
        RetryAfter(match self {
            Refused::Wait(nanos) => Duration::from_nanos(nanos),
            Refused::Never => Duration::MAX,
        })
    }
}

pub(super) fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
