//! The delay schedule, and the small PRNG behind the jitter.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::iter::FusedIterator;
use std::time::Duration;

use super::Backoff;

/// The delays of a [`Retry`](super::Retry)'s schedule, from [`Retry::delays`](super::Retry::delays).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::Retry;
///
/// let retry = Retry::<()>::exponential(Duration::from_secs(1)).max_attempts(4).build()?;
/// let total: Duration = retry.delays().sum();
/// assert_eq!(total, Duration::from_secs(1 + 2 + 4));
/// # Ok::<(), workwise::RetryBuildError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Delays {
    pub(super) backoff: Backoff,
    /// The next delay before the cap and jitter.
    pub(super) next: Duration,
    pub(super) cap: Duration,
    pub(super) remaining: usize,
    pub(super) rng: Option<Rng>,
}

impl Iterator for Delays {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.remaining = self.remaining.checked_sub(1)?;
        let delay = self.next.min(self.cap);
        if self.backoff == Backoff::Exponential {
            self.next = delay.saturating_mul(2).min(self.cap);
        }
        Some(match &mut self.rng {
            Some(rng) => rng.up_to(delay),
            None => delay,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Delays {}
impl FusedIterator for Delays {}

/// xorshift64*: small, fast and plenty for spreading retries (not for
/// anything secret).
#[derive(Debug, Clone)]
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        // One splitmix64 step, so that nearby seeds give unrelated streams
        // and the state is never zero.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Rng(if z == 0 { 0x9E37_79B9_7F4A_7C15 } else { z })
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, d]`, to the nanosecond.
    fn up_to(&mut self, d: Duration) -> Duration {
        let n = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let scaled = (u128::from(self.next_u64()) * (u128::from(n) + 1)) >> 64;
        Duration::from_nanos(u64::try_from(scaled).unwrap_or(n))
    }
}

/// A random seed for an unseeded call: std's per-process random hash keys.
pub(super) fn fresh_seed() -> u64 {
    RandomState::new().build_hasher().finish()
}
