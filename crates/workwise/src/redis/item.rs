//! `RedisItem`: the guard of an item taken from a `RedisQueue`; its drop is
//! the acknowledgement (rule 2 of `queue.rs`).

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use redis::Value;

use super::queue::{bump, Consumer, Shared, GROUP};
use super::RedisError;

/// An idle time far above any visibility timeout: `requeue` sets it so the
/// next getter claims the item at once.
const REQUEUE_IDLE_MS: u64 = 1 << 40;

/// An item taken from a [`RedisQueue`](super::RedisQueue): dropping it acknowledges it (also
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
    pub(super) value: T,
    pub(super) ack: Ack,
}

pub(super) struct Ack {
    pub(super) shared: Arc<Shared>,
    pub(super) consumer: Arc<Consumer>,
    pub(super) id: String,
    pub(super) deliveries: u64,
    pub(super) armed: bool,
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
    /// # Examples
    ///
    /// ```
    /// # let Ok(server) = workwise::redis::LocalServer::start() else { return Ok(()) };
    /// let q = workwise::redis::RedisQueue::bounded(&server.url(), "jobs", 8)?;
    /// q.put(1).unwrap();
    /// let value = q.get().unwrap().ack()?; // acknowledged, or an error to see
    /// assert_eq!((value, q.unfinished()?), (1, 0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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

    /// Hands the item back unacknowledged: the next get of this handle
    /// takes it before new items, another handle's get within its `poll`
    /// (each consumer looks for handed-back and abandoned items at least
    /// once per `poll`, and reads new items in between); it counts as one
    /// more delivery towards `max_deliveries`.
    ///
    /// # Examples
    ///
    /// ```
    /// # let Ok(server) = workwise::redis::LocalServer::start() else { return Ok(()) };
    /// let q = workwise::redis::RedisQueue::bounded(&server.url(), "jobs", 8)?;
    /// q.put(1).unwrap();
    /// q.get().unwrap().requeue()?;
    /// let again = q.get().unwrap();
    /// assert_eq!((*again, again.deliveries()), (1, 2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
        ack.consumer.sweep_next();
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
