//! The errors of [`RedisQueue`](super::RedisQueue): one type per call shape,
//! each with only the variants that call can meet. Every error of a put
//! hands the item back.

use std::fmt;

use super::RedisError;

/// Why [`RedisQueue::builder`](super::RedisQueue::builder)'s `build` failed.
///
/// # Examples
///
/// ```
/// let err = workwise::redis::RedisQueue::<u32>::bounded("redis://127.0.0.1:1/", "jobs", 0)
///     .unwrap_err();
/// assert!(err.to_string().contains("at least 1"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum RedisQueueBuildError {
    /// A capacity of zero.
    ZeroCapacity,
    /// `max_deliveries(0)`: no item could ever be delivered.
    ZeroMaxDeliveries,
    /// A visibility timeout under one millisecond.
    ZeroVisibilityTimeout,
    /// `max_value_bytes(0)`: no value could ever be put.
    ZeroMaxValueBytes,
    /// A queue name that is empty or holds `{` or `}`.
    BadName(String),
    /// Redis could not be reached, or refused to make the stream.
    Redis(RedisError),
}

impl fmt::Display for RedisQueueBuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedisQueueBuildError::ZeroCapacity => f.write_str(
                "a bounded Redis queue needs room for at least 1 item: pick the most undone \
                 items the stream may hold (say 1000), or use RedisQueue::unbounded",
            ),
            RedisQueueBuildError::ZeroMaxDeliveries => f.write_str(
                "max_deliveries must be at least 1 (each item is delivered at least once); \
                 the default is 5",
            ),
            RedisQueueBuildError::ZeroVisibilityTimeout => f.write_str(
                "the visibility timeout must be at least 1 ms; set it above the longest time \
                 a consumer holds an item (the default is 30 s)",
            ),
            RedisQueueBuildError::ZeroMaxValueBytes => {
                f.write_str("max_value_bytes must be at least 1; the default is 512 KiB")
            }
            RedisQueueBuildError::BadName(name) => write!(
                f,
                "{name:?} is not a queue name: use a non-empty name without `{{` or `}}` \
                 (the name becomes the Redis Cluster hash tag of the queue's keys)"
            ),
            RedisQueueBuildError::Redis(err) => write!(f, "could not set up the queue: {err}"),
        }
    }
}

impl std::error::Error for RedisQueueBuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RedisQueueBuildError::Redis(err) => Some(err),
            _ => None,
        }
    }
}

/// A stream entry that does not decode into the queue's type, or an item
/// delivered more times than allowed. Either way the entry was moved to the
/// queue's dead-letter stream (`workwise:{NAME}:dead`): it is not lost and
/// will not come back.
///
/// # Examples
///
/// ```
/// use workwise::redis::{LocalServer, RedisQueue, RedisTryGetError};
///
/// # let Ok(server) = LocalServer::start() else { return Ok(()) };
/// let q = RedisQueue::<u32>::bounded(&server.url(), "jobs", 8)?;
/// // Another producer wrote something that is not a u32.
/// let mut c = redis::Client::open(server.url())?.get_connection()?;
/// redis::cmd("XADD").arg("workwise:{jobs}:stream").arg("*").arg("v").arg("\"oops\"")
///     .query::<()>(&mut c)?;
/// match q.try_get() {
///     Err(RedisTryGetError::Decode(err)) => {
///         assert!(err.reason.contains("expected u32"));
///         assert_eq!(err.dead_letters, "workwise:{jobs}:dead");
///     }
///     other => panic!("{other:?}"),
/// }
/// assert_eq!((q.unfinished()?, q.dead_letters()?), (0, 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisDecodeError {
    /// The stream entry's id, as Redis gave it (`1700000000000-0`).
    pub id: String,
    /// serde's message, or what was missing.
    pub reason: String,
    /// The dead-letter stream's key the entry was moved to.
    pub dead_letters: String,
}

impl fmt::Display for RedisDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stream entry {} does not decode as this queue's type ({}); it was moved to {}: \
             check that every producer of this queue puts the same type (XRANGE {} - + shows it)",
            self.id, self.reason, self.dead_letters, self.dead_letters
        )
    }
}

impl std::error::Error for RedisDecodeError {}

/// What put errors share: how to say each variant, and the item inside.
macro_rules! put_error {
    (
        $(#[$meta:meta])*
        $name:ident { $($(#[$vmeta:meta])* $variant:ident),* }
    ) => {
        $(#[$meta])*
        #[non_exhaustive]
        pub enum $name<T> {
            $($(#[$vmeta])* $variant(T),)*
            /// The queue was closed: it takes no new items.
            Closed(T),
            /// The value's JSON is larger than the queue's `max_value_bytes`.
            TooLarge {
                /// The item.
                item: T,
                /// Its JSON's size in bytes.
                size: usize,
                /// The queue's cap.
                max: usize,
            },
            /// serde_json could not encode the value.
            Encode {
                /// The item.
                item: T,
                /// serde_json's error.
                source: serde_json::Error,
            },
            /// Redis failed. The item may or may not be in the stream: the
            /// reply can be lost after the write (delivery is at least once).
            Redis {
                /// The item.
                item: T,
                /// What failed.
                source: RedisError,
            },
        }

        impl<T> $name<T> {
            /// The item that was not put.
            pub fn into_inner(self) -> T {
                match self {
                    $($name::$variant(item) => item,)*
                    $name::Closed(item)
                    | $name::TooLarge { item, .. }
                    | $name::Encode { item, .. }
                    | $name::Redis { item, .. } => item,
                }
            }

            pub(crate) fn from_fail(fail: PutFail, item: T) -> Self {
                match fail {
                    $(PutFail::$variant => $name::$variant(item),)*
                    PutFail::Closed => $name::Closed(item),
                    PutFail::TooLarge { size, max } => $name::TooLarge { item, size, max },
                    PutFail::Encode(source) => $name::Encode { item, source },
                    PutFail::Redis(source) => $name::Redis { item, source },
                    #[allow(unreachable_patterns)]
                    _ => unreachable!("this call shape does not meet {fail:?}"),
                }
            }
        }

        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $($name::$variant(_) => f.write_str(concat!(stringify!($variant), "(..)")),)*
                    $name::Closed(_) => f.write_str("Closed(..)"),
                    $name::TooLarge { size, max, .. } => f
                        .debug_struct("TooLarge")
                        .field("size", size)
                        .field("max", max)
                        .finish_non_exhaustive(),
                    $name::Encode { source, .. } => {
                        f.debug_struct("Encode").field("source", source).finish_non_exhaustive()
                    }
                    $name::Redis { source, .. } => {
                        f.debug_struct("Redis").field("source", source).finish_non_exhaustive()
                    }
                }
            }
        }

        impl<T> fmt::Display for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $($name::$variant(_) => f.write_str(PutFail::$variant.message()),)*
                    $name::Closed(_) => f.write_str(PutFail::Closed.message()),
                    $name::TooLarge { size, max, .. } => write!(
                        f,
                        "the value's JSON is {size} bytes, over the queue's cap of {max}: \
                         put a reference (a key, a path) instead of the data, or raise \
                         max_value_bytes (the item is handed back)"
                    ),
                    $name::Encode { source, .. } => write!(
                        f,
                        "the value does not encode as JSON ({source}): maps need string keys \
                         (the item is handed back)"
                    ),
                    $name::Redis { source, .. } => write!(
                        f,
                        "{source} (the item is handed back; it may have been put before the \
                         reply was lost)"
                    ),
                }
            }
        }

        impl<T> std::error::Error for $name<T> {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                match self {
                    $name::Encode { source, .. } => Some(source),
                    $name::Redis { source, .. } => Some(source),
                    _ => None,
                }
            }
        }
    };
}

put_error! {
    /// [`RedisQueue::put`](super::RedisQueue::put) failed; holds the item.
    ///
    /// # Examples
    ///
    /// ```
    /// # let Ok(server) = workwise::redis::LocalServer::start() else { return Ok(()) };
    /// let q = workwise::redis::RedisQueue::bounded(&server.url(), "jobs", 8)?;
    /// q.close()?;
    /// assert_eq!(q.put(5).unwrap_err().into_inner(), 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    RedisPutError {}
}

put_error! {
    /// [`RedisQueue::try_put`](super::RedisQueue::try_put) failed; holds the item.
    ///
    /// # Examples
    ///
    /// ```
    /// # let Ok(server) = workwise::redis::LocalServer::start() else { return Ok(()) };
    /// let q = workwise::redis::RedisQueue::bounded(&server.url(), "jobs", 1)?;
    /// q.try_put(1).unwrap();
    /// assert!(matches!(q.try_put(2), Err(workwise::redis::RedisTryPutError::Full(2))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    RedisTryPutError {
        /// The stream holds `capacity` undone items.
        Full
    }
}

put_error! {
    /// [`RedisQueue::put_timeout`](super::RedisQueue::put_timeout) failed; holds the item.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let Ok(server) = workwise::redis::LocalServer::start() else { return Ok(()) };
    /// let q = workwise::redis::RedisQueue::bounded(&server.url(), "jobs", 1)?;
    /// q.put(1).unwrap();
    /// let err = q.put_timeout(2, Duration::from_millis(10)).unwrap_err();
    /// assert!(matches!(err, workwise::redis::RedisPutTimeoutError::Timeout(2)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    RedisPutTimeoutError {
        /// The stream stayed full until the deadline.
        Timeout
    }
}

/// Why a put did not happen, before the item is attached.
#[derive(Debug)]
pub(crate) enum PutFail {
    Full,
    Timeout,
    Closed,
    TooLarge { size: usize, max: usize },
    Encode(serde_json::Error),
    Redis(RedisError),
}

impl PutFail {
    fn message(&self) -> &'static str {
        match self {
            PutFail::Full => {
                "the queue is full (capacity undone items in the stream): wait with put or \
                 put_timeout, or add consumers (the item is handed back)"
            }
            PutFail::Timeout => {
                "the queue stayed full until the deadline: consumers are too slow or gone; \
                 add consumers or wait longer (the item is handed back)"
            }
            PutFail::Closed => {
                "the queue is closed: it takes no new items (the item is handed back)"
            }
            _ => "",
        }
    }
}

/// What get errors share.
macro_rules! get_error {
    (
        $(#[$meta:meta])*
        $name:ident { $($(#[$vmeta:meta])* $variant:ident => $msg:expr),* }
    ) => {
        $(#[$meta])*
        #[derive(Debug)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// The queue is closed and holds nothing more for this consumer.
            Closed,
            /// The next entry did not decode, or was delivered more than
            /// `max_deliveries` times; it was moved to the dead letters. The
            /// next call goes on with the following entry.
            Decode(RedisDecodeError),
            /// Redis failed.
            Redis(RedisError),
        }

        impl $name {
            pub(crate) fn from_fail(fail: GetFail) -> Self {
                match fail {
                    $(GetFail::$variant => $name::$variant,)*
                    GetFail::Closed => $name::Closed,
                    GetFail::Decode(err) => $name::Decode(err),
                    GetFail::Redis(err) => $name::Redis(err),
                    #[allow(unreachable_patterns)]
                    other => unreachable!("this call shape does not meet {other:?}"),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $($name::$variant => f.write_str($msg),)*
                    $name::Closed => f.write_str(
                        "the queue is closed and drained: no more items will come",
                    ),
                    $name::Decode(err) => err.fmt(f),
                    $name::Redis(err) => err.fmt(f),
                }
            }
        }

        impl std::error::Error for $name {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                match self {
                    $name::Decode(err) => Some(err),
                    $name::Redis(err) => Some(err),
                    _ => None,
                }
            }
        }
    };
}

get_error! {
    /// [`RedisQueue::get`](super::RedisQueue::get) failed.
    ///
    /// # Examples
    ///
    /// ```
    /// # let Ok(server) = workwise::redis::LocalServer::start() else { return Ok(()) };
    /// let q = workwise::redis::RedisQueue::<u32>::bounded(&server.url(), "jobs", 8)?;
    /// q.close()?;
    /// assert!(matches!(q.get(), Err(workwise::redis::RedisGetError::Closed)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    RedisGetError {}
}

get_error! {
    /// [`RedisQueue::try_get`](super::RedisQueue::try_get) failed.
    ///
    /// # Examples
    ///
    /// ```
    /// # let Ok(server) = workwise::redis::LocalServer::start() else { return Ok(()) };
    /// let q = workwise::redis::RedisQueue::<u32>::bounded(&server.url(), "jobs", 8)?;
    /// assert!(matches!(q.try_get(), Err(workwise::redis::RedisTryGetError::Empty)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    RedisTryGetError {
        /// Nothing to take now.
        Empty => "the queue is empty now: try again later, or wait with get or get_timeout"
    }
}

get_error! {
    /// [`RedisQueue::get_timeout`](super::RedisQueue::get_timeout) failed.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let Ok(server) = workwise::redis::LocalServer::start() else { return Ok(()) };
    /// let q = workwise::redis::RedisQueue::<u32>::bounded(&server.url(), "jobs", 8)?;
    /// let err = q.get_timeout(Duration::from_millis(10)).unwrap_err();
    /// assert!(matches!(err, workwise::redis::RedisGetTimeoutError::Timeout));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    RedisGetTimeoutError {
        /// Nothing came before the deadline.
        Timeout => "nothing came before the deadline: producers are slow or gone; wait longer"
    }
}

/// Why a get did not return an item.
#[derive(Debug)]
pub(crate) enum GetFail {
    Empty,
    Timeout,
    Closed,
    Decode(RedisDecodeError),
    Redis(RedisError),
}

/// [`RedisQueue::join_timeout`](super::RedisQueue::join_timeout) failed.
///
/// # Examples
///
/// ```
/// # use std::time::Duration;
/// # let Ok(server) = workwise::redis::LocalServer::start() else { return Ok(()) };
/// let q = workwise::redis::RedisQueue::bounded(&server.url(), "jobs", 8)?;
/// q.put(1).unwrap();
/// let err = q.join_timeout(Duration::from_millis(10)).unwrap_err();
/// assert!(matches!(err, workwise::redis::RedisJoinError::Timeout { unfinished: 1 }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum RedisJoinError {
    /// Undone items were left at the deadline.
    Timeout {
        /// Items in the stream not yet acknowledged.
        unfinished: usize,
    },
    /// Redis failed.
    Redis(RedisError),
}

impl fmt::Display for RedisJoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedisJoinError::Timeout { unfinished } => write!(
                f,
                "{unfinished} items were still undone at the deadline: consumers may be \
                 gone, stuck or too slow (a dead consumer's items come back after the \
                 visibility timeout)"
            ),
            RedisJoinError::Redis(err) => err.fmt(f),
        }
    }
}

impl std::error::Error for RedisJoinError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RedisJoinError::Redis(err) => Some(err),
            RedisJoinError::Timeout { .. } => None,
        }
    }
}
