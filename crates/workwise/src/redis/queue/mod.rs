//! `RedisQueue`: the producer-consumer queue on a Redis stream, shared by
//! any number of processes on any number of machines.
//!
//! # Design
//!
//! One stream per queue (`workwise:{NAME}:stream`, see the key scheme in
//! `scripts.rs`), one consumer group (`workwise`), and each `RedisQueue`
//! handle is one consumer of that group, named `HOST:PID:N` (a clone is a
//! new consumer). Values travel as JSON (serde_json): readable with
//! `redis-cli`, and any language can produce or consume; a size cap
//! (`max_value_bytes`, 512 KiB by default) keeps one value from filling the
//! server.
//!
//! # Protocol
//!
//! 1. A put is one script: if the closed flag is set, refuse; if the stream
//!    holds `capacity` entries, say full; else XADD. The check and the write
//!    are one atomic step, so no number of producers overfills the stream.
//! 2. Acknowledging is XACK then XDEL in one MULTI/EXEC: an entry lives in the
//!    stream exactly as long as its item is undone, so XLEN counts the
//!    undone items (waiting + delivered-not-acknowledged) and rule 1's
//!    capacity bounds both.
//! 3. A get runs one script (`TAKE`) at least once per `poll` per
//!    consumer: first claim one entry that another (or this) consumer has
//!    held for longer than the visibility timeout (XAUTOCLAIM, continuing
//!    from this consumer's cursor so the whole pending list is swept); an
//!    entry delivered more than `max_deliveries` times is moved to the dead
//!    letters instead; then read one new entry. Between sweeps a get first
//!    reads one new entry with a plain `XREADGROUP` (a third of the
//!    server's time of the script), and runs `TAKE` only when that finds
//!    nothing. When `TAKE` finds nothing too, the getter waits in
//!    `XREADGROUP … BLOCK` for at most `poll` (100 ms by default) and runs
//!    the script again, so that a close, a dead consumer's items and the
//!    visibility timeout are noticed within `poll`.
//! 4. The queue is closed when the flag key exists. A get says closed when
//!    the flag is set, nothing is waiting, and no other consumer holds an
//!    undone item (such an item may still come back if its consumer dies).
//! 5. An entry that does not decode is moved to the dead letters with all
//!    its fields, its id and the reason, and acknowledged (never lost, never
//!    looping); the get returns an error naming the entry.
//!
//! A put that finds the stream full polls, backing off from 1 ms to
//! `poll`/10 (at most 10 ms). Polling costs one round trip per try while
//! full; a notification list would save those but adds a key per wakeup and
//! a lost-wakeup case; at the bounds we measured (a few thousand items per
//! second) polling is simple and cheap enough.
//!
//! Where this differs from the local [`Queue`](crate::Queue), and why, is
//! in the docs of `workwise::redis` (`mod.rs`).

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::Value;

use super::conn::Conn;
use super::item::{Ack, RedisItem};
use super::queue_error::{
    GetFail, PutFail, RedisDecodeError, RedisGetError, RedisGetTimeoutError, RedisJoinError,
    RedisPutError, RedisPutTimeoutError, RedisQueueBuildError, RedisTryGetError, RedisTryPutError,
};
use super::{scripts, RedisError};
use crate::clock::deadline_after;

mod builder;
mod get;
mod put;

pub use builder::RedisQueueBuilder;
use get::as_u64;
use put::Backoff;

/// The consumer group every handle of every queue joins.
pub(super) const GROUP: &str = "workwise";

/// A bounded (or unbounded) queue in Redis whose items are done when
/// acknowledged: the local [`Queue`](crate::Queue)'s contract across
/// processes and machines, with at-least-once delivery.
///
/// See [`workwise::redis`](crate::redis#the-queue) for the key scheme and
/// the differences from the local queue: delivery is at least once, values
/// are JSON, waits poll.
///
/// Each handle is one consumer of the group; a clone is another. Dropping
/// the last handle of a consumer that holds no item removes it from the
/// group (one round trip).
///
/// # Examples
///
/// ```
/// use workwise::redis::{LocalServer, RedisQueue};
///
/// # let Ok(server) = LocalServer::start() else { return Ok(()) };
/// let q = RedisQueue::bounded(&server.url(), "jobs", 100)?;
/// q.put(format!("job {}", 1)).unwrap();
/// let item = q.get().unwrap();
/// assert_eq!(*item, "job 1");
/// drop(item); // acknowledged: done
/// q.join()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RedisQueue<T> {
    shared: Arc<Shared>,
    me: Arc<Consumer>,
    _values: PhantomData<fn(T) -> T>,
}

pub(super) struct Consumer {
    pub(super) name: String,
    /// Where this consumer's XAUTOCLAIM sweep goes on from (rule 3).
    cursor: Mutex<String>,
    /// When this consumer last ran `TAKE` (its sweep), if ever (rule 3).
    swept: Mutex<Option<Instant>>,
}

impl Consumer {
    /// Makes this consumer's next get run `TAKE` (a requeued item comes
    /// back to it before new items).
    pub(super) fn sweep_next(&self) {
        *self.swept.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    fn new() -> Consumer {
        static N: AtomicU64 = AtomicU64::new(0);
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "host".to_owned());
        Consumer {
            name: format!(
                "{host}:{}:{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ),
            cursor: Mutex::new("0-0".to_owned()),
            swept: Mutex::new(None),
        }
    }
}

pub(super) struct Shared {
    conn: Conn,
    name: String,
    pub(super) stream: String,
    dead: String,
    closed: String,
    capacity: Option<usize>,
    visibility: Duration,
    max_deliveries: u32,
    max_value_bytes: usize,
    poll: Duration,
    put_script: redis::Script,
    take_script: redis::Script,
    bury_script: redis::Script,
    leave_script: redis::Script,
    pub(super) counters: Counters,
}

#[derive(Default)]
pub(super) struct Counters {
    put: AtomicU64,
    got: AtomicU64,
    acked: AtomicU64,
    redelivered: AtomicU64,
    dead_lettered: AtomicU64,
    pub(super) ack_failures: AtomicU64,
    round_trips: AtomicU64,
    redis_nanos: AtomicU64,
}

pub(super) fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

/// A snapshot of a queue handle's counters, shared by its clones (this
/// process only; other processes keep their own).
///
/// # Examples
///
/// ```
/// let stats = workwise::redis::RedisQueueStats::default();
/// assert_eq!(stats.redelivered, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisQueueStats {
    /// Items put.
    pub put: u64,
    /// Items taken (including redeliveries).
    pub got: u64,
    /// Items acknowledged.
    pub acked: u64,
    /// Items taken that had been delivered before (a consumer died, was too
    /// slow, or requeued them).
    pub redelivered: u64,
    /// Entries this process moved to the dead letters (undecodable, or
    /// delivered more than `max_deliveries` times).
    pub dead_lettered: u64,
    /// Acknowledgements that failed in a guard's drop (the item comes back
    /// after the visibility timeout).
    pub ack_failures: u64,
    /// Connections lost and replaced.
    pub reconnects: u64,
    /// Round trips to Redis, not counting blocking reads that wait for items.
    pub round_trips: u64,
    /// Time spent in those round trips.
    pub redis_time: Duration,
}

impl<T> Clone for RedisQueue<T> {
    /// Another handle on the same queue and connections, as a new consumer.
    fn clone(&self) -> Self {
        RedisQueue {
            shared: self.shared.clone(),
            me: Arc::new(Consumer::new()),
            _values: PhantomData,
        }
    }
}

impl<T> Drop for RedisQueue<T> {
    /// The last handle of a consumer leaves the group if it holds no item,
    /// so that consumer names do not pile up in Redis; one that holds items
    /// stays until they are redelivered. Errors are ignored: a consumer left
    /// behind costs a few bytes and holds nothing.
    fn drop(&mut self) {
        // Items hold the consumer too: while one lives, stay.
        if Arc::strong_count(&self.me) == 1 {
            let s = &self.shared;
            let _ = s.call(|c| {
                s.leave_script
                    .key(&s.stream)
                    .arg(GROUP)
                    .arg(&self.me.name)
                    .invoke::<i64>(c)
            });
        }
    }
}

impl<T> fmt::Debug for RedisQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisQueue")
            .field("url", &self.shared.conn.url())
            .field("name", &self.shared.name)
            .field("consumer", &self.me.name)
            .field("capacity", &self.shared.capacity)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// A round trip, timed and counted.
    pub(super) fn call<R>(
        &self,
        op: impl FnMut(&mut redis::Connection) -> redis::RedisResult<R>,
    ) -> Result<R, RedisError> {
        let start = Instant::now();
        let result = self.conn.call(op);
        bump(&self.counters.round_trips, 1);
        bump(
            &self.counters.redis_nanos,
            u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX),
        );
        result
    }

    /// Rule 2: XACK and XDEL in one MULTI/EXEC, so no reader sees the item
    /// acknowledged and still counted (one round trip, no script: plain
    /// commands cost the server a third of an EVALSHA).
    pub(super) fn ack(&self, id: &str) -> Result<(), RedisError> {
        self.call(|c| {
            redis::pipe()
                .atomic()
                .cmd("XACK")
                .arg(&self.stream)
                .arg(GROUP)
                .arg(id)
                .cmd("XDEL")
                .arg(&self.stream)
                .arg(id)
                .query::<(i64, i64)>(c)
        })?;
        bump(&self.counters.acked, 1);
        Ok(())
    }

    fn bury(&self, id: &str, deliveries: u64, reason: &str) -> Result<(), RedisError> {
        self.call(|c| {
            self.bury_script
                .key(&self.stream)
                .key(&self.dead)
                .arg(GROUP)
                .arg(id)
                .arg(deliveries)
                .arg(reason)
                .invoke::<i64>(c)
        })?;
        bump(&self.counters.dead_lettered, 1);
        Ok(())
    }

    /// XLEN and the pending count, read together.
    fn counts(&self) -> Result<(usize, usize), RedisError> {
        let (len, pending): (usize, Value) = self.call(|c| {
            redis::pipe()
                .atomic()
                .cmd("XLEN")
                .arg(&self.stream)
                .cmd("XPENDING")
                .arg(&self.stream)
                .arg(GROUP)
                .query(c)
        })?;
        let pending = match pending {
            Value::Array(parts) => parts.first().and_then(as_u64).unwrap_or(0),
            _ => 0,
        };
        Ok((len, usize::try_from(pending).unwrap_or(usize::MAX)))
    }
}

/// How long a call may wait.
#[derive(Clone, Copy)]
pub(super) enum Wait {
    No,
    Until(Option<Instant>),
}

impl Wait {
    /// The time left, `None` for no deadline; `Some(ZERO)` once passed.
    fn left(self) -> Option<Duration> {
        match self {
            Wait::No => Some(Duration::ZERO),
            Wait::Until(None) => None,
            Wait::Until(Some(deadline)) => Some(deadline.saturating_duration_since(Instant::now())),
        }
    }
}

impl<T> RedisQueue<T> {
    /// A builder for a queue named `name` on the Redis at `url`
    /// (`redis://HOST:PORT/DB`); unbounded unless
    /// [`capacity`](RedisQueueBuilder::capacity) is set.
    ///
    /// # Examples
    ///
    /// ```
    /// # let Ok(server) = workwise::redis::LocalServer::start() else { return Ok(()) };
    /// let q = workwise::redis::RedisQueue::<u8>::builder(&server.url(), "jobs")
    ///     .max_deliveries(3)
    ///     .build()?;
    /// assert_eq!(q.name(), "jobs");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(url: &str, name: &str) -> RedisQueueBuilder<T> {
        RedisQueueBuilder {
            url: url.to_owned(),
            name: name.to_owned(),
            capacity: None,
            visibility: Duration::from_secs(30),
            max_deliveries: 5,
            max_value_bytes: 512 * 1024,
            poll: Duration::from_millis(100),
            _values: PhantomData,
        }
    }

    /// A queue named `name` that holds at most `capacity` undone items,
    /// with the default settings.
    ///
    /// # Examples
    ///
    /// ```
    /// # let Ok(server) = workwise::redis::LocalServer::start() else { return Ok(()) };
    /// let q = workwise::redis::RedisQueue::<String>::bounded(&server.url(), "jobs", 8)?;
    /// assert_eq!(q.capacity(), Some(8));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A capacity of 0, a bad name, or Redis unreachable.
    pub fn bounded(url: &str, name: &str, capacity: usize) -> Result<Self, RedisQueueBuildError> {
        Self::builder(url, name).capacity(capacity).build()
    }

    /// A queue named `name` with no bound, with the default settings.
    ///
    /// # Examples
    ///
    /// ```
    /// # let Ok(server) = workwise::redis::LocalServer::start() else { return Ok(()) };
    /// let q = workwise::redis::RedisQueue::<u8>::unbounded(&server.url(), "jobs")?;
    /// assert_eq!(q.capacity(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A bad name, or Redis unreachable.
    pub fn unbounded(url: &str, name: &str) -> Result<Self, RedisQueueBuildError> {
        Self::builder(url, name).build()
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The URL of the Redis it lives on.
    pub fn url(&self) -> &str {
        self.shared.conn.url()
    }

    /// This handle's consumer name in the group (`HOST:PID:N`).
    pub fn consumer(&self) -> &str {
        &self.me.name
    }

    /// The bound given at build, `None` for unbounded.
    pub fn capacity(&self) -> Option<usize> {
        self.shared.capacity
    }

    /// The key of the dead-letter stream (`workwise:{NAME}:dead`).
    pub fn dead_letter_key(&self) -> &str {
        &self.shared.dead
    }

    /// Closes the queue for every process: puts fail from now on, gets
    /// drain what is there and then say closed. Returns whether this call
    /// closed it (false: it was closed already).
    ///
    /// # Examples
    ///
    /// ```
    /// # let Ok(server) = workwise::redis::LocalServer::start() else { return Ok(()) };
    /// let q = workwise::redis::RedisQueue::bounded(&server.url(), "jobs", 8)?;
    /// q.put(1).unwrap();
    /// assert!(q.close()?);
    /// assert!(q.put(2).is_err());
    /// assert_eq!(q.get().unwrap().into_inner(), 1); // drained
    /// assert!(q.get().is_err()); // then closed
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Redis failed.
    pub fn close(&self) -> Result<bool, RedisError> {
        let set: Option<String> = self.shared.call(|c| {
            redis::cmd("SET")
                .arg(&self.shared.closed)
                .arg(1)
                .arg("NX")
                .query(c)
        })?;
        Ok(set.is_some())
    }

    /// Whether the queue was closed (by any process).
    ///
    /// # Errors
    ///
    /// Redis failed.
    pub fn is_closed(&self) -> Result<bool, RedisError> {
        self.shared
            .call(|c| redis::cmd("EXISTS").arg(&self.shared.closed).query(c))
    }

    /// Items waiting to be delivered (not counting those delivered and not
    /// yet acknowledged).
    ///
    /// # Examples
    ///
    /// ```
    /// # let Ok(server) = workwise::redis::LocalServer::start() else { return Ok(()) };
    /// let q = workwise::redis::RedisQueue::bounded(&server.url(), "jobs", 8)?;
    /// q.put(1).unwrap();
    /// q.put(2).unwrap();
    /// let item = q.get().unwrap();
    /// assert_eq!((q.len()?, q.unfinished()?), (1, 2));
    /// # drop(item);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Redis failed.
    pub fn len(&self) -> Result<usize, RedisError> {
        let (len, pending) = self.shared.counts()?;
        Ok(len.saturating_sub(pending))
    }

    /// Whether no item waits to be delivered.
    ///
    /// # Errors
    ///
    /// Redis failed.
    pub fn is_empty(&self) -> Result<bool, RedisError> {
        Ok(self.len()? == 0)
    }

    /// Items put and not yet acknowledged, in every process (XLEN).
    ///
    /// # Examples
    ///
    /// ```
    /// # let Ok(server) = workwise::redis::LocalServer::start() else { return Ok(()) };
    /// let q = workwise::redis::RedisQueue::bounded(&server.url(), "jobs", 8)?;
    /// q.put(1).unwrap();
    /// let item = q.get().unwrap();
    /// assert_eq!(q.unfinished()?, 1);
    /// drop(item);
    /// assert_eq!(q.unfinished()?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Redis failed.
    pub fn unfinished(&self) -> Result<usize, RedisError> {
        self.shared
            .call(|c| redis::cmd("XLEN").arg(&self.shared.stream).query(c))
    }

    /// Entries in the dead-letter stream.
    ///
    /// # Errors
    ///
    /// Redis failed.
    pub fn dead_letters(&self) -> Result<usize, RedisError> {
        self.shared
            .call(|c| redis::cmd("XLEN").arg(&self.shared.dead).query(c))
    }

    /// Waits until every item put by any process has been acknowledged:
    /// nothing in the stream, nothing pending in the group.
    ///
    /// # Examples
    ///
    /// ```
    /// # let Ok(server) = workwise::redis::LocalServer::start() else { return Ok(()) };
    /// let q = workwise::redis::RedisQueue::bounded(&server.url(), "jobs", 8)?;
    /// q.put(1).unwrap();
    /// let consumer = q.clone();
    /// let t = std::thread::spawn(move || drop(consumer.get().unwrap()));
    /// q.join()?; // the consumer acknowledged it
    /// # t.join().unwrap();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Redis failed.
    pub fn join(&self) -> Result<(), RedisError> {
        match self.join_until(None) {
            Ok(()) => Ok(()),
            Err(RedisJoinError::Redis(err)) => Err(err),
            Err(RedisJoinError::Timeout { .. }) => unreachable!("no deadline"),
        }
    }

    /// [`join`](Self::join), giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// [`RedisJoinError::Timeout`] with the undone count, or Redis failed.
    pub fn join_timeout(&self, timeout: Duration) -> Result<(), RedisJoinError> {
        self.join_until(deadline_after(timeout))
    }

    fn join_until(&self, deadline: Option<Instant>) -> Result<(), RedisJoinError> {
        let mut backoff = Backoff::new(self.shared.poll);
        loop {
            let (len, pending) = self.shared.counts().map_err(RedisJoinError::Redis)?;
            if len == 0 && pending == 0 {
                return Ok(());
            }
            if !backoff.sleep_until(deadline) {
                return Err(RedisJoinError::Timeout {
                    unfinished: len.max(pending),
                });
            }
        }
    }

    /// This process's counters for this queue (shared by clones).
    ///
    /// # Examples
    ///
    /// ```
    /// # let Ok(server) = workwise::redis::LocalServer::start() else { return Ok(()) };
    /// let q = workwise::redis::RedisQueue::bounded(&server.url(), "jobs", 8)?;
    /// q.put(1).unwrap();
    /// drop(q.get().unwrap());
    /// let stats = q.stats();
    /// assert_eq!((stats.put, stats.got, stats.acked), (1, 1, 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stats(&self) -> RedisQueueStats {
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        RedisQueueStats {
            put: get(&c.put),
            got: get(&c.got),
            acked: get(&c.acked),
            redelivered: get(&c.redelivered),
            dead_lettered: get(&c.dead_lettered),
            ack_failures: get(&c.ack_failures),
            reconnects: self.shared.conn.lost(),
            round_trips: get(&c.round_trips),
            redis_time: Duration::from_nanos(get(&c.redis_nanos)),
        }
    }

    /// The longest a getter blocks in Redis at a time.
    #[cfg(feature = "tokio")]
    pub(super) fn poll_interval(&self) -> Duration {
        self.shared.poll
    }

    /// The same consumer, another handle (for the async variants).
    #[cfg(feature = "tokio")]
    pub(super) fn same_consumer(&self) -> Self {
        RedisQueue {
            shared: self.shared.clone(),
            me: self.me.clone(),
            _values: PhantomData,
        }
    }
}
