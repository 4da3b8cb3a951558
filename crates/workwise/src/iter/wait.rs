//! [`wait`]: Python's `concurrent.futures.wait` for a set of handles.

use std::sync::Arc;
use std::time::Duration;

use super::completions::{ReadyQueue, SlotWaker};
use crate::pool::task::TaskHandle;
#[cfg(doc)]
use {crate::pool::task::TaskError, std::time::Instant};

/// When [`wait`] returns.
///
/// # Examples
///
/// ```
/// use workwise::{wait, ReturnWhen};
///
/// let pool = workwise::Pool::io().build()?;
/// let waited = wait(vec![pool.submit(|| 1)], None, ReturnWhen::AllCompleted);
/// assert_eq!(waited.done.len(), 1);
/// # Ok::<(), workwise::PoolBuildError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReturnWhen {
    /// As soon as any handle has finished (or at once, for no handles).
    FirstCompleted,
    /// As soon as any handle has finished with an error (any [`TaskError`],
    /// `Cancelled` included, unlike Python's `FIRST_EXCEPTION`; a handle
    /// whose result was already read counts too, since reading it again
    /// gives `ResultTaken`), or when all have finished.
    FirstError,
    /// When every handle has finished.
    AllCompleted,
}

/// What [`wait`] returns: the handles, split into finished and not finished,
/// each list in input order, with the results still in them.
///
/// # Examples
///
/// ```
/// use workwise::{wait, ReturnWhen};
///
/// let pool = workwise::Pool::io().build()?;
/// let waited = wait(vec![pool.submit(|| 1), pool.submit(|| 2)], None, ReturnWhen::AllCompleted);
/// assert!(waited.pending.is_empty());
/// let results: Vec<_> = waited.done.into_iter().map(|h| h.wait()).collect();
/// assert_eq!(results, [Ok(1), Ok(2)]);
/// # Ok::<(), workwise::PoolBuildError>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct Waited<T> {
    /// The handles whose tasks had finished when `wait` returned.
    pub done: Vec<TaskHandle<T>>,
    /// The others; their tasks go on.
    pub pending: Vec<TaskHandle<T>>,
}

/// Waits until `when` holds for `handles`, or `timeout` passes, and returns
/// them split into done and pending (Python's `concurrent.futures.wait`).
///
/// No result is taken: read them from the handles in [`Waited::done`], which
/// will not block. `timeout` `None` (or one too long for an [`Instant`], such
/// as `Duration::MAX`) waits without a deadline. It blocks without spinning:
/// each handle wakes the caller when it finishes. With no handles it returns
/// at once, whatever `when` says.
///
/// # Examples
///
/// ```
/// use std::sync::mpsc;
/// use std::time::Duration;
/// use workwise::{wait, ReturnWhen};
///
/// let pool = workwise::Pool::io().build()?;
/// let (tx, rx) = mpsc::channel::<()>();
/// let slow = pool.submit(move || { rx.recv().ok(); "slow" });
/// let fast = pool.submit(|| "fast");
/// let waited = wait(vec![slow, fast], Some(Duration::from_secs(30)), ReturnWhen::FirstCompleted);
/// assert_eq!(waited.done.len(), 1);
/// assert_eq!(waited.pending.len(), 1);
/// tx.send(()).unwrap();
/// let first = waited.done.into_iter().next().unwrap();
/// assert_eq!(first.wait(), Ok("fast"));
/// # Ok::<(), workwise::PoolBuildError>(())
/// ```
pub fn wait<T, I>(handles: I, timeout: Option<Duration>, when: ReturnWhen) -> Waited<T>
where
    I: IntoIterator<Item = TaskHandle<T>>,
{
    let handles: Vec<TaskHandle<T>> = handles.into_iter().collect();
    let deadline = timeout.and_then(crate::clock::deadline_after);
    let ready = Arc::new(ReadyQueue::new());
    for (index, handle) in handles.iter().enumerate() {
        let waker = Arc::new(SlotWaker {
            index,
            ready: ready.clone(),
        })
        .into();
        if !handle.register_waker(waker) {
            ready.push(index);
        }
    }
    let mut finished = 0;
    while finished < handles.len() {
        let index = match deadline {
            None => ready.pop_wait(),
            Some(d) => ready.pop_until(d),
        };
        let Some(index) = index else { break };
        finished += 1;
        let stop = match when {
            ReturnWhen::FirstCompleted => true,
            ReturnWhen::FirstError => handles[index].finished_with_error(),
            ReturnWhen::AllCompleted => false,
        };
        if stop {
            break;
        }
    }
    let (done, pending) = handles.into_iter().partition(TaskHandle::is_finished);
    Waited { done, pending }
}
