//! [`BlockingDetector`]: names the task that blocked its runtime thread.
//!
//! A poll of an async task should return in microseconds. A poll that calls
//! `std::thread::sleep`, a blocking read or a long computation holds its
//! runtime thread, and every other task on that thread waits (pitfall 2 of
//! the guide). tokio does not warn about it; this detector times each poll
//! of the tasks it watches and reports every poll longer than its threshold
//! with the task's name, the duration and the fix.
//!
//! It watches tasks spawned through a [`TaskGroup`](super::TaskGroup) and
//! [`spawn_named`] (through a wrapper future, [`Watched`], that reads the
//! clock before and after each poll), once the detector is installed with
//! [`BlockingDetector::install`] or given to the group. Tasks spawned with
//! plain `tokio::spawn` are not watched: stable tokio has no per-poll hook.
//!
//! The advisor reads it too: [`BlockingDetector::advice`] gives one W03
//! finding per task caught blocking, and
//! [`advice::report`](crate::advice::report) includes them while the
//! detector lives (installed, given to a group, or held).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::advice::{self, Advice, Code, Emitted, Figure};
use crate::pool::TaskError;

/// The threshold of [`BlockingDetector::new`].
const DEFAULT_THRESHOLD: Duration = Duration::from_millis(10);

/// Reports kept per detector; later ones are only counted
/// ([`BlockingDetector::blocked_polls`]), so a task that blocks in a loop
/// cannot grow memory without bound.
const MAX_REPORTS: usize = 1024;

/// Task names tallied per detector for the advisor; polls of later names
/// are only counted ([`BlockingDetector::blocked_polls`]).
const MAX_TASKS: usize = 1024;

/// The detector that [`spawn_named`] and groups use when given none.
static INSTALLED: RwLock<Option<BlockingDetector>> = RwLock::new(None);
/// Whether `INSTALLED` holds one: a spawn reads this flag, not the lock.
static ANY_INSTALLED: AtomicBool = AtomicBool::new(false);

/// Times every poll of the tasks it watches and reports the polls longer
/// than a threshold (10 ms unless set), naming the task.
///
/// Cloning gives another handle to the same detector and reports.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::aio::BlockingDetector;
///
/// let detector = BlockingDetector::with_threshold(Duration::from_millis(20));
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let blocker = detector.spawn_named("parse-config", async {
///     std::thread::sleep(Duration::from_millis(50)); // blocks its thread: the bug
/// });
/// let sleeper = detector.spawn_named("poll-feed", async {
///     tokio::time::sleep(Duration::from_millis(50)).await; // waits: fine
/// });
/// blocker.await.unwrap();
/// sleeper.await.unwrap();
/// # });
/// let reports = detector.reports();
/// let report = reports.iter().find(|r| r.task == "parse-config").unwrap();
/// assert!(report.to_string().contains("aio::run_blocking"));
/// ```
///
/// # Cost
///
/// Two clock reads per poll of a watched task, and nothing else unless the
/// poll was too long: see the `aio.detector_cost` row of workwise-bench.
#[derive(Clone)]
pub struct BlockingDetector {
    inner: Arc<Inner>,
}

struct Inner {
    threshold: Duration,
    blocked: AtomicU64,
    caught: Mutex<Caught>,
    /// The advisor's findings already emitted for this detector.
    emitted: Emitted,
}

/// What the detector caught: the reports, and a tally per task name for
/// the advisor, which taking the reports leaves alone.
#[derive(Default)]
struct Caught {
    reports: Vec<BlockingReport>,
    /// One per task name, in the order first caught.
    tasks: Vec<Tally>,
    /// A task's place in `tasks`, by name.
    index: HashMap<String, usize>,
}

/// How one task blocked: how often, and the longest poll.
struct Tally {
    task: String,
    polls: u64,
    longest: Duration,
}

impl Caught {
    /// Counts one poll of `task` that took `took`; the task's tally after,
    /// or `None` past the first [`MAX_TASKS`] names.
    fn tally(&mut self, task: &str, took: Duration) -> Option<&Tally> {
        let i = match self.index.get(task) {
            Some(&i) => i,
            None if self.tasks.len() < MAX_TASKS => {
                self.index.insert(task.to_owned(), self.tasks.len());
                self.tasks.push(Tally {
                    task: task.to_owned(),
                    polls: 0,
                    longest: Duration::ZERO,
                });
                self.tasks.len() - 1
            }
            None => return None,
        };
        let t = &mut self.tasks[i];
        t.polls += 1;
        t.longest = t.longest.max(took);
        Some(t)
    }
}

/// Milliseconds, for a figure.
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A task caught this many times is blocking, whatever each poll took.
const W03_MIN_CATCHES: u64 = 3;
/// A task caught fewer times is blocking only if one poll took at least
/// this long (and four times the threshold): on a busy machine a runtime
/// thread preempted in the middle of a poll reads as one long poll now and
/// then, which is no blocking call.
const W03_ONE_LONG_POLL: Duration = Duration::from_millis(100);

impl Tally {
    /// Whether the catches say the task blocks, rather than that its
    /// thread was once preempted.
    fn is_blocking(&self, threshold: Duration) -> bool {
        self.polls >= W03_MIN_CATCHES
            || self.longest >= W03_ONE_LONG_POLL.max(threshold.saturating_mul(4))
    }

    /// The W03 finding about this task.
    fn finding(&self, threshold: Duration) -> Advice {
        Advice::new(
            Code::W03,
            format!("task '{}'", self.task),
            format!(
                "task '{}' blocked its runtime thread in a poll longer than the detector's \
                 threshold, stalling every other task on that thread",
                self.task
            ),
            vec![
                Figure::new("blocked_polls", self.polls as f64, ""),
                Figure::new("longest_poll", ms(self.longest), "ms"),
                Figure::new("threshold", ms(threshold), "ms"),
            ],
            "move the blocking call or long computation to aio::run_blocking(&pool, ..) \
             (or tokio::task::spawn_blocking), or call its async version: \
             tokio::time::sleep for std::thread::sleep, tokio::fs and tokio::net for std's",
        )
    }
}

impl Inner {
    fn caught(&self) -> MutexGuard<'_, Caught> {
        self.caught.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The W03 findings now, one per task caught, in the order first caught.
    fn findings(&self) -> Vec<Advice> {
        let caught = self.caught();
        caught
            .tasks
            .iter()
            .filter(|t| t.is_blocking(self.threshold))
            .map(|t| t.finding(self.threshold))
            .collect()
    }
}

impl advice::Watched for Inner {
    fn advice(&self) -> Vec<Advice> {
        let found = self.findings();
        advice::emit(&self.emitted, &found);
        found
    }
}

impl fmt::Debug for BlockingDetector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingDetector")
            .field("threshold", &self.inner.threshold)
            .field("blocked_polls", &self.blocked_polls())
            .finish()
    }
}

impl Default for BlockingDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl BlockingDetector {
    /// A detector that reports polls longer than 10 ms.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::aio::BlockingDetector;
    ///
    /// assert_eq!(BlockingDetector::new().threshold(), Duration::from_millis(10));
    /// ```
    pub fn new() -> Self {
        Self::with_threshold(DEFAULT_THRESHOLD)
    }

    /// A detector that reports polls longer than `threshold`. A zero
    /// threshold reports every poll (useful in tests only).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::aio::BlockingDetector;
    ///
    /// let d = BlockingDetector::with_threshold(Duration::from_millis(2));
    /// assert_eq!(d.threshold(), Duration::from_millis(2));
    /// ```
    pub fn with_threshold(threshold: Duration) -> Self {
        let inner = Arc::new(Inner {
            threshold,
            blocked: AtomicU64::new(0),
            caught: Mutex::new(Caught::default()),
            emitted: Emitted::default(),
        });
        let watched: Weak<dyn advice::Watched> =
            Arc::downgrade(&inner) as Weak<dyn advice::Watched>;
        advice::watch(watched);
        BlockingDetector { inner }
    }

    /// The threshold above which a poll is reported.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::aio::BlockingDetector;
    ///
    /// assert_eq!(BlockingDetector::default().threshold(), Duration::from_millis(10));
    /// ```
    pub fn threshold(&self) -> Duration {
        self.inner.threshold
    }

    /// Makes this the detector of every [`TaskGroup`](super::TaskGroup)
    /// without one of its own and of [`spawn_named`], in every runtime of
    /// the process, for the tasks spawned from now on. It replaces the one
    /// installed before, which is returned.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::aio::BlockingDetector;
    ///
    /// let detector = BlockingDetector::new();
    /// detector.install();
    /// assert!(BlockingDetector::installed().is_some());
    /// BlockingDetector::uninstall();
    /// ```
    pub fn install(&self) -> Option<BlockingDetector> {
        let mut slot = INSTALLED.write().unwrap_or_else(PoisonError::into_inner);
        let old = slot.replace(self.clone());
        ANY_INSTALLED.store(true, Ordering::Release);
        old
    }

    /// Removes the installed detector, if any, and returns it; tasks
    /// spawned before keep being watched.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::aio::BlockingDetector;
    ///
    /// BlockingDetector::new().install();
    /// assert!(BlockingDetector::uninstall().is_some());
    /// assert!(BlockingDetector::installed().is_none());
    /// ```
    pub fn uninstall() -> Option<BlockingDetector> {
        let mut slot = INSTALLED.write().unwrap_or_else(PoisonError::into_inner);
        ANY_INSTALLED.store(false, Ordering::Release);
        slot.take()
    }

    /// The installed detector, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::aio::BlockingDetector;
    ///
    /// let d = BlockingDetector::new();
    /// d.install();
    /// assert!(BlockingDetector::installed().is_some());
    /// BlockingDetector::uninstall();
    /// ```
    pub fn installed() -> Option<BlockingDetector> {
        if !ANY_INSTALLED.load(Ordering::Acquire) {
            return None;
        }
        INSTALLED
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Wraps `fut` so that every poll of it is timed and reported under
    /// `name` when too long. [`spawn_named`](Self::spawn_named) is this and
    /// a spawn.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::aio::BlockingDetector;
    ///
    /// let d = BlockingDetector::with_threshold(Duration::from_millis(1));
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// d.watch("hash-file", async { std::thread::sleep(Duration::from_millis(5)) }).await;
    /// # });
    /// assert_eq!(d.reports()[0].task, "hash-file");
    /// ```
    pub fn watch<F: Future>(&self, name: impl Into<String>, fut: F) -> Watched<F> {
        Watched::new(fut, Some(self.clone()), TaskName::Named(name.into().into()))
    }

    /// Spawns `fut` on the current tokio runtime as a task called `name`,
    /// watched by this detector.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::aio::BlockingDetector;
    ///
    /// let d = BlockingDetector::new();
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// assert_eq!(d.spawn_named("add", async { 1 + 1 }).await, Ok(2));
    /// # });
    /// assert!(d.reports().is_empty());
    /// ```
    ///
    /// # Errors
    ///
    /// The task's error, as for [`spawn_named`].
    pub fn spawn_named<F>(&self, name: impl Into<String>, fut: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_watched(self.watch(name, fut))
    }

    /// The reports so far (the first 1,024), oldest first.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::aio::BlockingDetector;
    ///
    /// assert!(BlockingDetector::new().reports().is_empty());
    /// ```
    pub fn reports(&self) -> Vec<BlockingReport> {
        self.inner.caught().reports.clone()
    }

    /// Takes the reports so far, leaving none (room for 1,024 again); the
    /// advisor's tally ([`advice`](Self::advice)) is kept.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::aio::BlockingDetector;
    ///
    /// let d = BlockingDetector::new();
    /// assert!(d.take_reports().is_empty());
    /// ```
    pub fn take_reports(&self) -> Vec<BlockingReport> {
        std::mem::take(&mut self.inner.caught().reports)
    }

    /// How many polls were too long, reported or not (beyond the first
    /// 1,024 reports, polls are only counted).
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::aio::BlockingDetector;
    ///
    /// assert_eq!(BlockingDetector::new().blocked_polls(), 0);
    /// ```
    pub fn blocked_polls(&self) -> u64 {
        self.inner.blocked.load(Ordering::Relaxed)
    }

    /// The advisor's findings: one W03 ("a blocking call in an async task")
    /// per task caught blocking, in the order first caught, with how many
    /// of its polls were too long, the longest in ms, and the threshold. A
    /// task caught fewer than three times counts only if one poll took at
    /// least 100 ms (and four times the threshold): on a busy machine a
    /// runtime thread preempted in the middle of a poll reads as one long
    /// poll now and then;
    /// each code also goes out once per detector through `tracing` (see
    /// [`advice`](crate::advice)).
    ///
    /// It counts every poll ever caught (taking the reports does not reset
    /// it), for the first 1,024 task names.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use workwise::advice::Code;
    /// use workwise::aio::BlockingDetector;
    ///
    /// let d = BlockingDetector::with_threshold(Duration::from_millis(20));
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// d.watch("load-model", async {
    ///     // Three polls that block: one alone could be a preempted thread.
    ///     for _ in 0..3 {
    ///         std::thread::sleep(Duration::from_millis(50));
    ///         tokio::task::yield_now().await;
    ///     }
    /// })
    /// .await;
    /// # });
    /// let advice = d.advice();
    /// assert_eq!(advice[0].code, Code::W03);
    /// assert_eq!(advice[0].source, "task 'load-model'");
    /// assert!(advice[0].figure("blocked_polls").unwrap() >= 3.0);
    /// assert!(advice[0].fix.contains("aio::run_blocking"));
    /// // While `d` lives, the process-wide report includes it.
    /// assert!(workwise::advice::report().iter().any(|a| a.source == "task 'load-model'"));
    /// ```
    pub fn advice(&self) -> Vec<Advice> {
        advice::Watched::advice(&*self.inner)
    }

    /// Runs one poll, `poll`, timing it; reports it under `task` if it was
    /// too long.
    #[inline]
    pub(super) fn time_poll<R>(&self, task: &TaskName, poll: impl FnOnce() -> R) -> R {
        let start = Instant::now();
        let r = poll();
        let took = start.elapsed();
        if took > self.inner.threshold {
            self.report(task, took);
        }
        r
    }

    #[cold]
    fn report(&self, task: &TaskName, duration: Duration) {
        self.inner.blocked.fetch_add(1, Ordering::Relaxed);
        let report = BlockingReport {
            task: task.to_string(),
            duration,
            threshold: self.inner.threshold,
        };
        #[cfg(feature = "tracing")]
        tracing::warn!(task = %report.task, duration = ?duration, "{report}");
        let mut caught = self.inner.caught();
        let tally = caught.tally(&report.task, duration);
        // The advisor's finding goes out when first found (after the lock).
        #[cfg(feature = "tracing")]
        let finding = tally
            .filter(|t| advice::emission_on() && t.is_blocking(self.inner.threshold))
            .map(|t| t.finding(self.inner.threshold));
        #[cfg(not(feature = "tracing"))]
        let _ = tally;
        if caught.reports.len() < MAX_REPORTS {
            caught.reports.push(report);
        }
        drop(caught);
        #[cfg(feature = "tracing")]
        if let Some(finding) = finding {
            advice::emit(&self.inner.emitted, &[finding]);
        }
    }
}

/// One poll that took longer than the detector's threshold.
///
/// Its `Display` names the task, says how long it held its thread and how
/// to fix it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::aio::BlockingDetector;
///
/// let d = BlockingDetector::with_threshold(Duration::ZERO);
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// d.watch("resize", async { std::thread::sleep(Duration::from_millis(1)) }).await;
/// # });
/// let r = &d.reports()[0];
/// assert_eq!(r.task, "resize");
/// assert!(r.duration >= Duration::from_millis(1));
/// assert!(r.to_string().starts_with("task `resize` blocked its runtime thread"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlockingReport {
    /// The task's name (`spawn_named`), or `task #i` (the `i`th spawn of
    /// its group) for an unnamed one.
    pub task: String,
    /// How long the one poll took.
    pub duration: Duration,
    /// The detector's threshold.
    pub threshold: Duration,
}

impl fmt::Display for BlockingReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task `{}` blocked its runtime thread for {:?} in one poll (threshold {:?}), \
             stalling every task on that thread: await tokio::time::sleep instead of \
             std::thread::sleep, and move blocking calls and long computations to \
             aio::run_blocking(&pool, ..)",
            self.task, self.duration, self.threshold
        )
    }
}

/// A task's name for reports: given, or its place in its group (formatted
/// only when a report is made).
#[derive(Debug, Clone)]
pub(super) enum TaskName {
    Named(Arc<str>),
    Index(usize),
}

impl fmt::Display for TaskName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskName::Named(n) => f.write_str(n),
            TaskName::Index(i) => write!(f, "task #{i}"),
        }
    }
}

pin_project_lite::pin_project! {
    /// A future whose every poll is timed by a [`BlockingDetector`]; from
    /// [`BlockingDetector::watch`].
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::aio::{BlockingDetector, Watched};
    ///
    /// let d = BlockingDetector::new();
    /// let w: Watched<_> = d.watch("noop", async {});
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(w);
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Dropping it drops the inner future: as cancel safe as that future.
    #[must_use = "futures do nothing unless awaited"]
    pub struct Watched<F> {
        #[pin]
        fut: F,
        detector: Option<BlockingDetector>,
        name: TaskName,
    }
}

impl<F> fmt::Debug for Watched<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watched")
            .field("task", &self.name.to_string())
            .field("watched", &self.detector.is_some())
            .finish()
    }
}

impl<F> Watched<F> {
    pub(super) fn new(fut: F, detector: Option<BlockingDetector>, name: TaskName) -> Self {
        Watched {
            fut,
            detector,
            name,
        }
    }
}

impl<F: Future> Future for Watched<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let fut = this.fut;
        match this.detector.as_ref() {
            None => fut.poll(cx),
            Some(detector) => detector.time_poll(this.name, || fut.poll(cx)),
        }
    }
}

/// Spawns `fut` on the current tokio runtime as a task called `name`,
/// watched by the installed [`BlockingDetector`] if there is one.
///
/// Unlike a [`TaskGroup`](super::TaskGroup)'s tasks, this task is detached:
/// dropping its [`Task`] handle leaves it running (call
/// [`Task::abort`] to stop it).
///
/// # Examples
///
/// ```
/// use workwise::aio;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let task = aio::spawn_named("checksum", async { 40 + 2 });
/// assert_eq!(task.await, Ok(42));
/// # });
/// ```
///
/// # Errors
///
/// The [`Task`] resolves to [`TaskError::Panicked`] if the task panicked,
/// [`TaskError::Cancelled`] if it was aborted, and
/// [`TaskError::NoWorker`] if there was no tokio runtime to spawn on (the
/// future is then dropped unpolled, and the message says what to do).
pub fn spawn_named<F>(name: impl Into<String>, fut: F) -> Task<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let detector = BlockingDetector::installed();
    spawn_watched(Watched::new(
        fut,
        detector,
        TaskName::Named(name.into().into()),
    ))
}

fn spawn_watched<F>(fut: Watched<F>) -> Task<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => Task {
            state: Ok(rt.spawn(fut)),
        },
        Err(_) => Task {
            state: Err(Some(super::no_runtime("aio::spawn_named"))),
        },
    }
}

/// A handle to a task from [`spawn_named`]: a future of its result.
///
/// # Examples
///
/// ```
/// use workwise::{aio, TaskError};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let task: aio::Task<()> = aio::spawn_named("forever", std::future::pending());
/// task.abort();
/// assert_eq!(task.await, Err(TaskError::Cancelled));
/// # });
/// ```
///
/// # Cancel safety
///
/// Dropping it detaches the task, which goes on running; its result is then
/// dropped when it finishes.
#[must_use = "dropping a Task detaches it; await it or call abort"]
#[derive(Debug)]
pub struct Task<T> {
    state: Result<tokio::task::JoinHandle<T>, Option<TaskError>>,
}

impl<T> Task<T> {
    /// Asks the task to stop at its next `.await`; its result becomes
    /// [`TaskError::Cancelled`] unless it had finished.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::{aio, TaskError};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let t = aio::spawn_named("idle", std::future::pending::<()>());
    /// t.abort();
    /// assert_eq!(t.await, Err(TaskError::Cancelled));
    /// # });
    /// ```
    pub fn abort(&self) {
        if let Ok(h) = &self.state {
            h.abort();
        }
    }

    /// Whether the task has finished (or never started, for want of a
    /// runtime).
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::aio;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let t = aio::spawn_named("idle", std::future::pending::<()>());
    /// assert!(!t.is_finished());
    /// t.abort();
    /// # });
    /// ```
    pub fn is_finished(&self) -> bool {
        match &self.state {
            Ok(h) => h.is_finished(),
            Err(_) => true,
        }
    }
}

impl<T> Future for Task<T> {
    type Output = Result<T, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().state {
            Ok(h) => Pin::new(h).poll(cx).map(super::join_result),
            Err(e) => Poll::Ready(Err(e.take().unwrap_or(TaskError::ResultTaken))),
        }
    }
}
