//! The gets (rules 3-5): `TAKE`, the blocking read, decoding, reply parsing.

use std::time::Duration;

use redis::Value;
use serde::de::DeserializeOwned;

// The queue's private types and helpers, shared by its files.
use super::*;

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

impl<T: DeserializeOwned> RedisQueue<T> {
    /// Takes the next item, waiting until one comes or the queue is closed
    /// and drained. Drop the guard to acknowledge it.
    ///
    /// # Examples
    ///
    /// ```
    /// # let Ok(server) = workwise::redis::LocalServer::start() else { return Ok(()) };
    /// let q = workwise::redis::RedisQueue::bounded(&server.url(), "jobs", 8)?;
    /// q.put(1).unwrap();
    /// let item = q.get().unwrap();
    /// assert_eq!(*item, 1);
    /// drop(item); // acknowledged
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    /// # Examples
    ///
    /// ```
    /// # let Ok(server) = workwise::redis::LocalServer::start() else { return Ok(()) };
    /// # use std::time::Duration;
    /// let q = workwise::redis::RedisQueue::bounded(&server.url(), "jobs", 8)?;
    /// q.put(1).unwrap();
    /// assert_eq!(q.get_timeout(Duration::from_secs(5)).unwrap().into_inner(), 1);
    /// assert!(q.get_timeout(Duration::from_millis(10)).is_err()); // nothing came
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    /// # Examples
    ///
    /// ```
    /// # let Ok(server) = workwise::redis::LocalServer::start() else { return Ok(()) };
    /// let q = workwise::redis::RedisQueue::bounded(&server.url(), "jobs", 8)?;
    /// assert!(q.try_get().is_err()); // empty
    /// q.put(1).unwrap();
    /// assert_eq!(q.try_get().unwrap().into_inner(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    pub(in crate::redis) fn get_for(&self, wait: Wait) -> Result<RedisItem<T>, GetFail> {
        self.get_inner(wait)
    }

    fn get_inner(&self, wait: Wait) -> Result<RedisItem<T>, GetFail> {
        loop {
            if !self.sweep_due() {
                if let Some((id, payload)) = self.read_new().map_err(GetFail::Redis)? {
                    return self.decode(id, payload, 1);
                }
            }
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

    /// Whether this consumer's next get must run `TAKE`: it never has, or
    /// not within `poll` (rule 3).
    fn sweep_due(&self) -> bool {
        let swept = *self.me.swept.lock().unwrap_or_else(|p| p.into_inner());
        swept.is_none_or(|at| at.elapsed() >= self.shared.poll)
    }

    /// A plain `XREADGROUP … COUNT 1` of one new entry, not blocking
    /// (rule 3, between sweeps).
    fn read_new(&self) -> Result<Option<Entry>, RedisError> {
        let s = &*self.shared;
        let reply: Value = s.call(|c| {
            redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(GROUP)
                .arg(&self.me.name)
                .arg("COUNT")
                .arg(1)
                .arg("STREAMS")
                .arg(&s.stream)
                .arg(">")
                .query(c)
        })?;
        first_entry(&reply)
    }

    /// One `TAKE` (rule 3).
    fn take(&self) -> Result<Took, RedisError> {
        let s = &*self.shared;
        *self.me.swept.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
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
        first_entry(&reply)
    }
}

/// The first entry of an `XREADGROUP` reply:
/// `[[stream, [[id, [field, value, …]]]]]`, or nil when there is none.
fn first_entry(reply: &Value) -> Result<Option<Entry>, RedisError> {
    // [[stream, [[id, [field, value, …]]]]], or nil on timeout.
    let entry = match reply {
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
        .ok_or_else(|| RedisError::Server(unexpected("XREADGROUP", reply)))?;
    let payload = match entry.get(1) {
        Some(Value::Array(fields)) => fields
            .chunks(2)
            .find(|kv| as_bytes(&kv[0]).as_deref() == Some(b"v"))
            .and_then(|kv| kv.get(1).and_then(as_bytes)),
        _ => None,
    };
    Ok(Some((id, payload)))
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

pub(super) fn as_u64(v: &Value) -> Option<u64> {
    as_i64(v).and_then(|n| u64::try_from(n).ok())
}
