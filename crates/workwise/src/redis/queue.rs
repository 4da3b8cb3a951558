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
//! 2. Acknowledging is one script, XACK then XDEL: an entry lives in the
//!    stream exactly as long as its item is undone, so XLEN counts the
//!    undone items (waiting + delivered-not-acknowledged) and rule 1's
//!    capacity bounds both.
//! 3. A get is one script (`TAKE`): first claim one entry that another (or
//!    this) consumer has held for longer than the visibility timeout
//!    (XAUTOCLAIM, continuing from this consumer's cursor so the whole
//!    pending list is swept); an entry delivered more than `max_deliveries`
//!    times is moved to the dead letters instead; then read one new entry.
//!    When there is none, the getter waits in `XREADGROUP … BLOCK` for at
//!    most `poll` (100 ms by default) and runs the script again, so that a
//!    close and the visibility timeout are noticed within `poll`.
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
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::Value;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::conn::Conn;
use super::queue_error::{
    GetFail, PutFail, RedisDecodeError, RedisGetError, RedisGetTimeoutError, RedisJoinError,
    RedisPutError, RedisPutTimeoutError, RedisQueueBuildError, RedisTryGetError, RedisTryPutError,
};
use super::{scripts, RedisError};
use crate::clock::deadline_after;

/// The consumer group every handle of every queue joins.
const GROUP: &str = "workwise";

/// An idle time far above any visibility timeout: `requeue` sets it so the
/// next getter claims the item at once.
const REQUEUE_IDLE_MS: u64 = 1 << 40;

/// A bounded (or unbounded) queue in Redis whose items are done when
/// acknowledged: the local [`Queue`](crate::Queue)'s contract across
/// processes and machines, with at-least-once delivery.
///
/// See [`workwise::redis`](crate::redis#the-queue) for the key scheme and
/// the differences from the local queue: delivery is at least once, values
/// are JSON, waits poll.
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

struct Consumer {
    name: String,
    /// Where this consumer's XAUTOCLAIM sweep goes on from (rule 3).
    cursor: Mutex<String>,
}

impl Consumer {
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
        }
    }
}

struct Shared {
    conn: Conn,
    name: String,
    stream: String,
    dead: String,
    closed: String,
    capacity: Option<usize>,
    visibility: Duration,
    max_deliveries: u32,
    max_value_bytes: usize,
    poll: Duration,
    put_script: redis::Script,
    ack_script: redis::Script,
    take_script: redis::Script,
    bury_script: redis::Script,
    leave_script: redis::Script,
    counters: Counters,
}

#[derive(Default)]
struct Counters {
    put: AtomicU64,
    got: AtomicU64,
    acked: AtomicU64,
    redelivered: AtomicU64,
    dead_lettered: AtomicU64,
    ack_failures: AtomicU64,
    round_trips: AtomicU64,
    redis_nanos: AtomicU64,
}

fn bump(counter: &AtomicU64, by: u64) {
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

/// Settings of a [`RedisQueue`], from [`RedisQueue::builder`].
///
/// # Examples
///
/// ```
/// # use std::time::Duration;
/// # let Ok(server) = workwise::redis::LocalServer::start() else { return Ok(()) };
/// let q = workwise::redis::RedisQueue::<String>::builder(&server.url(), "jobs")
///     .capacity(1000)
///     .visibility_timeout(Duration::from_secs(60))
///     .max_deliveries(3)
///     .build()?;
/// assert_eq!(q.capacity(), Some(1000));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RedisQueueBuilder<T> {
    url: String,
    name: String,
    capacity: Option<usize>,
    visibility: Duration,
    max_deliveries: u32,
    max_value_bytes: usize,
    poll: Duration,
    _values: PhantomData<fn(T) -> T>,
}

impl<T> fmt::Debug for RedisQueueBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisQueueBuilder")
            .field("url", &self.url)
            .field("name", &self.name)
            .field("capacity", &self.capacity)
            .field("visibility", &self.visibility)
            .field("max_deliveries", &self.max_deliveries)
            .field("max_value_bytes", &self.max_value_bytes)
            .field("poll", &self.poll)
            .finish()
    }
}

impl<T> RedisQueueBuilder<T> {
    /// Bounds the queue: a put waits while the stream holds `capacity`
    /// undone items (waiting or delivered and not yet acknowledged). Without
    /// it the queue is unbounded. Every handle on one queue should agree.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = Some(capacity);
        self
    }

    /// How long a consumer may hold an item before it is redelivered to
    /// another (30 s by default). Set it above the longest handling time:
    /// an item held longer is handled twice.
    pub fn visibility_timeout(mut self, timeout: Duration) -> Self {
        self.visibility = timeout;
        self
    }

    /// How many deliveries an item gets before it goes to the dead letters
    /// (5 by default).
    pub fn max_deliveries(mut self, max: u32) -> Self {
        self.max_deliveries = max;
        self
    }

    /// The largest JSON a put accepts, in bytes (512 KiB by default).
    pub fn max_value_bytes(mut self, max: usize) -> Self {
        self.max_value_bytes = max;
        self
    }

    /// The longest a getter blocks in Redis before it looks again for
    /// closing and for items to reclaim (100 ms by default, at least 1 ms).
    pub fn poll(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// Connects, and makes the stream and the consumer group if they are
    /// not there yet.
    ///
    /// # Errors
    ///
    /// A setting out of range, a bad name, or Redis unreachable; each
    /// message says what to change.
    pub fn build(self) -> Result<RedisQueue<T>, RedisQueueBuildError> {
        if self.capacity == Some(0) {
            return Err(RedisQueueBuildError::ZeroCapacity);
        }
        if self.max_deliveries == 0 {
            return Err(RedisQueueBuildError::ZeroMaxDeliveries);
        }
        if self.visibility < Duration::from_millis(1) {
            return Err(RedisQueueBuildError::ZeroVisibilityTimeout);
        }
        if self.max_value_bytes == 0 {
            return Err(RedisQueueBuildError::ZeroMaxValueBytes);
        }
        if self.name.is_empty() || self.name.contains(['{', '}']) {
            return Err(RedisQueueBuildError::BadName(self.name));
        }
        let conn = Conn::open(&self.url, Duration::from_millis(20), 6)
            .map_err(RedisQueueBuildError::Redis)?;
        let key = |part: &str| format!("workwise:{{{}}}:{part}", self.name);
        let shared = Shared {
            stream: key("stream"),
            dead: key("dead"),
            closed: key("closed"),
            conn,
            name: self.name,
            capacity: self.capacity,
            visibility: self.visibility,
            max_deliveries: self.max_deliveries,
            max_value_bytes: self.max_value_bytes,
            poll: self.poll.max(Duration::from_millis(1)),
            put_script: redis::Script::new(scripts::PUT),
            ack_script: redis::Script::new(scripts::ACK),
            take_script: redis::Script::new(&scripts::take()),
            bury_script: redis::Script::new(&scripts::bury()),
            leave_script: redis::Script::new(scripts::LEAVE),
            counters: Counters::default(),
        };
        let made = shared.call(|c| {
            redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(&shared.stream)
                .arg(GROUP)
                .arg("0")
                .arg("MKSTREAM")
                .query::<()>(c)
        });
        match made {
            Ok(()) => {}
            Err(RedisError::Server(err)) if err.code() == Some("BUSYGROUP") => {}
            Err(err) => return Err(RedisQueueBuildError::Redis(err)),
        }
        Ok(RedisQueue {
            shared: Arc::new(shared),
            me: Arc::new(Consumer::new()),
            _values: PhantomData,
        })
    }
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
    fn call<R>(
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

    fn ack(&self, id: &str) -> Result<(), RedisError> {
        self.call(|c| {
            self.ack_script
                .key(&self.stream)
                .arg(GROUP)
                .arg(id)
                .invoke::<i64>(c)
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

/// A stream entry: its id and its `v` field, if it has one.
type Entry = (String, Option<Vec<u8>>);

/// What one `TAKE` found.
enum Took {
    Item {
        id: String,
        payload: Option<Vec<u8>>,
        deliveries: u64,
    },
    Nothing {
        closed: bool,
        held_by_others: i64,
    },
}

impl<T> RedisQueue<T> {
    /// A builder for a queue named `name` on the Redis at `url`
    /// (`redis://HOST:PORT/DB`); unbounded unless
    /// [`capacity`](RedisQueueBuilder::capacity) is set.
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
    /// # Errors
    ///
    /// A capacity of 0, a bad name, or Redis unreachable.
    pub fn bounded(url: &str, name: &str, capacity: usize) -> Result<Self, RedisQueueBuildError> {
        Self::builder(url, name).capacity(capacity).build()
    }

    /// A queue named `name` with no bound, with the default settings.
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

impl<T: Serialize> RedisQueue<T> {
    /// Puts `item`, waiting while the queue is full.
    ///
    /// # Errors
    ///
    /// The item back, when the queue is closed, its JSON is too large or
    /// does not encode, or Redis failed.
    pub fn put(&self, item: T) -> Result<(), RedisPutError<T>> {
        self.put_inner(&item, Wait::Until(None))
            .map_err(|fail| RedisPutError::from_fail(fail, item))
    }

    /// Puts `item`, waiting at most `timeout` while the queue is full.
    ///
    /// # Errors
    ///
    /// As [`put`](Self::put), and `Timeout` when the queue stayed full.
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), RedisPutTimeoutError<T>> {
        self.put_inner(&item, Wait::Until(deadline_after(timeout)))
            .map_err(|fail| RedisPutTimeoutError::from_fail(fail, item))
    }

    /// Puts `item` if there is room now.
    ///
    /// # Errors
    ///
    /// As [`put`](Self::put), and `Full`.
    pub fn try_put(&self, item: T) -> Result<(), RedisTryPutError<T>> {
        self.put_inner(&item, Wait::No)
            .map_err(|fail| RedisTryPutError::from_fail(fail, item))
    }

    fn put_inner(&self, item: &T, wait: Wait) -> Result<(), PutFail> {
        let payload = self.encode(item)?;
        self.put_payload(&payload, wait)
    }

    /// The item's JSON, within the size cap.
    pub(super) fn encode(&self, item: &T) -> Result<Vec<u8>, PutFail> {
        let payload = serde_json::to_vec(item).map_err(PutFail::Encode)?;
        if payload.len() > self.shared.max_value_bytes {
            return Err(PutFail::TooLarge {
                size: payload.len(),
                max: self.shared.max_value_bytes,
            });
        }
        Ok(payload)
    }
}

impl<T> RedisQueue<T> {
    /// Rule 1, polling while full as `wait` allows.
    pub(super) fn put_payload(&self, payload: &[u8], wait: Wait) -> Result<(), PutFail> {
        let s = &*self.shared;
        let capacity = s.capacity.unwrap_or(0);
        let mut backoff = Backoff::new(s.poll);
        loop {
            let put: i64 = s
                .call(|c| {
                    s.put_script
                        .key(&s.stream)
                        .key(&s.closed)
                        .arg(capacity)
                        .arg(payload)
                        .invoke(c)
                })
                .map_err(PutFail::Redis)?;
            match put {
                1 => {
                    bump(&s.counters.put, 1);
                    return Ok(());
                }
                -1 => return Err(PutFail::Closed),
                _ => match wait {
                    Wait::No => return Err(PutFail::Full),
                    Wait::Until(deadline) => {
                        if !backoff.sleep_until(deadline) {
                            return Err(PutFail::Timeout);
                        }
                    }
                },
            }
        }
    }
}

impl<T: DeserializeOwned> RedisQueue<T> {
    /// Takes the next item, waiting until one comes or the queue is closed
    /// and drained. Drop the guard to acknowledge it.
    ///
    /// # Errors
    ///
    /// `Closed`; `Decode` for an entry that was moved to the dead letters
    /// (call again for the next one); Redis failed.
    pub fn get(&self) -> Result<RedisItem<T>, RedisGetError> {
        self.get_inner(Wait::Until(None))
            .map_err(RedisGetError::from_fail)
    }

    /// Takes the next item, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get), and `Timeout`.
    pub fn get_timeout(&self, timeout: Duration) -> Result<RedisItem<T>, RedisGetTimeoutError> {
        self.get_inner(Wait::Until(deadline_after(timeout)))
            .map_err(RedisGetTimeoutError::from_fail)
    }

    /// Takes the next item if one is there now.
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get), and `Empty`.
    pub fn try_get(&self) -> Result<RedisItem<T>, RedisTryGetError> {
        self.get_inner(Wait::No)
            .map_err(RedisTryGetError::from_fail)
    }

    /// A get as `wait` allows, the failure not yet shaped (async variants).
    #[cfg(feature = "tokio")]
    pub(super) fn get_for(&self, wait: Wait) -> Result<RedisItem<T>, GetFail> {
        self.get_inner(wait)
    }

    fn get_inner(&self, wait: Wait) -> Result<RedisItem<T>, GetFail> {
        loop {
            match self.take().map_err(GetFail::Redis)? {
                Took::Item {
                    id,
                    payload,
                    deliveries,
                } => return self.decode(id, payload, deliveries),
                Took::Nothing {
                    closed,
                    held_by_others,
                } => {
                    if closed && held_by_others <= 0 {
                        return Err(GetFail::Closed);
                    }
                    let block = match wait.left() {
                        None => self.shared.poll,
                        Some(left) if left.is_zero() => {
                            return Err(match wait {
                                Wait::No => GetFail::Empty,
                                Wait::Until(_) => GetFail::Timeout,
                            })
                        }
                        Some(left) => left.min(self.shared.poll),
                    };
                    if let Some((id, payload)) =
                        self.read_blocking(block).map_err(GetFail::Redis)?
                    {
                        return self.decode(id, payload, 1);
                    }
                }
            }
        }
    }

    /// `Pool::consume`'s loop: each value is acknowledged after `each`
    /// returns or unwinds; an undecodable entry (already moved to the dead
    /// letters) is reported and skipped.
    pub(crate) fn drain_for_consume(&self, each: &mut dyn FnMut(T)) -> Option<String> {
        loop {
            match self.get() {
                Ok(item) => {
                    let RedisItem { value, ack } = item;
                    each(value);
                    drop(ack);
                }
                Err(RedisGetError::Closed) => return None,
                Err(RedisGetError::Decode(err)) => report_skipped(&err),
                Err(err) => return Some(err.to_string()),
            }
        }
    }

    fn decode(
        &self,
        id: String,
        payload: Option<Vec<u8>>,
        deliveries: u64,
    ) -> Result<RedisItem<T>, GetFail> {
        let s = &*self.shared;
        let decoded = match &payload {
            None => Err("the entry has no field `v`".to_owned()),
            Some(bytes) => serde_json::from_slice::<T>(bytes).map_err(|e| e.to_string()),
        };
        match decoded {
            Ok(value) => {
                bump(&s.counters.got, 1);
                if deliveries > 1 {
                    bump(&s.counters.redelivered, 1);
                }
                Ok(RedisItem {
                    value,
                    ack: Ack {
                        shared: self.shared.clone(),
                        consumer: self.me.clone(),
                        id,
                        deliveries,
                        armed: true,
                    },
                })
            }
            Err(reason) => {
                s.bury(&id, deliveries, &format!("does not decode: {reason}"))
                    .map_err(GetFail::Redis)?;
                Err(GetFail::Decode(RedisDecodeError {
                    id,
                    reason,
                    dead_letters: s.dead.clone(),
                }))
            }
        }
    }

    /// One `TAKE` (rule 3).
    fn take(&self) -> Result<Took, RedisError> {
        let s = &*self.shared;
        let cursor = self
            .me
            .cursor
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let idle = u64::try_from(s.visibility.as_millis()).unwrap_or(u64::MAX);
        let reply: Value = s.call(|c| {
            s.take_script
                .key(&s.stream)
                .key(&s.dead)
                .key(&s.closed)
                .arg(GROUP)
                .arg(&self.me.name)
                .arg(idle)
                .arg(s.max_deliveries)
                .arg(&cursor)
                .invoke(c)
        })?;
        let bad = || RedisError::Server(unexpected("TAKE", &reply));
        let Value::Array(parts) = &reply else {
            return Err(bad());
        };
        if parts.len() != 8 {
            return Err(bad());
        }
        bump(&s.counters.dead_lettered, as_u64(&parts[4]).unwrap_or(0));
        if let Some(next) = as_string(&parts[5]) {
            *self.me.cursor.lock().unwrap_or_else(|p| p.into_inner()) = next;
        }
        if as_u64(&parts[0]) == Some(1) {
            Ok(Took::Item {
                id: as_string(&parts[1]).ok_or_else(bad)?,
                payload: as_bytes(&parts[2]),
                deliveries: as_u64(&parts[3]).unwrap_or(1),
            })
        } else {
            Ok(Took::Nothing {
                closed: as_u64(&parts[6]) == Some(1),
                held_by_others: as_i64(&parts[7]).unwrap_or(0),
            })
        }
    }

    /// `XREADGROUP … BLOCK`: waits up to `block` for a new entry.
    fn read_blocking(&self, block: Duration) -> Result<Option<Entry>, RedisError> {
        let s = &*self.shared;
        let ms = u64::try_from(block.as_millis()).unwrap_or(u64::MAX).max(1);
        // Not timed as a round trip: most of it is waiting for producers.
        let reply: Value = s.conn.call(|c| {
            redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(GROUP)
                .arg(&self.me.name)
                .arg("COUNT")
                .arg(1)
                .arg("BLOCK")
                .arg(ms)
                .arg("STREAMS")
                .arg(&s.stream)
                .arg(">")
                .query(c)
        })?;
        // [[stream, [[id, [field, value, …]]]]], or nil on timeout.
        let entry = match &reply {
            Value::Nil => return Ok(None),
            Value::Array(streams) => streams.first().and_then(|st| match st {
                Value::Array(kv) => kv.get(1).and_then(|es| match es {
                    Value::Array(es) => es.first(),
                    _ => None,
                }),
                _ => None,
            }),
            Value::Map(streams) => streams.first().and_then(|(_, es)| match es {
                Value::Array(es) => es.first(),
                _ => None,
            }),
            _ => None,
        };
        let Some(Value::Array(entry)) = entry else {
            return Ok(None);
        };
        let id = entry
            .first()
            .and_then(as_string)
            .ok_or_else(|| RedisError::Server(unexpected("XREADGROUP", &reply)))?;
        let payload = match entry.get(1) {
            Some(Value::Array(fields)) => fields
                .chunks(2)
                .find(|kv| as_bytes(&kv[0]).as_deref() == Some(b"v"))
                .and_then(|kv| kv.get(1).and_then(as_bytes)),
            _ => None,
        };
        Ok(Some((id, payload)))
    }
}

fn report_skipped(err: &RedisDecodeError) {
    #[cfg(feature = "tracing")]
    tracing::warn!(target: "workwise::redis", error = %err, "skipped an entry");
    #[cfg(not(feature = "tracing"))]
    eprintln!("workwise::redis: skipped an entry: {err}");
}

fn unexpected(what: &str, reply: &Value) -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::Parse,
        "unexpected reply",
        format!("{what} answered {reply:?}: is this server Redis 7 or later?"),
    ))
}

fn as_bytes(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::BulkString(b) => Some(b.clone()),
        Value::SimpleString(s) => Some(s.clone().into_bytes()),
        _ => None,
    }
}

fn as_string(v: &Value) -> Option<String> {
    as_bytes(v).and_then(|b| String::from_utf8(b).ok())
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Int(n) => Some(*n),
        other => as_string(other).and_then(|s| s.parse().ok()),
    }
}

fn as_u64(v: &Value) -> Option<u64> {
    as_i64(v).and_then(|n| u64::try_from(n).ok())
}

/// Sleeps between polls: 1 ms, doubling, capped at `poll / 10` within
/// [1, 10] ms.
struct Backoff {
    next: Duration,
    cap: Duration,
}

impl Backoff {
    fn new(poll: Duration) -> Backoff {
        Backoff {
            next: Duration::from_millis(1),
            cap: (poll / 10).clamp(Duration::from_millis(1), Duration::from_millis(10)),
        }
    }

    /// Sleeps the next step, cut at `deadline`; false when the deadline has
    /// passed (no sleep then).
    fn sleep_until(&mut self, deadline: Option<Instant>) -> bool {
        let mut step = self.next;
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            step = step.min(left);
        }
        std::thread::sleep(step);
        self.next = (self.next * 2).min(self.cap);
        true
    }
}

/// An item taken from a [`RedisQueue`]: dropping it acknowledges it (also
/// when unwinding from a panic), so it is done for every process.
///
/// If the process dies before, the item is redelivered to another consumer
/// after the visibility timeout: handle it idempotently.
///
/// # Examples
///
/// ```
/// # let Ok(server) = workwise::redis::LocalServer::start() else { return Ok(()) };
/// let q = workwise::redis::RedisQueue::bounded(&server.url(), "jobs", 8)?;
/// q.put(vec![1, 2, 3]).unwrap();
/// let item = q.get().unwrap();
/// assert_eq!(item.len(), 3);
/// assert_eq!(item.deliveries(), 1);
/// let v: Vec<i32> = item.into_inner(); // acknowledged
/// assert_eq!((v, q.unfinished()?), (vec![1, 2, 3], 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RedisItem<T> {
    value: T,
    ack: Ack,
}

struct Ack {
    shared: Arc<Shared>,
    consumer: Arc<Consumer>,
    id: String,
    deliveries: u64,
    armed: bool,
}

impl Drop for Ack {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Err(err) = self.shared.ack(&self.id) {
            bump(&self.shared.counters.ack_failures, 1);
            #[cfg(feature = "tracing")]
            tracing::warn!(target: "workwise::redis", id = %self.id, error = %err,
                "could not acknowledge; the item comes back after the visibility timeout");
            #[cfg(not(feature = "tracing"))]
            eprintln!(
                "workwise::redis: could not acknowledge entry {} ({err}); it comes back after \
                 the visibility timeout",
                self.id
            );
        }
    }
}

impl<T> RedisItem<T> {
    /// The stream entry's id.
    pub fn id(&self) -> &str {
        &self.ack.id
    }

    /// How many times the item was delivered, this time included (1 the
    /// first time).
    pub fn deliveries(&self) -> u64 {
        self.ack.deliveries
    }

    /// Takes the value out and acknowledges the item.
    pub fn into_inner(self) -> T {
        let RedisItem { value, ack } = self;
        drop(ack);
        value
    }

    /// Acknowledges now, and says whether Redis took it (a drop cannot).
    ///
    /// # Errors
    ///
    /// Redis failed; the item comes back after the visibility timeout.
    pub fn ack(self) -> Result<T, RedisError> {
        let RedisItem { value, mut ack } = self;
        ack.armed = false;
        ack.shared.ack(&ack.id)?;
        Ok(value)
    }

    /// Hands the item back unacknowledged: the next get of any consumer
    /// takes it (before new items), and it counts as one more delivery
    /// towards `max_deliveries`.
    ///
    /// # Errors
    ///
    /// Redis failed; the item still comes back, after the visibility
    /// timeout.
    pub fn requeue(self) -> Result<(), RedisError> {
        let RedisItem { value, mut ack } = self;
        drop(value);
        ack.armed = false;
        let s = &ack.shared;
        s.call(|c| {
            redis::cmd("XCLAIM")
                .arg(&s.stream)
                .arg(GROUP)
                .arg(&ack.consumer.name)
                .arg(0)
                .arg(&ack.id)
                .arg("IDLE")
                .arg(REQUEUE_IDLE_MS)
                .arg("JUSTID")
                .query::<Value>(c)
        })?;
        Ok(())
    }
}

impl<T> Deref for RedisItem<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for RedisItem<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T> fmt::Debug for RedisItem<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisItem")
            .field("id", &self.ack.id)
            .field("deliveries", &self.ack.deliveries)
            .finish_non_exhaustive()
    }
}
