//! The queue's errors, in crossbeam's grid: each put and get returns an
//! error with only the variants that call can fail with ([`PutError`],
//! [`TryPutError`], [`PutTimeoutError`]; [`GetError`], [`TryGetError`],
//! [`GetTimeoutError`]), and the blocking call's error converts into the
//! others. Every error of a put hands the item back.

use std::fmt;

/// Why [`Queue::bounded`](super::Queue::bounded) could not build a queue;
/// its message says what to do instead.
///
/// # Examples
///
/// ```
/// use workwise::{Queue, QueueBuildError};
///
/// let err = Queue::<u8>::bounded(0).unwrap_err();
/// assert_eq!(err, QueueBuildError::ZeroCapacity);
/// assert!(err.to_string().contains("at least 1"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueueBuildError {
    /// A capacity of zero.
    ZeroCapacity,
}

impl fmt::Display for QueueBuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueBuildError::ZeroCapacity => f.write_str(
                "a bounded queue needs room for at least 1 item: a capacity of 0 would block every put; \
                 pick the most items you can afford to hold (say 100), or use Queue::unbounded()",
            ),
        }
    }
}

impl std::error::Error for QueueBuildError {}

macro_rules! item_error_impls {
    ($name:ident, $($variant:ident => $msg:expr),+) => {
        impl<T> $name<T> {
            /// The item that was not put.
            pub fn into_inner(self) -> T {
                match self {
                    $($name::$variant(item) => item),+
                }
            }
        }

        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $($name::$variant(_) => f.write_str(concat!(stringify!($variant), "(..)"))),+
                }
            }
        }

        impl<T> fmt::Display for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $($name::$variant(_) => f.write_str($msg)),+
                }
            }
        }

        impl<T> std::error::Error for $name<T> {}
    };
}

const CLOSED_PUT: &str = "the queue is closed: it takes no new items (the item is handed back)";

/// `put` on a closed queue; holds the item.
///
/// # Examples
///
/// ```
/// let q = workwise::Queue::bounded(1)?;
/// q.close();
/// assert_eq!(q.put(5).unwrap_err().into_inner(), 5);
/// # Ok::<(), workwise::QueueBuildError>(())
/// ```
#[non_exhaustive]
pub enum PutError<T> {
    /// The queue was closed.
    Closed(T),
}
item_error_impls!(PutError, Closed => CLOSED_PUT);

/// `try_put` refused the item; holds it.
///
/// # Examples
///
/// ```
/// use workwise::{Queue, TryPutError};
///
/// let q = Queue::bounded(1)?;
/// q.try_put(1).unwrap();
/// assert!(matches!(q.try_put(2), Err(TryPutError::Full(2))));
/// # Ok::<(), workwise::QueueBuildError>(())
/// ```
#[non_exhaustive]
pub enum TryPutError<T> {
    /// The queue is at its capacity.
    Full(T),
    /// The queue was closed.
    Closed(T),
}
item_error_impls!(
    TryPutError,
    Full => "the queue is full: wait with put or put_timeout, or retry later",
    Closed => CLOSED_PUT
);

/// `put_timeout` gave up; holds the item.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::{PutTimeoutError, Queue};
///
/// let q = Queue::bounded(1)?;
/// q.put(1).unwrap();
/// let err = q.put_timeout(2, Duration::from_millis(5)).unwrap_err();
/// assert!(matches!(err, PutTimeoutError::Timeout(2)));
/// # Ok::<(), workwise::QueueBuildError>(())
/// ```
#[non_exhaustive]
pub enum PutTimeoutError<T> {
    /// The queue stayed full until the deadline.
    Timeout(T),
    /// The queue was closed.
    Closed(T),
}
item_error_impls!(
    PutTimeoutError,
    Timeout => "the queue stayed full until the deadline: consumers are slower than producers; \
                add consumers or wait longer",
    Closed => CLOSED_PUT
);

impl<T> From<PutError<T>> for TryPutError<T> {
    fn from(e: PutError<T>) -> Self {
        match e {
            PutError::Closed(item) => TryPutError::Closed(item),
        }
    }
}

impl<T> From<PutError<T>> for PutTimeoutError<T> {
    fn from(e: PutError<T>) -> Self {
        match e {
            PutError::Closed(item) => PutTimeoutError::Closed(item),
        }
    }
}

const CLOSED_GET: &str = "the queue is closed and drained: no item will come; stop consuming";

/// `get` found the queue closed and drained: no item will come.
///
/// A blocking get fails only this way; [`TryGetError`] and
/// [`GetTimeoutError`] add the failures of the calls that do not wait for
/// ever.
///
/// # Examples
///
/// ```
/// use workwise::{GetError, Queue};
///
/// let q = Queue::<u8>::unbounded();
/// q.close();
/// assert_eq!(q.get().unwrap_err(), GetError::Closed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GetError {
    /// The queue is closed and every item has been taken: stop consuming.
    Closed,
}

impl fmt::Display for GetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GetError::Closed => f.write_str(CLOSED_GET),
        }
    }
}

impl std::error::Error for GetError {}

/// `try_get` took no item.
///
/// # Examples
///
/// ```
/// use workwise::{Queue, TryGetError};
///
/// let q = Queue::<u8>::unbounded();
/// assert_eq!(q.try_get().unwrap_err(), TryGetError::Empty);
/// q.close();
/// assert_eq!(q.try_get().unwrap_err(), TryGetError::Closed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TryGetError {
    /// No item is waiting right now: try again later, or wait with `get`
    /// or `get_timeout`.
    Empty,
    /// The queue is closed and every item has been taken: stop consuming.
    Closed,
}

impl fmt::Display for TryGetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryGetError::Empty => {
                "the queue is empty right now: try again later, or wait with get or get_timeout"
            }
            TryGetError::Closed => CLOSED_GET,
        })
    }
}

impl std::error::Error for TryGetError {}

impl From<GetError> for TryGetError {
    fn from(e: GetError) -> Self {
        match e {
            GetError::Closed => TryGetError::Closed,
        }
    }
}

/// `get_timeout` took no item.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::{GetTimeoutError, Queue};
///
/// let q = Queue::<u8>::bounded(1)?;
/// let err = q.get_timeout(Duration::from_millis(5)).unwrap_err();
/// assert_eq!(err, GetTimeoutError::Timeout);
/// # Ok::<(), workwise::QueueBuildError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GetTimeoutError {
    /// No item came before the deadline.
    Timeout,
    /// The queue is closed and every item has been taken: stop consuming.
    Closed,
}

impl fmt::Display for GetTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GetTimeoutError::Timeout => {
                "no item came before the deadline: producers are slower than consumers, or \
                 have stopped; wait longer, or close the queue when production ends"
            }
            GetTimeoutError::Closed => CLOSED_GET,
        })
    }
}

impl std::error::Error for GetTimeoutError {}

impl From<GetError> for GetTimeoutError {
    fn from(e: GetError) -> Self {
        match e {
            GetError::Closed => GetTimeoutError::Closed,
        }
    }
}

/// `join_timeout` gave up while items were still unfinished.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let q = workwise::Queue::bounded(4)?;
/// q.put("unprocessed").unwrap();
/// let err = q.join_timeout(Duration::from_millis(5)).unwrap_err();
/// assert_eq!(err.unfinished, 1);
/// # Ok::<(), workwise::QueueBuildError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct JoinTimeoutError {
    /// Items put and not yet done when the time ran out.
    pub unfinished: usize,
}

impl fmt::Display for JoinTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} items were still unfinished at the deadline: a consumer may be stuck or too slow",
            self.unfinished
        )
    }
}

impl std::error::Error for JoinTimeoutError {}
