//! [`TaskGroup`]: structured concurrency. No task outlives its group.
//!
//! # Protocol
//!
//! 1. Every spawn gets a slot, in spawn order; `join_all` reads the slots in
//!    that order, so results come back in spawn order.
//! 2. Dropping the group (or a `join_all` future, which owns it) aborts every
//!    task still running: tokio drops an aborted task's future at its next
//!    `.await`, or at once if it is idle.
//! 3. A panic inside a task is caught in that task's poll and becomes its
//!    result ([`TaskError::Panicked`]); it never unwinds into the runtime.
//! 4. Under `fail_fast`, the first task that fails (a panic, or an output
//!    that [`Fallible::failed`] calls a failure) sets the group's `failed`
//!    flag and aborts every other task, holding the `aborts` lock. A spawn
//!    takes the same lock around `tokio::spawn` and the push of its abort
//!    handle, so a task spawned while a sibling fails is either aborted with
//!    the rest or sees the flag and is never spawned.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use tokio::sync::Semaphore;
use tokio::task::{AbortHandle, JoinHandle};

use super::detector::{BlockingDetector, TaskName};
use super::GatherBuildError;
use crate::pool::task::catch;
use crate::pool::TaskError;

/// Whether a task's output counts as a failure, for
/// [`TaskGroup::fail_fast`].
///
/// # Examples
///
/// ```
/// use workwise::aio::Fallible;
///
/// assert!(Err::<(), &str>("refused").failed());
/// assert!(!Ok::<u8, &str>(1).failed());
/// ```
pub trait Fallible {
    /// True when this output is a failure that should cancel the group.
    fn failed(&self) -> bool;
}

impl<T, E> Fallible for Result<T, E> {
    fn failed(&self) -> bool {
        self.is_err()
    }
}

impl<T> Fallible for Option<T> {
    fn failed(&self) -> bool {
        self.is_none()
    }
}

impl Fallible for () {
    fn failed(&self) -> bool {
        false
    }
}

/// A group of tokio tasks that are joined together and never outlive the
/// group: Python's `asyncio.TaskGroup`, or trio's nursery.
///
/// Results come back in spawn order from [`join_all`](Self::join_all), a
/// panic as [`TaskError::Panicked`]. [`with_limit`](Self::with_limit) bounds
/// how many run at once, [`fail_fast`](Self::fail_fast) cancels the rest
/// when one fails, and dropping the group aborts every task still running.
/// The tasks are watched by a [`BlockingDetector`] when one is given or
/// installed.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::aio::TaskGroup;
///
/// # tokio::runtime::Builder::new_multi_thread().enable_time().build().unwrap().block_on(async {
/// let mut group = TaskGroup::with_limit(2)?; // at most two at once
/// for id in 1..=4u64 {
///     group.spawn_named(format!("fetch-{id}"), async move {
///         tokio::time::sleep(Duration::from_millis(id)).await;
///         id * 10
///     });
/// }
/// let results = group.join_all().await;
/// assert_eq!(results, [Ok(10), Ok(20), Ok(30), Ok(40)]);
/// # Ok::<(), workwise::aio::GatherBuildError>(())
/// # }).unwrap();
/// ```
///
/// # Cost
///
/// A spawn is a `tokio::spawn` plus a slot in a `Vec`: see the `aio.spawn`
/// row of workwise-bench.
pub struct TaskGroup<T> {
    slots: Vec<Slot<T>>,
    limit: Option<Arc<Semaphore>>,
    fail_fast: Option<Arc<FailFast<T>>>,
    detector: Option<BlockingDetector>,
    /// The runtime of the first spawn; every task runs on it.
    runtime: Option<tokio::runtime::Handle>,
}

enum Slot<T> {
    Spawned(JoinHandle<Result<T, String>>),
    // Boxed, so that a slot is two words: most slots are spawned.
    NotSpawned(Option<Box<TaskError>>),
}

struct FailFast<T> {
    failed_by: fn(&T) -> bool,
    failed: AtomicBool,
    /// Indexed by slot; `None` for a slot that was never spawned.
    aborts: Mutex<Vec<Option<AbortHandle>>>,
}

impl<T> FailFast<T> {
    /// Rule 4: the first failure aborts every other task.
    fn fail(&self, me: usize) {
        if self.failed.swap(true, Ordering::AcqRel) {
            return;
        }
        let aborts = self.aborts.lock().unwrap_or_else(PoisonError::into_inner);
        for (i, h) in aborts.iter().enumerate() {
            if let (true, Some(h)) = (i != me, h) {
                h.abort();
            }
        }
    }
}

impl<T> std::fmt::Debug for TaskGroup<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskGroup")
            .field("tasks", &self.slots.len())
            .field("limit", &self.limit.as_ref().map(|_| "set"))
            .field("fail_fast", &self.fail_fast.is_some())
            .field("detector", &self.detector)
            .finish()
    }
}

impl<T: Send + 'static> Default for TaskGroup<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Send + 'static> TaskGroup<T> {
    /// An empty group with no limit on how many tasks run at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::aio::TaskGroup;
    ///
    /// let group: TaskGroup<u32> = TaskGroup::new();
    /// assert!(group.is_empty());
    /// ```
    pub fn new() -> Self {
        TaskGroup {
            slots: Vec::new(),
            limit: None,
            fail_fast: None,
            detector: None,
            runtime: None,
        }
    }

    /// An empty group that runs at most `limit` of its tasks at once; the
    /// others wait their turn (in the order they first ask).
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::aio::TaskGroup;
    ///
    /// let group: TaskGroup<()> = TaskGroup::with_limit(100)?;
    /// assert!(group.is_empty());
    /// assert!(TaskGroup::<()>::with_limit(0).is_err());
    /// # Ok::<(), workwise::aio::GatherBuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`GatherBuildError`] when `limit` is 0.
    pub fn with_limit(limit: usize) -> Result<Self, GatherBuildError> {
        if limit == 0 {
            return Err(GatherBuildError::ZeroLimit);
        }
        let permits = limit.min(Semaphore::MAX_PERMITS);
        let mut group = Self::new();
        group.limit = Some(Arc::new(Semaphore::new(permits)));
        Ok(group)
    }

    /// Makes the group cancel every other task as soon as one fails: panics,
    /// or returns an output that [`Fallible::failed`] calls a failure (an
    /// `Err`, a `None`). The cancelled tasks' results are
    /// [`TaskError::Cancelled`]. Set it before spawning.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::{aio::TaskGroup, TaskError};
    ///
    /// # tokio::runtime::Builder::new_multi_thread().enable_time().build().unwrap().block_on(async {
    /// let mut group = TaskGroup::new().fail_fast();
    /// group.spawn(async {
    ///     tokio::time::sleep(Duration::from_secs(60)).await;
    ///     Ok(1)
    /// });
    /// group.spawn(async { Err("the database refused") });
    /// let results = group.join_all().await;
    /// assert_eq!(results[0], Err(TaskError::Cancelled)); // did not wait a minute
    /// assert_eq!(results[1], Ok(Err("the database refused")));
    /// # });
    /// ```
    pub fn fail_fast(mut self) -> Self
    where
        T: Fallible,
    {
        self.fail_fast = Some(Arc::new(FailFast {
            failed_by: <T as Fallible>::failed,
            failed: AtomicBool::new(false),
            aborts: Mutex::new(Vec::new()),
        }));
        self
    }

    /// Watches this group's tasks with `detector` (instead of the installed
    /// one, if any).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::aio::{BlockingDetector, TaskGroup};
    ///
    /// let detector = BlockingDetector::with_threshold(Duration::from_millis(5));
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mut group = TaskGroup::new().detector(&detector);
    /// group.spawn_named("checksum", async { std::thread::sleep(Duration::from_millis(20)) });
    /// group.join_all().await;
    /// # });
    /// assert_eq!(detector.reports()[0].task, "checksum");
    /// ```
    pub fn detector(mut self, detector: &BlockingDetector) -> Self {
        self.detector = Some(detector.clone());
        self
    }

    /// Spawns `fut` as the group's next task, on the tokio runtime current
    /// at the group's first spawn (every task of a group runs on that one).
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::aio::TaskGroup;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mut group = TaskGroup::new();
    /// group.spawn(async { 1 });
    /// group.spawn(async { 2 });
    /// assert_eq!(group.join_all().await, [Ok(1), Ok(2)]);
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// None here; outside a tokio runtime the task's result is
    /// [`TaskError::NoWorker`], whose message says what to do, and `fut` is
    /// dropped unpolled.
    pub fn spawn<F>(&mut self, fut: F)
    where
        F: Future<Output = T> + Send + 'static,
    {
        let name = TaskName::Index(self.slots.len());
        self.spawn_as(name, fut);
    }

    /// Spawns `fut` as the group's next task, called `name` in the
    /// [`BlockingDetector`]'s reports and in a panic's message.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::{aio::TaskGroup, TaskError};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mut group = TaskGroup::<u8>::new();
    /// group.spawn_named("parse", async { panic!("bad header") });
    /// let results = group.join_all().await;
    /// let Err(TaskError::Panicked { message }) = &results[0] else { unreachable!() };
    /// assert_eq!(message, "bad header (in task `parse`)");
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`spawn`](Self::spawn).
    pub fn spawn_named<F>(&mut self, name: impl Into<String>, fut: F)
    where
        F: Future<Output = T> + Send + 'static,
    {
        let name = TaskName::Named(name.into().into());
        self.spawn_as(name, fut);
    }

    fn spawn_as<F>(&mut self, name: TaskName, fut: F)
    where
        F: Future<Output = T> + Send + 'static,
    {
        let rt = match self.runtime.take() {
            Some(rt) => rt,
            None => match tokio::runtime::Handle::try_current() {
                Ok(rt) => rt,
                Err(_) => {
                    let err = super::no_runtime("TaskGroup::spawn");
                    self.slots.push(Slot::NotSpawned(Some(Box::new(err))));
                    return;
                }
            },
        };
        let detector = match &self.detector {
            Some(d) => Some(d.clone()),
            None => BlockingDetector::installed(),
        };
        let index = self.slots.len();
        // Only what a task needs beyond its future, boxed and only when
        // needed: a plain spawn's task is its future and one word.
        let meta = match (&name, &detector, &self.fail_fast) {
            (TaskName::Index(_), None, None) => None,
            _ => Some(Box::new(Meta {
                name,
                index,
                detector,
                fail_fast: self.fail_fast.clone(),
            })),
        };
        match self.limit.clone() {
            None => self.launch(&rt, GroupTask { fut, meta }),
            Some(sem) => {
                let fut = async move {
                    // The permit is held until the future is done or dropped.
                    let _permit = sem.acquire_owned().await;
                    fut.await
                };
                self.launch(&rt, GroupTask { fut, meta });
            }
        }
        self.runtime = Some(rt);
    }

    fn launch<F>(&mut self, rt: &tokio::runtime::Handle, task: GroupTask<F, T>)
    where
        F: Future<Output = T> + Send + 'static,
    {
        let slot = match &self.fail_fast {
            None => Slot::Spawned(rt.spawn(task)),
            Some(ff) => {
                // Rule 4: spawn and record under the lock.
                let mut aborts = ff.aborts.lock().unwrap_or_else(PoisonError::into_inner);
                if ff.failed.load(Ordering::Acquire) {
                    aborts.push(None);
                    Slot::NotSpawned(Some(Box::new(TaskError::Cancelled)))
                } else {
                    let h = rt.spawn(task);
                    aborts.push(Some(h.abort_handle()));
                    Slot::Spawned(h)
                }
            }
        };
        self.slots.push(slot);
    }

    /// How many tasks were spawned into the group.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::aio::TaskGroup;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mut g = TaskGroup::new();
    /// g.spawn(async {});
    /// assert_eq!(g.len(), 1);
    /// # });
    /// ```
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no task was spawned into the group.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::aio::TaskGroup;
    ///
    /// assert!(TaskGroup::<()>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Waits for every task and gives their results in spawn order.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::aio::TaskGroup;
    ///
    /// # tokio::runtime::Builder::new_multi_thread().build().unwrap().block_on(async {
    /// let mut group = TaskGroup::new();
    /// for i in 0..10u32 {
    ///     group.spawn(async move { i * i });
    /// }
    /// let squares: Vec<u32> = group.join_all().await.into_iter().map(Result::unwrap).collect();
    /// assert_eq!(squares[9], 81);
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// Each result is the task's output, [`TaskError::Panicked`] if it
    /// panicked, [`TaskError::Cancelled`] if `fail_fast` cancelled it, or
    /// [`TaskError::NoWorker`] if it was spawned outside a runtime.
    ///
    /// # Cancel safety
    ///
    /// The future owns the group: dropping it before it is ready aborts
    /// every task still running, and the results gathered so far are lost.
    pub async fn join_all(mut self) -> Vec<Result<T, TaskError>> {
        let mut out = Vec::with_capacity(self.slots.len());
        for slot in &mut self.slots {
            let r = match slot {
                // Awaited in its slot: if this future is dropped here, the
                // group's Drop still aborts the task (rule 2).
                Slot::Spawned(h) => match super::join_result(h.await) {
                    Ok(Ok(v)) => Ok(v),
                    Ok(Err(message)) => Err(TaskError::Panicked { message }),
                    Err(e) => Err(e),
                },
                Slot::NotSpawned(e) => Err(e.take().map_or(TaskError::ResultTaken, |e| *e)),
            };
            // A finished task's handle is dropped at once, freeing the task,
            // and the group's Drop has nothing left to abort for it.
            *slot = Slot::NotSpawned(None);
            out.push(r);
        }
        out
    }
}

impl<T> Drop for TaskGroup<T> {
    /// Rule 2: no task outlives its group.
    fn drop(&mut self) {
        for slot in &self.slots {
            if let Slot::Spawned(h) = slot {
                h.abort();
            }
        }
    }
}

/// What a task of a group carries beyond its future, when it carries
/// anything: a name, a detector, or the group's fail-fast state.
struct Meta<T> {
    name: TaskName,
    index: usize,
    detector: Option<BlockingDetector>,
    fail_fast: Option<Arc<FailFast<T>>>,
}

pin_project_lite::pin_project! {
    /// One task of a group: catches its panic (rule 3), reports its
    /// failure under `fail_fast` (rule 4), and times each poll when
    /// watched.
    struct GroupTask<F, T> {
        #[pin]
        fut: F,
        meta: Option<Box<Meta<T>>>,
    }
}

impl<F, T> Future for GroupTask<F, T>
where
    F: Future<Output = T>,
{
    type Output = Result<T, String>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let fut = this.fut;
        let meta = this.meta.as_deref();
        let poll = || catch(|| fut.poll(cx));
        let r = match meta {
            Some(Meta {
                detector: Some(d),
                name,
                ..
            }) => d.time_poll(name, poll),
            _ => poll(),
        };
        let fail = |m: &Meta<T>| {
            if let Some(ff) = &m.fail_fast {
                ff.fail(m.index);
            }
        };
        match r {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => {
                if let Some(m) = meta {
                    if m.fail_fast.as_ref().is_some_and(|ff| (ff.failed_by)(&v)) {
                        fail(m);
                    }
                }
                Poll::Ready(Ok(v))
            }
            Err(e) => {
                let mut message = match e {
                    TaskError::Panicked { message } => message,
                    other => other.to_string(),
                };
                if let Some(m) = meta {
                    fail(m);
                    if let TaskName::Named(n) = &m.name {
                        message = format!("{message} (in task `{n}`)");
                    }
                }
                Poll::Ready(Err(message))
            }
        }
    }
}
