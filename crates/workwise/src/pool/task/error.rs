//! Why a task gave no value, and catching a panic so that it becomes one.

use std::any::Any;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};

/// Why a task gave no value.
///
/// # Examples
///
/// ```
/// use workwise::{Pool, TaskError};
///
/// let pool = Pool::io().build()?;
/// let handle = pool.submit(|| -> u32 { panic!("bad row 7") });
/// match handle.wait() {
///     Err(TaskError::Panicked { message }) => assert!(message.contains("bad row 7")),
///     other => panic!("unexpected {other:?}"),
/// }
/// # Ok::<(), workwise::PoolBuildError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskError {
    /// The task panicked; the pool caught the panic and kept its worker.
    Panicked {
        /// The panic's message, when it was a string.
        message: String,
    },
    /// The wait ran out of time; the task itself goes on. (From a
    /// `ProcessPool` with a task `timeout`: the task ran out of time and its
    /// worker process was killed.)
    TimedOut,
    /// The task was cancelled before it started, and never ran.
    Cancelled,
    /// The pool was shut down before the task was accepted; it never ran.
    Closed,
    /// The result was already taken from this handle by an earlier wait.
    ResultTaken,
    /// The pool had no worker and could not start one, so the task never
    /// ran.
    NoWorker {
        /// The operating system's reason.
        message: String,
    },
    /// The worker process running the task died or broke the frame
    /// protocol (a `ProcessPool` from the `process` feature); the pool
    /// started another worker and went on with the other tasks.
    WorkerCrashed {
        /// The signal that killed the worker (11 is SIGSEGV, 6 SIGABRT,
        /// 9 SIGKILL, also the out-of-memory killer's), if a signal did.
        signal: Option<i32>,
        /// The worker's exit status, if it exited.
        exit_code: Option<i32>,
        /// What the pool saw: the worker's pipe closed, or what was wrong
        /// with the frame it sent.
        detail: String,
    },
    /// A data-parallel call's input had more items than a `usize` can
    /// count (an inclusive range over every value of an integer type as
    /// wide as `usize`: `0..=usize::MAX`; on 64-bit targets also
    /// `0..=u64::MAX`, `i64::MIN..=i64::MAX`), or more than a `Vec` of
    /// `par_map`'s results can hold (over `isize::MAX` bytes, such as
    /// `par_map(0..u64::MAX, f)`). No item ran.
    TooManyItems,
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Panicked { message } => write!(f, "the task panicked: {message}"),
            TaskError::TimedOut => f.write_str(
                "timed out: after a wait_timeout the task still runs (wait again, or cancel it \
                 if it has not started); after a ProcessPool task timeout its worker was killed",
            ),
            TaskError::Cancelled => f.write_str("the task was cancelled before it started"),
            TaskError::Closed => f.write_str(
                "the pool was shut down before the task was accepted: submit before calling shutdown",
            ),
            TaskError::ResultTaken => {
                f.write_str("the result was already taken from this handle by an earlier wait")
            }
            TaskError::NoWorker { message } => write!(
                f,
                "the pool had no worker and the operating system refused to start one \
                 ({message}): the task never ran; lower max_workers or stack_size, or \
                 free threads and submit it again"
            ),
            TaskError::WorkerCrashed {
                signal,
                exit_code,
                detail,
            } => {
                f.write_str("the worker process running this task ")?;
                match (signal, exit_code) {
                    (Some(sig), _) => write!(f, "was killed by signal {sig}")?,
                    (None, Some(code)) => write!(f, "exited with status {code}")?,
                    (None, None) => f.write_str("failed")?,
                }
                write!(
                    f,
                    " ({detail}); the pool replaced it and ran the other tasks: the task ran \
                     at most once; fix the crash, or if the task is safe to run again opt \
                     into ProcessPool::builder().retry_crashed(n)"
                )
            }
            TaskError::TooManyItems => f.write_str(
                "the input has more items than a usize can count (an inclusive range over a \
                 whole integer type, such as 0..=usize::MAX) or than a Vec of par_map's results \
                 can hold: split it into smaller ranges, or use map_reduce or for_each, which \
                 keep no result per item",
            ),
        }
    }
}

impl std::error::Error for TaskError {}

pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}

/// Runs `f`, turning a panic into [`TaskError::Panicked`]. The panic's
/// payload is dropped quietly: a payload whose `Drop` panics too is leaked
/// rather than let the second panic escape.
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, TaskError> {
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        let message = panic_message(&*p);
        drop_quietly(p);
        TaskError::Panicked { message }
    })
}

/// Drops `value`, catching a panic from its `Drop`. The second payload is
/// leaked, not dropped, since its own `Drop` may panic as well. User values
/// (results, closures, payloads) are dropped through here wherever the pool
/// drops them, so user code cannot unwind through a worker.
pub(crate) fn drop_quietly<V>(value: V) {
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(move || drop(value))) {
        std::mem::forget(payload);
    }
}
