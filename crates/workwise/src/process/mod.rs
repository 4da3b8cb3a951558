//! The process model: tasks in worker processes, for code that may crash,
//! abort, leak or hang (FFI, third-party decoders, untrusted input).
//!
//! Feature `process`, Linux. In Rust, threads already run CPU work in
//! parallel ([`Pool::cpu`](crate::Pool::cpu)); processes are for isolation.
//! A worker that dies costs only the task it was running, which gets
//! [`TaskError::WorkerCrashed`](crate::TaskError::WorkerCrashed): the pool
//! starts another worker and every other task runs (unlike Python's
//! `ProcessPoolExecutor`, which breaks as a whole).
//!
//! 1. Write tasks as functions `fn(A) -> R` with serde types, and make a
//!    [`Task`] of each with [`process_task!`](crate::process_task).
//! 2. Call [`init`] with the list of tasks as the first line of `main`: a
//!    worker is this binary run again, and `init` is where it starts
//!    serving tasks instead of running your program.
//! 3. Build a [`ProcessPool`] and submit; the handles are the thread pools'
//!    [`TaskHandle`](crate::TaskHandle)s.
//!
//! Large inputs go as [`SharedBytes`], mapped by the workers, not copied.
//!
//! # Examples
//!
//! ```no_run
//! use workwise::process::{ProcessPool, SharedBytes, Task};
//!
//! fn count_zeros((data, from): (SharedBytes, usize)) -> usize {
//!     data[from..].iter().filter(|&&b| b == 0).count()
//! }
//! const COUNT_ZEROS: Task<(SharedBytes, usize), usize> = workwise::process_task!(count_zeros);
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     workwise::process::init(&[&COUNT_ZEROS]);
//!     let pool = ProcessPool::builder().workers(4).build()?;
//!     let data = SharedBytes::new(&vec![0u8; 1 << 20])?;
//!     let handles: Vec<_> = (0..8).map(|i| pool.submit(COUNT_ZEROS, (data.clone(), i))).collect();
//!     for (i, h) in handles.into_iter().enumerate() {
//!         assert_eq!(h.wait()?, (1 << 20) - i);
//!     }
//!     Ok(())
//! }
//! ```

#[cfg(not(target_os = "linux"))]
compile_error!(
    "workwise's `process` feature runs on Linux only for now (memfd, /proc, the parent-death \
     signal): build without it on this target, and use Pool::cpu for CPU work"
);

mod advice;
mod builder;
mod driver;
mod frame;
mod pool;
mod shared;
mod stats;
mod task;
mod worker;

use std::sync::OnceLock;

pub use builder::{ProcessBuildError, ProcessPoolBuilder};

/// The old name of [`ProcessBuildError`], kept so that code written
/// against it still builds.
#[deprecated(note = "renamed to ProcessBuildError")]
pub type BuildError = ProcessBuildError;
pub use pool::ProcessPool;
pub use shared::SharedBytes;
pub use stats::{ProcessStats, WorkerMemory};
#[doc(hidden)]
pub use task::{__dispatch, Dispatch};
pub use task::{Registered, Task};

/// The names of the tasks listed in `init`.
static REGISTERED: OnceLock<Vec<&'static str>> = OnceLock::new();

/// Sets up the process model; the first line of `main`.
///
/// In the parent it records `tasks` and returns. In a worker (this binary
/// run again by a [`ProcessPool`], marked by an environment variable) it
/// serves the listed tasks and never returns: whatever `main` does before
/// `init` runs again in every worker, so nothing should come before it.
/// Building a pool without `init` gives [`ProcessBuildError::NotInitialized`].
///
/// # Examples
///
/// ```no_run
/// fn double(x: u64) -> u64 {
///     x * 2
/// }
/// const DOUBLE: workwise::process::Task<u64, u64> = workwise::process_task!(double);
///
/// fn main() {
///     workwise::process::init(&[&DOUBLE]);
///     // ... the program, with ProcessPools ...
/// }
/// ```
pub fn init(tasks: &[&dyn Registered]) {
    worker::run_if_worker(tasks);
    let names = tasks.iter().map(|t| t.task_name()).collect();
    // A second call keeps the first list: the one workers were started with.
    let _ = REGISTERED.set(names);
}

fn initialized() -> bool {
    REGISTERED.get().is_some()
}

fn registered(name: &str) -> bool {
    REGISTERED.get().is_some_and(|names| names.contains(&name))
}

/// Test support: writes raw bytes to the parent's end of this worker's
/// reply pipe, to break the frame protocol on purpose. Not a public API.
#[doc(hidden)]
pub fn __write_to_parent_pipe(bytes: &[u8]) -> std::io::Result<()> {
    worker::write_raw(bytes)
}
