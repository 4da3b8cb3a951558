//! `RedisQueueBuilder`: the settings, checked, and the first connection.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

// The queue's private types and helpers, shared by its files.
use super::*;

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
    pub(super) url: String,
    pub(super) name: String,
    pub(super) capacity: Option<usize>,
    pub(super) visibility: Duration,
    pub(super) max_deliveries: u32,
    pub(super) max_value_bytes: usize,
    pub(super) poll: Duration,
    pub(super) _values: PhantomData<fn(T) -> T>,
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
