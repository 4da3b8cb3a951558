//! Registered task functions: the typed [`Task`] handle that the parent
//! submits, and the dispatcher that the worker runs it through.

use std::fmt;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::frame::{REPLY_BAD_ARGUMENT, REPLY_OK, REPLY_PANICKED};
use crate::pool::task::panic_message;

/// How a worker runs a task: the argument bytes and whether they are a
/// batch, to the reply's status and body (frame rule 5).
#[doc(hidden)]
pub type Dispatch = fn(&[u8], bool) -> (u8, Vec<u8>);

/// A function that worker processes can run: made by
/// [`process_task!`](crate::process_task), listed in
/// [`init`](crate::process::init), submitted to a
/// [`ProcessPool`](crate::process::ProcessPool).
///
/// It takes one argument `A` (a tuple for several) and returns `R`, both
/// crossing the pipe as postcard through serde. A task is found in the
/// worker by its name, the function's module path, which is the same in the
/// parent and in its workers since they run the same binary.
///
/// # Examples
///
/// ```
/// use workwise::process::Task;
///
/// fn add((a, b): (u32, u32)) -> u32 {
///     a + b
/// }
///
/// const ADD: Task<(u32, u32), u32> = workwise::process_task!(add);
/// assert!(ADD.name().ends_with("add"));
/// ```
pub struct Task<A, R> {
    name: &'static str,
    dispatch: Dispatch,
    _types: PhantomData<fn(A) -> R>,
}

impl<A, R> Clone for Task<A, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A, R> Copy for Task<A, R> {}

impl<A, R> fmt::Debug for Task<A, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task").field("name", &self.name).finish()
    }
}

impl<A, R> Task<A, R>
where
    A: Serialize + DeserializeOwned,
    R: Serialize + DeserializeOwned + Send + 'static,
{
    /// Used by [`process_task!`](crate::process_task); not a public API.
    #[doc(hidden)]
    pub const fn __new(name: &'static str, _f: fn(A) -> R, dispatch: Dispatch) -> Self {
        Task {
            name,
            dispatch,
            _types: PhantomData,
        }
    }
}

impl<A, R> Task<A, R> {
    /// The name workers find the task by: its function's path.
    ///
    /// # Examples
    ///
    /// ```
    /// fn noop(_: ()) {}
    /// let task = workwise::process_task!(noop);
    /// assert!(task.name().ends_with("noop"));
    /// ```
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// A task of any type, as [`init`](crate::process::init) lists them.
///
/// Implemented by [`Task`] only.
///
/// # Examples
///
/// ```
/// use workwise::process::Registered;
///
/// fn len(s: String) -> usize {
///     s.len()
/// }
/// let tasks: &[&dyn Registered] = &[&workwise::process_task!(len)];
/// assert!(tasks[0].task_name().ends_with("len"));
/// ```
pub trait Registered: Sync + sealed::Sealed {
    /// The task's name.
    fn task_name(&self) -> &'static str;
    /// Runs the task on an encoded argument; not a public API.
    #[doc(hidden)]
    fn dispatch(&self) -> Dispatch;
}

mod sealed {
    pub trait Sealed {}
    impl<A, R> Sealed for super::Task<A, R> {}
}

impl<A, R> Registered for Task<A, R> {
    fn task_name(&self) -> &'static str {
        self.name
    }

    fn dispatch(&self) -> Dispatch {
        self.dispatch
    }
}

/// Decodes the argument, runs `f` catching a panic, encodes the result.
/// Used by [`process_task!`](crate::process_task); not a public API.
#[doc(hidden)]
pub fn __dispatch<A, R>(f: fn(A) -> R, arg: &[u8], batch: bool) -> (u8, Vec<u8>)
where
    A: DeserializeOwned,
    R: Serialize,
{
    let encoded = if batch {
        let items: Vec<A> = match postcard::from_bytes(arg) {
            Ok(items) => items,
            Err(e) => return bad_argument(e),
        };
        let results: Vec<Result<R, String>> = items
            .into_iter()
            .map(|a| panic::catch_unwind(AssertUnwindSafe(|| f(a))).map_err(|p| panic_message(&*p)))
            .collect();
        postcard::to_allocvec(&results)
    } else {
        let a: A = match postcard::from_bytes(arg) {
            Ok(a) => a,
            Err(e) => return bad_argument(e),
        };
        match panic::catch_unwind(AssertUnwindSafe(|| f(a))) {
            Ok(r) => postcard::to_allocvec(&r),
            Err(p) => return (REPLY_PANICKED, panic_message(&*p).into_bytes()),
        }
    };
    match encoded {
        Ok(bytes) => (REPLY_OK, bytes),
        Err(e) => (
            REPLY_PANICKED,
            format!("the task's result could not be encoded with postcard: {e}").into_bytes(),
        ),
    }
}

fn bad_argument(e: postcard::Error) -> (u8, Vec<u8>) {
    (REPLY_BAD_ARGUMENT, e.to_string().into_bytes())
}

/// Makes a [`Task`](crate::process::Task) from a function `fn(A) -> R`
/// whose argument and result are serde types.
///
/// List the task in [`init`](crate::process::init) so that workers can
/// find it, then submit it to a [`ProcessPool`](crate::process::ProcessPool).
///
/// # Examples
///
/// ```
/// use workwise::process::Task;
///
/// fn checksum(data: Vec<u8>) -> u32 {
///     data.iter().map(|&b| b as u32).sum()
/// }
///
/// const CHECKSUM: Task<Vec<u8>, u32> = workwise::process_task!(checksum);
/// # let _ = CHECKSUM;
/// ```
#[macro_export]
macro_rules! process_task {
    ($f:path) => {
        $crate::process::Task::__new(
            ::core::concat!(::core::module_path!(), "::", ::core::stringify!($f)),
            $f,
            |arg, batch| $crate::process::__dispatch($f, arg, batch),
        )
    };
}
