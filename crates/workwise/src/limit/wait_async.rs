//! The async waits: [`RateLimiter::acquire_async`] and
//! [`RateLimiter::acquire_n_async`] reserve their slot as the blocking calls
//! do (protocol rule 3), then sleep on the clock's async sleep.

use super::{AcquireError, RateLimiter};
use crate::clock::Clock;

impl<C: Clock> RateLimiter<C> {
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
    /// # Ok::<(), workwise::LimitBuildError>(())
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
    /// use workwise::{AcquireError, RateLimiter};
    ///
    /// let limiter = RateLimiter::per_second(1000).burst(4).build()?;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// limiter.acquire_n_async(4).await.unwrap();
    /// assert_eq!(
    ///     limiter.acquire_n_async(5).await, // more than the burst: never
    ///     Err(AcquireError::ExceedsBurst { requested: 5, burst: 4 })
    /// );
    /// # });
    /// # Ok::<(), workwise::LimitBuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`AcquireError::ExceedsBurst`] at once, reserving nothing, when `n` is
    /// more than the burst.
    ///
    /// # Cancel safety
    ///
    /// As for [`acquire_async`](Self::acquire_async): a future dropped after
    /// its first poll forfeits its `n` permits.
    pub async fn acquire_n_async(&self, n: u32) -> Result<(), AcquireError> {
        let cost = self.cost(n)?;
        if cost > 0 {
            if let Some(at) = self.reserve(cost) {
                self.clock.sleep_until_async(at).await;
            }
        }
        Ok(())
    }
}
