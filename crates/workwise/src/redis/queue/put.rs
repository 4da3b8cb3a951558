//! The puts (rule 1) and their backoff while full.

use std::time::{Duration, Instant};

use serde::Serialize;

// The queue's private types and helpers, shared by its files.
use super::*;

impl<T: Serialize> RedisQueue<T> {
    /// Puts `item`, waiting while the queue is full.
    ///
    /// # Examples
    ///
    /// ```
    /// # let Ok(server) = workwise::redis::LocalServer::start() else { return Ok(()) };
    /// let q = workwise::redis::RedisQueue::bounded(&server.url(), "jobs", 8)?;
    /// q.put("a job".to_owned()).unwrap();
    /// assert_eq!(q.unfinished()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    /// # Examples
    ///
    /// ```
    /// # let Ok(server) = workwise::redis::LocalServer::start() else { return Ok(()) };
    /// # use std::time::Duration;
    /// let q = workwise::redis::RedisQueue::bounded(&server.url(), "jobs", 1)?;
    /// q.put_timeout(1, Duration::from_secs(1)).unwrap();
    /// assert!(q.put_timeout(2, Duration::from_millis(10)).is_err()); // full
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    /// # Examples
    ///
    /// ```
    /// # let Ok(server) = workwise::redis::LocalServer::start() else { return Ok(()) };
    /// let q = workwise::redis::RedisQueue::bounded(&server.url(), "jobs", 1)?;
    /// q.try_put(1).unwrap();
    /// assert_eq!(q.try_put(2).unwrap_err().into_inner(), 2); // full
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    pub(in crate::redis) fn encode(&self, item: &T) -> Result<Vec<u8>, PutFail> {
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
    pub(in crate::redis) fn put_payload(&self, payload: &[u8], wait: Wait) -> Result<(), PutFail> {
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

/// Sleeps between polls: 1 ms, doubling, capped at `poll / 10` within
/// [1, 10] ms.
pub(super) struct Backoff {
    next: Duration,
    cap: Duration,
}

impl Backoff {
    pub(super) fn new(poll: Duration) -> Backoff {
        Backoff {
            next: Duration::from_millis(1),
            cap: (poll / 10).clamp(Duration::from_millis(1), Duration::from_millis(10)),
        }
    }

    /// Sleeps the next step, cut at `deadline`; false when the deadline has
    /// passed (no sleep then).
    pub(super) fn sleep_until(&mut self, deadline: Option<Instant>) -> bool {
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
