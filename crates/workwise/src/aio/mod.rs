//! The async model, on tokio: for thousands of simultaneous waits.
//!
//! Enabled by the `tokio` feature; without it the crate pulls no async
//! runtime. The guide's rules for async code are the shape of this module:
//!
//! | The rule | In `workwise::aio` |
//! |---|---|
//! | Fan out, fan in | [`gather`] (input order), [`map`], [`map_unordered`] |
//! | Bound how many run at once | [`gather_limited`] (lazy: an endless iterator works), [`TaskGroup::with_limit`] |
//! | Every wait has a timeout | [`timeout`] gives [`TaskError::TimedOut`] |
//! | No task outlives its owner | [`TaskGroup`]: dropping it aborts its tasks; [`TaskGroup::fail_fast`] |
//! | Never block the event loop | [`run_blocking`] on a bounded, named [`Pool`](crate::Pool); [`BlockingDetector`] names the task that blocked |
//!
//! [`gather`] and the limited streams run their futures concurrently inside
//! the one task that awaits them (like Python's `asyncio.gather` on one event
//! loop): they wait together, they do not run on several threads. Spawn
//! through a [`TaskGroup`] for that.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use workwise::aio;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! // 100 "requests", at most 10 in flight, each with its own timeout.
//! let replies = aio::map(0..100u32, 10, |i| {
//!     aio::timeout(Duration::from_secs(5), async move { i * 2 })
//! })?
//! .collect()
//! .await;
//! assert_eq!(replies.len(), 100);
//! assert_eq!(replies[21], Ok(42));
//! # Ok::<(), aio::GatherBuildError>(())
//! # }).unwrap();
//! ```

mod blocking;
mod detector;
mod gather;
mod group;
mod timeout;

use std::fmt;

use crate::pool::TaskError;

pub use blocking::{run_blocking, RunBlocking};
pub use detector::{spawn_named, BlockingDetector, BlockingReport, Task, Watched};
pub use gather::{
    gather, gather_limited, gather_unordered, map, map_unordered, Gather, GatherLimited,
    GatherUnordered,
};
pub use group::{Fallible, TaskGroup};
pub use timeout::{timeout, Timeout};

/// Why a limited gather ([`gather_limited`], [`gather_unordered`], [`map`],
/// [`map_unordered`]) or a [`TaskGroup::with_limit`] could not be built; its
/// message says what to do instead.
///
/// # Examples
///
/// ```
/// use workwise::aio::{self, GatherBuildError};
///
/// let err = aio::gather_limited((0..3).map(|i| async move { i }), 0).unwrap_err();
/// assert_eq!(err, GatherBuildError::ZeroLimit);
/// assert!(err.to_string().contains("at least 1"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GatherBuildError {
    /// A concurrency limit of 0: nothing could ever run.
    ZeroLimit,
}

impl fmt::Display for GatherBuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GatherBuildError::ZeroLimit => f.write_str(
                "a concurrency limit of 0 would never run anything: pass at least 1 \
                 (for example the number of connections the server allows)",
            ),
        }
    }
}

impl std::error::Error for GatherBuildError {}

/// The old name of [`GatherBuildError`], kept so that code that names the
/// type still builds (the value is now [`GatherBuildError::ZeroLimit`]).
#[deprecated(note = "renamed to GatherBuildError (the value is GatherBuildError::ZeroLimit)")]
pub type ZeroLimitError = GatherBuildError;

/// The message of a task that found no tokio runtime to run on.
const NO_RUNTIME: &str = "there is no tokio runtime here: call this from inside one \
     (#[tokio::main], #[tokio::test] or Runtime::block_on)";

/// The error for work that could not start because no runtime (or no timer)
/// was there to run it.
fn no_runtime(what: &str) -> TaskError {
    TaskError::NoWorker {
        message: no_runtime_message(what),
    }
}

fn no_runtime_message(what: &str) -> String {
    format!("{what}: {NO_RUNTIME}")
}

/// A tokio join result as a workwise task result.
fn join_result<T>(r: Result<T, tokio::task::JoinError>) -> Result<T, TaskError> {
    match r {
        Ok(v) => Ok(v),
        Err(e) if e.is_panic() => Err(TaskError::Panicked {
            message: crate::pool::task::panic_message(&*e.into_panic()),
        }),
        Err(_) => Err(TaskError::Cancelled),
    }
}
