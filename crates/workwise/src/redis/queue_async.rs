//! The async variants of [`RedisQueue`]'s waiting calls (feature `tokio`).
//!
//! The Redis client here is the blocking one: each call runs the blocking
//! call on tokio's blocking pool (`spawn_blocking`), so a waiting put or get
//! holds one blocking thread, not a runtime worker. A native async client
//! would save that thread; the queue's waits poll anyway (rule 3 of
//! `queue.rs`), so the thread is the whole difference.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::queue::{RedisItem, RedisQueue, Wait};
use super::queue_error::{GetFail, RedisGetError, RedisPutError};
use super::RedisError;

fn shut_down() -> RedisError {
    RedisError::Server(redis::RedisError::from(std::io::Error::other(
        "the tokio runtime shut down before the call ran; keep the runtime alive until it returns",
    )))
}

impl<T: Serialize + Send + 'static> RedisQueue<T> {
    /// [`put`](RedisQueue::put) for async code: waits without blocking a
    /// runtime worker.
    ///
    /// # Examples
    ///
    /// ```
    /// # let Ok(server) = workwise::redis::LocalServer::start() else { return Ok(()) };
    /// let q = workwise::redis::RedisQueue::bounded(&server.url(), "jobs", 8)?;
    /// let rt = tokio::runtime::Builder::new_current_thread().build()?;
    /// rt.block_on(q.put_async(1)).unwrap();
    /// assert_eq!(q.unfinished()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`put`](RedisQueue::put); the item is handed back.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future does not stop a put already sent to the blocking
    /// pool: the item may still be put.
    pub async fn put_async(&self, item: T) -> Result<(), RedisPutError<T>> {
        let payload = match self.encode(&item) {
            Ok(payload) => payload,
            Err(fail) => return Err(RedisPutError::from_fail(fail, item)),
        };
        let q = self.same_consumer();
        let put = tokio::task::spawn_blocking(move || q.put_payload(&payload, Wait::Until(None)));
        match put.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(fail)) => Err(RedisPutError::from_fail(fail, item)),
            Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
            Err(_) => Err(RedisPutError::Redis {
                item,
                source: shut_down(),
            }),
        }
    }
}

impl<T: DeserializeOwned + Send + 'static> RedisQueue<T> {
    /// [`get`](RedisQueue::get) for async code: waits without blocking a
    /// runtime worker.
    ///
    /// # Examples
    ///
    /// ```
    /// # let Ok(server) = workwise::redis::LocalServer::start() else { return Ok(()) };
    /// let q = workwise::redis::RedisQueue::bounded(&server.url(), "jobs", 8)?;
    /// q.put(7).unwrap();
    /// let rt = tokio::runtime::Builder::new_current_thread().build()?;
    /// let item = rt.block_on(q.get_async()).unwrap();
    /// assert_eq!(item.into_inner(), 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`get`](RedisQueue::get).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: an item taken after the future was dropped is requeued,
    /// not lost (it counts as one delivery), and the blocking thread stops
    /// within the queue's `poll`.
    pub async fn get_async(&self) -> Result<RedisItem<T>, RedisGetError> {
        let q = self.same_consumer();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let poll = q.poll();
        tokio::task::spawn_blocking(move || {
            let got = loop {
                if tx.is_closed() {
                    return;
                }
                match q.get_for(Wait::Until(crate::clock::deadline_after(poll))) {
                    Err(GetFail::Timeout) => continue,
                    got => break got,
                }
            };
            if let Err(Ok(item)) = tx.send(got) {
                // Nobody waits any more: hand it back rather than ack it.
                let _ = item.requeue();
            }
        });
        match rx.await {
            Ok(got) => got.map_err(RedisGetError::from_fail),
            Err(_) => Err(RedisGetError::Redis(shut_down())),
        }
    }
}

impl<T> RedisQueue<T> {
    fn poll(&self) -> Duration {
        self.poll_interval()
    }
}
