//! [`RedisRateLimiter`]: the local [`RateLimiter`](crate::RateLimiter)'s
//! GCRA with its one word of state in one Redis key, so that any number of
//! processes, on any number of machines, share one limit.
//!
//! # Protocol
//!
//! The state is the *theoretical arrival time* (TAT) of the local limiter,
//! stored at the key as decimal nanoseconds since the Unix epoch. Let `T` be
//! the interval and `L = burst × T`.
//!
//! 1. Every decision is one call of one Lua script ([`SCRIPT`], sent as
//!    `EVALSHA`, loaded on `NOSCRIPT`): Redis runs a script alone, so the
//!    read, the decision and the write of the TAT are one atomic step for
//!    every process that uses the key.
//! 2. `now` is the server's `TIME`, never a client's clock: processes on
//!    different machines share the server's one clock, and their own clocks
//!    may disagree by any amount.
//! 3. The decision is the local limiter's rules 1-2: a request for `k`
//!    permits moves the TAT to `new = max(TAT, now) + k × T`; it may go when
//!    `new − L ≤ now + max_wait`, and otherwise changes nothing and reports
//!    `new − L − now` as the wait. `try_acquire*` asks with `max_wait = 0`,
//!    `acquire_timeout` with its timeout, `acquire*` with [`LEAD`].
//! 4. A granted request whose slot is still ahead (a reservation) sleeps
//!    that wait on the caller's machine after the reply: it starts no
//!    earlier than the server's slot, so the rate is never exceeded.
//! 5. `acquire*` sleeps the refusal's wait less [`LEAD`] and asks again: it
//!    reserves a slot only once the slot is at most `LEAD` away. A waiter
//!    that dies reserves at most `LEAD` of permits, and a waiter never holds
//!    more than one slot, so waiters never get more than the rate; unlike
//!    the local limiter they are not served first come, first served.
//! 6. Every write sets the key to expire when its TAT has passed (rounded up
//!    to the next millisecond): an absent key and a TAT in the past decide
//!    alike, so idle limits vanish without changing any decision.
//! 7. A key holding anything but such a TAT (another program's value,
//!    another type, a TAT more than 104 days ahead, further than any limiter
//!    writes) is reported as [`RedisLimiterError::Corrupt`] and left as it
//!    is; nothing is granted from it.
//!
//! The script's arithmetic is Lua's (doubles): exact for integers below
//! 2^53, so the window `L` and a wait are kept to at most 30 days (which
//! keeps every TAT within 60 days of `now`, 104 days being the edge).

use std::fmt;
use std::time::Duration;

mod builder;
mod error;

pub use builder::{RedisLimiterBuildError, RedisRateLimiterBuilder};
pub use error::RedisLimiterError;

use super::conn::Conn;
use crate::RetryAfter;

/// The longest `interval × burst`, and the longest wait asked for: the
/// script's doubles keep nanoseconds exact up to 2^53 (about 104 days).
const MAX_WINDOW: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// Protocol rule 5: `acquire` reserves a slot once it is this close.
pub(crate) const LEAD: Duration = Duration::from_millis(10);

/// The first reconnect's delay, and how many tries a call makes.
const RECONNECT: (Duration, usize) = (Duration::from_millis(50), 5);

/// Protocol rules 1-3, 6 and 7. `KEYS[1]` the state; `ARGV`: the cost `k × T`
/// and the window `L` in nanoseconds, the longest wait to reserve for
/// (nanoseconds), and, in this crate's unit tests only, `now` as seconds and
/// nanoseconds instead of `TIME` (the key then does not expire, since its
/// expiry runs on the server's real clock). Replies `{1, wait}` granted (a
/// reservation when `wait > 0`), `{0, wait}` refused, `{-1, found}` corrupt.
pub(crate) const SCRIPT: &str = include_str!("script.lua");

/// A rate limiter whose state lives in Redis: `n` permits per period, with
/// a burst, shared by every handle, thread and process that uses the same
/// key on the same server.
///
/// The algorithm is the local [`RateLimiter`](crate::RateLimiter)'s GCRA, and
/// a refusal carries the same [`RetryAfter`]; the state is one string key,
/// changed by one server-side script per call, on the server's clock (so
/// machines whose clocks disagree still share one limit). Each handle
/// applies its own rate and burst to the shared state: give every handle on
/// a key the same ones. Idle keys expire by themselves.
///
/// Differences from the local limiter: every call is a round trip (and can
/// fail with a [`RedisError`](crate::redis::RedisError));
/// [`acquire`](Self::acquire) sleeps and asks again rather than queueing,
/// so waiters are not served in arrival order
/// (a waiter that dies reserves at most 10 ms of permits); the server's
/// `TIME` is the wall clock, so a server clock stepped forward frees permits
/// early (stepped back, it only makes the limit stricter); a call retried
/// after a lost connection may have taken a permit on its first try that
/// nobody uses (the rate only comes out lower).
///
/// # Examples
///
/// ```
/// use workwise::redis::{LocalServer, RedisLimiterError, RedisRateLimiter};
///
/// # let server = match LocalServer::start() { Ok(s) => s, Err(e) if std::env::var_os("WORKWISE_REQUIRE_REDIS").is_none() => { eprintln!("SKIPPED, no redis-server: {e}"); return Ok(()) } Err(e) => return Err(e.into()) };
/// // Any number of processes that build this limiter share its 5 permits.
/// let limiter = RedisRateLimiter::per_second(10).burst(5).build(&server.url(), "api")?;
/// for _ in 0..5 {
///     limiter.try_acquire()?; // the burst is there at once
/// }
/// let Err(RedisLimiterError::RetryAfter(wait)) = limiter.try_acquire() else {
///     panic!("the sixth must wait");
/// };
/// assert!(wait.0.as_millis() <= 100);
/// limiter.acquire()?; // sleeps until its turn (about 100 ms)
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RedisRateLimiter {
    conn: Conn,
    script: redis::Script,
    key: String,
    /// `T`: nanoseconds between permits, at least 1.
    interval: u64,
    /// `L = burst × T`.
    window: u64,
    burst: u32,
}

impl fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("url", &self.conn.url())
            .field("key", &self.key)
            .field("interval", &self.interval())
            .field("burst", &self.burst)
            .field("lost_connections", &self.conn.lost())
            .finish()
    }
}

/// What the script decided.
enum Decision {
    /// Granted; the slot is this far ahead (0: now).
    Granted(Duration),
    /// Refused; a permit is free after this wait.
    Refused(Duration),
}

impl RedisRateLimiter {
    /// A builder for a limiter of `n` permits a second.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::redis::RedisRateLimiter;
    ///
    /// let builder = RedisRateLimiter::per_second(4);
    /// assert_eq!(builder.interval(), Duration::from_millis(250));
    /// ```
    pub fn per_second(n: u32) -> RedisRateLimiterBuilder {
        Self::new(n, Duration::from_secs(1))
    }

    /// A builder for a limiter of `n` permits a minute.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::redis::RedisRateLimiter;
    ///
    /// let builder = RedisRateLimiter::per_minute(30);
    /// assert_eq!(builder.interval(), Duration::from_secs(2));
    /// ```
    pub fn per_minute(n: u32) -> RedisRateLimiterBuilder {
        Self::new(n, Duration::from_secs(60))
    }

    /// A builder for a limiter of `n` permits per `period`; the interval
    /// between permits is `period / n` rounded up to whole nanoseconds, as
    /// for [`RateLimiter::new`](crate::RateLimiter::new).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::redis::RedisRateLimiter;
    ///
    /// let builder = RedisRateLimiter::new(3, Duration::from_millis(30));
    /// assert_eq!(builder.interval(), Duration::from_millis(10));
    /// ```
    #[allow(
        clippy::new_ret_no_self,
        reason = "the general form beside per_second and per_minute; all three return the builder"
    )]
    pub fn new(n: u32, period: Duration) -> RedisRateLimiterBuilder {
        RedisRateLimiterBuilder::new(n, period)
    }

    /// Takes one permit if one is free now, or says how long until one is.
    ///
    /// One round trip; never waits and never reserves a future slot.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::redis::{LocalServer, RedisRateLimiter};
    ///
    /// # let server = match LocalServer::start() { Ok(s) => s, Err(e) if std::env::var_os("WORKWISE_REQUIRE_REDIS").is_none() => { eprintln!("SKIPPED, no redis-server: {e}"); return Ok(()) } Err(e) => return Err(e.into()) };
    /// let limiter = RedisRateLimiter::per_minute(1).build(&server.url(), "once-a-minute")?;
    /// limiter.try_acquire()?;
    /// let err = limiter.try_acquire().unwrap_err();
    /// assert!(err.retry_after().unwrap().as_secs() >= 59);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`RedisLimiterError::RetryAfter`] with the wait when no permit is free
    /// now; [`RedisLimiterError::Corrupt`] when the key holds something else;
    /// [`RedisLimiterError::Redis`] when the server cannot be reached or
    /// answers with an error.
    ///
    /// # Cost
    ///
    /// One round trip to Redis and one short script there, and nothing else
    /// worth counting: bench row `redis.limiter` (peer `local`, the local
    /// limiter's `try_acquire`) measured 57 µs a call against the local
    /// limiter's 11.5 ns (`--quick`, a `redis-server` on 127.0.0.1 of a
    /// shared 2-core VM; 86-98 µs against 16-17 ns when that VM was
    /// busier), where `redis-benchmark -c 1` gave about 55 µs for an
    /// `EVALSHA` of the same script and 58 µs for a `SET`: the round trip
    /// is the cost. Ask for several permits at once
    /// ([`try_acquire_n`](Self::try_acquire_n)) to pay it once for many.
    pub fn try_acquire(&self) -> Result<(), RedisLimiterError> {
        match self.decide(self.interval, 0, None)? {
            Decision::Granted(_) => Ok(()),
            Decision::Refused(wait) => Err(RedisLimiterError::RetryAfter(RetryAfter(wait))),
        }
    }

    /// Takes `n` permits at once if they are free now, or says how long
    /// until they are; `n = 0` succeeds without a round trip.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::redis::{LocalServer, RedisLimiterError, RedisRateLimiter};
    ///
    /// # let server = match LocalServer::start() { Ok(s) => s, Err(e) if std::env::var_os("WORKWISE_REQUIRE_REDIS").is_none() => { eprintln!("SKIPPED, no redis-server: {e}"); return Ok(()) } Err(e) => return Err(e.into()) };
    /// let limiter = RedisRateLimiter::per_second(10).burst(5).build(&server.url(), "n")?;
    /// limiter.try_acquire_n(3)?;
    /// assert!(matches!(limiter.try_acquire_n(3), Err(RedisLimiterError::RetryAfter(_))));
    /// assert!(matches!(limiter.try_acquire_n(6), Err(RedisLimiterError::ExceedsBurst { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Self::try_acquire), and
    /// [`RedisLimiterError::ExceedsBurst`], without a round trip, when `n`
    /// is more than the burst.
    pub fn try_acquire_n(&self, n: u32) -> Result<(), RedisLimiterError> {
        let cost = self.cost(n)?;
        if cost == 0 {
            return Ok(());
        }
        match self.decide(cost, 0, None)? {
            Decision::Granted(_) => Ok(()),
            Decision::Refused(wait) => Err(RedisLimiterError::RetryAfter(RetryAfter(wait))),
        }
    }

    /// Takes one permit, blocking the thread until its turn.
    ///
    /// It asks, sleeps the wait it is told less 10 ms, and asks again;
    /// within 10 ms of its turn it reserves the slot and sleeps until it
    /// (protocol rule 5). Waiters in other threads and processes are not
    /// served in arrival order, and none gets more than the rate.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use workwise::redis::{LocalServer, RedisRateLimiter};
    ///
    /// # let server = match LocalServer::start() { Ok(s) => s, Err(e) if std::env::var_os("WORKWISE_REQUIRE_REDIS").is_none() => { eprintln!("SKIPPED, no redis-server: {e}"); return Ok(()) } Err(e) => return Err(e.into()) };
    /// let limiter = RedisRateLimiter::per_second(100).build(&server.url(), "paced")?;
    /// let start = Instant::now();
    /// for _ in 0..3 {
    ///     limiter.acquire()?;
    /// }
    /// assert!(start.elapsed() >= Duration::from_millis(19)); // about 0, 10 and 20 ms
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`RedisLimiterError::Corrupt`] or [`RedisLimiterError::Redis`], as
    /// for [`try_acquire`](Self::try_acquire); the wait ends there.
    pub fn acquire(&self) -> Result<(), RedisLimiterError> {
        self.wait_for(self.interval)
    }

    /// Takes `n` permits at once, blocking the thread until their turn, as
    /// [`acquire`](Self::acquire) does for one.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::redis::{LocalServer, RedisRateLimiter};
    ///
    /// # let server = match LocalServer::start() { Ok(s) => s, Err(e) if std::env::var_os("WORKWISE_REQUIRE_REDIS").is_none() => { eprintln!("SKIPPED, no redis-server: {e}"); return Ok(()) } Err(e) => return Err(e.into()) };
    /// let limiter = RedisRateLimiter::per_second(1000).burst(10).build(&server.url(), "n")?;
    /// limiter.acquire_n(10)?;
    /// assert!(limiter.acquire_n(11).is_err()); // more than the burst: never
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`acquire`](Self::acquire), and [`RedisLimiterError::ExceedsBurst`]
    /// at once, without waiting, when `n` is more than the burst.
    pub fn acquire_n(&self, n: u32) -> Result<(), RedisLimiterError> {
        let cost = self.cost(n)?;
        if cost == 0 {
            return Ok(());
        }
        self.wait_for(cost)
    }

    /// Takes one permit if its turn comes within `timeout`, blocking until
    /// then; otherwise returns at once, reserving nothing.
    ///
    /// Waits longer than 30 days are refused whatever the timeout (the
    /// script keeps nanoseconds exact only that far ahead).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::redis::{LocalServer, RedisRateLimiter};
    ///
    /// # let server = match LocalServer::start() { Ok(s) => s, Err(e) if std::env::var_os("WORKWISE_REQUIRE_REDIS").is_none() => { eprintln!("SKIPPED, no redis-server: {e}"); return Ok(()) } Err(e) => return Err(e.into()) };
    /// let limiter = RedisRateLimiter::per_minute(1).build(&server.url(), "slow")?;
    /// limiter.acquire_timeout(Duration::ZERO)?;
    /// let err = limiter.acquire_timeout(Duration::from_millis(500)).unwrap_err();
    /// assert!(err.retry_after().unwrap() > Duration::from_secs(59));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`RedisLimiterError::RetryAfter`] with the whole wait a permit needs
    /// now, when that is longer than `timeout`; otherwise as
    /// [`try_acquire`](Self::try_acquire).
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<(), RedisLimiterError> {
        match self.decide(self.interval, nanos(timeout.min(MAX_WINDOW)), None)? {
            Decision::Granted(wait) => {
                std::thread::sleep(wait);
                Ok(())
            }
            Decision::Refused(wait) => Err(RedisLimiterError::RetryAfter(RetryAfter(wait))),
        }
    }

    /// The time between permits: the period divided by the rate, rounded up
    /// to whole nanoseconds.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::redis::{LocalServer, RedisRateLimiter};
    ///
    /// # let server = match LocalServer::start() { Ok(s) => s, Err(e) if std::env::var_os("WORKWISE_REQUIRE_REDIS").is_none() => { eprintln!("SKIPPED, no redis-server: {e}"); return Ok(()) } Err(e) => return Err(e.into()) };
    /// let limiter = RedisRateLimiter::per_second(3).build(&server.url(), "k")?;
    /// assert_eq!(limiter.interval(), Duration::from_nanos(333_333_334));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.interval)
    }

    /// The most permits granted at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::redis::{LocalServer, RedisRateLimiter};
    ///
    /// # let server = match LocalServer::start() { Ok(s) => s, Err(e) if std::env::var_os("WORKWISE_REQUIRE_REDIS").is_none() => { eprintln!("SKIPPED, no redis-server: {e}"); return Ok(()) } Err(e) => return Err(e.into()) };
    /// let limiter = RedisRateLimiter::per_second(10).burst(5).build(&server.url(), "k")?;
    /// assert_eq!(limiter.burst(), 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// The Redis key that holds the limit's state.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::redis::{LocalServer, RedisRateLimiter};
    ///
    /// # let server = match LocalServer::start() { Ok(s) => s, Err(e) if std::env::var_os("WORKWISE_REQUIRE_REDIS").is_none() => { eprintln!("SKIPPED, no redis-server: {e}"); return Ok(()) } Err(e) => return Err(e.into()) };
    /// let limiter = RedisRateLimiter::per_second(10).build(&server.url(), "limits:api")?;
    /// assert_eq!(limiter.key(), "limits:api");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn key(&self) -> &str {
        &self.key
    }

    /// How many connections to Redis this limiter lost (and replaced) so
    /// far; each loss is also reported as it happens.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::redis::{LocalServer, RedisRateLimiter};
    ///
    /// # let server = match LocalServer::start() { Ok(s) => s, Err(e) if std::env::var_os("WORKWISE_REQUIRE_REDIS").is_none() => { eprintln!("SKIPPED, no redis-server: {e}"); return Ok(()) } Err(e) => return Err(e.into()) };
    /// let limiter = RedisRateLimiter::per_second(10).build(&server.url(), "k")?;
    /// limiter.try_acquire()?;
    /// assert_eq!(limiter.lost_connections(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lost_connections(&self) -> u64 {
        self.conn.lost()
    }

    /// The TAT increase for `n` permits, or the error when `n > burst`.
    fn cost(&self, n: u32) -> Result<u64, RedisLimiterError> {
        if n > self.burst {
            return Err(RedisLimiterError::ExceedsBurst {
                requested: n,
                burst: self.burst,
            });
        }
        // n ≤ burst, so n × T ≤ L, which `build` checked fits.
        Ok(u64::from(n) * self.interval)
    }

    /// Protocol rule 5.
    fn wait_for(&self, cost: u64) -> Result<(), RedisLimiterError> {
        loop {
            match self.decide(cost, nanos(LEAD), None)? {
                Decision::Granted(wait) => {
                    std::thread::sleep(wait);
                    return Ok(());
                }
                Decision::Refused(wait) => std::thread::sleep(wait.saturating_sub(LEAD)),
            }
        }
    }

    /// Protocol rules 1-3 and 7 at a given `now` (seconds and nanoseconds
    /// since the epoch) instead of the server's `TIME`: `(granted, wait)`.
    #[cfg(test)]
    fn decide_at(
        &self,
        cost: u64,
        max_wait: u64,
        now: (u64, u32),
    ) -> Result<(bool, Duration), RedisLimiterError> {
        Ok(match self.decide(cost, max_wait, Some(now))? {
            Decision::Granted(wait) => (true, wait),
            Decision::Refused(wait) => (false, wait),
        })
    }

    fn decide(
        &self,
        cost: u64,
        max_wait: u64,
        now: Option<(u64, u32)>,
    ) -> Result<Decision, RedisLimiterError> {
        let mut call = self.script.key(&self.key);
        call.arg(cost).arg(self.window).arg(max_wait);
        if let Some((secs, nanos)) = now {
            call.arg(secs).arg(nanos);
        }
        let (code, value): (i64, redis::Value) = self
            .conn
            .call(|c| call.invoke(c))
            .map_err(RedisLimiterError::Redis)?;
        match (code, value) {
            (1, redis::Value::Int(wait)) => Ok(Decision::Granted(from_nanos(wait))),
            (0, redis::Value::Int(wait)) => Ok(Decision::Refused(from_nanos(wait))),
            (-1, redis::Value::BulkString(found)) => Err(RedisLimiterError::Corrupt {
                key: self.key.clone(),
                found: String::from_utf8_lossy(&found).into_owned(),
            }),
            // A reply the script never gives: another script at its SHA1.
            (code, value) => Err(RedisLimiterError::Corrupt {
                key: self.key.clone(),
                found: format!("a script reply of {code} and {value:?}"),
            }),
        }
    }
}

fn from_nanos(n: i64) -> Duration {
    Duration::from_nanos(n.max(0).unsigned_abs())
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis::LocalServer;
    use crate::{Clock, ManualClock, RateLimiter, TryAcquireError};
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    use std::sync::atomic::{AtomicU64, Ordering};

    fn server() -> Option<LocalServer> {
        LocalServer::start_or_skip(module_path!()).expect("WORKWISE_REQUIRE_REDIS is set")
    }

    /// A time of day for the script's `now`: any whole second works, as a
    /// `ManualClock` starts at zero.
    const EPOCH_SECS: u64 = 1_764_000_000;

    /// The script decides as the local limiter does, to the nanosecond, on
    /// any sequence of requests at any times: the same grants, the same
    /// `RetryAfter`.
    #[test]
    fn the_script_decides_as_the_local_limiter_on_any_sequence() {
        let Some(server) = server() else { return };
        let url = server.url();
        let case = AtomicU64::new(0);
        let steps = prop::collection::vec((0u64..400_000_000, 0u32..5), 1..40);
        let strategy = (1u32..2_000, 1u32..5, steps);
        let mut runner = TestRunner::new(Config {
            cases: 64,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&strategy, |(rate, burst, steps)| {
                let key = format!("case{}", case.fetch_add(1, Ordering::Relaxed));
                let clock = ManualClock::new();
                let local = RateLimiter::per_second(rate)
                    .burst(burst)
                    .clock(clock.clone())
                    .build()
                    .unwrap();
                let shared = RedisRateLimiter::per_second(rate)
                    .burst(burst)
                    .build(&url, &key)
                    .unwrap();
                for (advance, n) in steps {
                    clock.advance(Duration::from_nanos(advance));
                    let t = nanos(clock.now());
                    let now = (EPOCH_SECS + t / 1_000_000_000, (t % 1_000_000_000) as u32);
                    let want = local.try_acquire_n(n);
                    let got = match shared.cost(n) {
                        Err(RedisLimiterError::ExceedsBurst { requested, burst }) => {
                            Err(TryAcquireError::ExceedsBurst { requested, burst })
                        }
                        Err(other) => panic!("{other}"),
                        Ok(0) => Ok(()),
                        Ok(cost) => match shared.decide_at(cost, 0, now).unwrap() {
                            (true, wait) => {
                                prop_assert_eq!(wait, Duration::ZERO);
                                Ok(())
                            }
                            (false, wait) => Err(TryAcquireError::RetryAfter(RetryAfter(wait))),
                        },
                    };
                    prop_assert_eq!(got, want, "at {:?}, {} permits", clock.now(), n);
                }
                Ok(())
            })
            .unwrap();
    }

    /// A reservation (`max_wait > 0`) moves the TAT as the local limiter's
    /// `acquire_timeout` does: the next refusal's wait counts it.
    #[test]
    fn a_reservation_moves_the_shared_state() {
        let Some(server) = server() else { return };
        let limiter = RedisRateLimiter::per_second(10)
            .build(&server.url(), "r")
            .unwrap();
        let at = |ms: u64| (EPOCH_SECS, (ms * 1_000_000) as u32);
        let t = limiter.interval;
        assert_eq!(
            limiter.decide_at(t, 0, at(0)).unwrap(),
            (true, Duration::ZERO)
        );
        let wait = Duration::from_millis(100);
        assert_eq!(limiter.decide_at(t, 0, at(0)).unwrap(), (false, wait));
        assert_eq!(
            limiter.decide_at(t, nanos(wait), at(0)).unwrap(),
            (true, wait)
        );
        assert_eq!(
            limiter.decide_at(t, 0, at(50)).unwrap(),
            (false, Duration::from_millis(150))
        );
    }
}
