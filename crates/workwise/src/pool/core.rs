//! The worker core shared by every thread pool: queues, sleeping and waking,
//! the bounded-capacity reservation, and shutdown.
//!
//! # Protocol
//!
//! 1. `queued` holds `(count << 1) | CLOSED`. A submitter adds 2 *before* it
//!    pushes its job (a reservation) and takes it back if the closed bit was
//!    set; a worker subtracts 2 when it takes a job out of a queue.
//! 2. Workers leave only when `queued == CLOSED` (closed and empty), so every
//!    job reserved before the pool closed is run, or cancelled by
//!    `shutdown_now`, before the last worker exits: nothing is lost.
//! 3. `state` counts searching workers (low bits) and sleeping workers (high
//!    bits). After a push, the submitter fences (SeqCst) and reads `state`; if
//!    no worker is searching it wakes a sleeper, or, in an elastic pool, starts
//!    a worker. Whoever wakes or starts a worker counts it as searching.
//! 4. A searching worker that gives up moves itself from searching to sleeping
//!    under the sleepers' lock, fences, and rereads `queued`; if it is not zero
//!    it does not park. By 3 and 4, either the submitter sees no searcher and
//!    wakes someone, or the would-be sleeper sees the job (or the close).
//! 5. The last searcher to find a job wakes one more worker if jobs remain, so
//!    a burst spreads over the pool one worker at a time, not all at once.
//! 6. A sleeper is woken by being removed from the sleepers' list under its
//!    lock; one that finds itself still listed after `park` returns was not
//!    woken (a spurious return or its keep-alive ran out).
//! 7. An elastic worker retires by removing itself from the list and
//!    decrementing `live` under the lock, then fences and rereads `queued`; if
//!    work arrived it rejoins. A submitter that finds no sleeper to wake reads
//!    `live` and starts a worker: one of the two sees the other.
//! 8. A submitter that finds the queue full takes a ticket in the space line
//!    and counts itself in `space_waiters` under the space lock; only the
//!    head of the line reserves, rereading `queued` under that lock before it
//!    waits, and on leaving it notifies the next. While anyone is in line,
//!    `try_submit` is refused and a new blocking `submit` joins the end of
//!    the line: blocked submitters are served first come, first served. A
//!    worker whose take leaves at most half the capacity queued reads
//!    `space_waiters` and notifies under the same lock. Closing notifies too.
//! 9. A worker takes a job's reservation back (rule 1) *before* it ends its
//!    search (rule 5), so "jobs remain" never counts the job it just took.
//! 10. A worker that waits without a deadline may run work inside the wait,
//!     but only work that cannot recurse without bound: the task it waits
//!     for, if no one started it, and jobs from its own LIFO deque, and only
//!     while fewer than [`MAX_HELP_DEPTH`] jobs are nested on its stack. A
//!     worker of an elastic pool that blocks counts itself in `blocked`, and
//!     the pool may then start that many workers beyond its maximum
//!     (a managed blocker, as in Java's ForkJoinPool), so queued work goes
//!     on while it waits.
//! 11. `join_workers` runs once: the first caller joins the workers and
//!     resolves leftovers, later callers wait until it is done, so every
//!     `shutdown` returns only after the pool has drained.
//! 12. User code (tasks, their results' and closures' `Drop`, panic
//!     payloads, wakers) runs inside `catch_unwind`; a worker never unwinds.
//! 13. A worker that cannot be started while no worker is alive would leave
//!     queued jobs to no one: they are resolved with `TaskError::NoWorker`
//!     carrying the OS error.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

use crossbeam_deque::{Injector, Steal, Stealer, Worker};
use crossbeam_utils::{Backoff, CachePadded};

use super::stats::{thread_cpu_time, PoolStats, Totals, WorkerStats};
use crate::task::{drop_quietly, park_until, JobRef, Outcome, TaskError};

/// How many jobs a waiting worker may nest on its stack by running them
/// inside its waits (protocol rule 10); `PoolStats::deepest_help` reports
/// the deepest chain reached.
///
/// # Examples
///
/// ```
/// let pool = workwise::Pool::cpu().build()?;
/// pool.submit(|| ()).wait().unwrap();
/// assert!(pool.stats().deepest_help <= workwise::MAX_HELP_DEPTH as u64);
/// # Ok::<(), workwise::BuildError>(())
/// ```
pub const MAX_HELP_DEPTH: usize = 32;

pub(crate) const CLOSED: usize = 1;
const SEARCH: usize = 1;
const SEARCH_MASK: usize = (1 << 20) - 1;
const SLEEP: usize = 1 << 20;
/// Rounds a worker looks for work before it parks: 6 of growing busy-spins,
/// then yields. Parking and being woken costs ~27 µs on a VM whose idle
/// virtual CPUs halt; this spin costs a few tens of µs of one core at most.
const SPIN_ROUNDS: u32 = 64;
const CPU_FLUSH_EVERY: Duration = Duration::from_millis(10);
const CPU_FLUSH_IDLE: Duration = Duration::from_millis(1);

/// How a pool grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// Threads start on demand up to the maximum and retire when idle.
    Elastic,
    /// All threads start with the pool, each with a work-stealing deque.
    Fixed,
}

#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) name: String,
    pub(crate) flavor: Flavor,
    pub(crate) max_workers: usize,
    pub(crate) capacity: usize,
    pub(crate) stack_size: Option<usize>,
    pub(crate) keep_alive: Option<Duration>,
    pub(crate) timing: bool,
}

struct Sleeper {
    index: usize,
    thread: Thread,
}

/// Why a job could not be reserved a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    Full,
    Closed,
}

pub(crate) struct Shared {
    pub(crate) cfg: Config,
    injector: Injector<JobRef>,
    stealers: Vec<Stealer<JobRef>>,
    queued: CachePadded<AtomicUsize>,
    state: CachePadded<AtomicUsize>,
    submitted: CachePadded<AtomicU64>,
    peak_queued: AtomicUsize,
    live: AtomicUsize,
    peak_workers: AtomicUsize,
    sleepers: Mutex<Vec<Sleeper>>,
    space_waiters: AtomicUsize,
    space_lock: Mutex<SpaceLine>,
    space_cv: Condvar,
    /// Workers of an elastic pool blocked in a wait (rule 10).
    blocked: AtomicUsize,
    phase: Mutex<Phase>,
    phase_cv: Condvar,
    cancel_rest: AtomicBool,
    threads: Mutex<Vec<JoinHandle<()>>>,
    next_index: AtomicUsize,
    worker_stats: Mutex<Vec<Arc<WorkerStats>>>,
    retired: Mutex<Totals>,
    spawn_error: Mutex<Option<String>>,
    /// Test hook: every later spawn fails as the OS would refuse it.
    #[cfg(test)]
    refuse_spawns: AtomicBool,
    pub(crate) par: crate::par::ParState,
}

/// The line of submitters waiting for space (rule 8).
#[derive(Default)]
struct SpaceLine {
    next_ticket: u64,
    serving: u64,
}

/// Where shutdown stands (rule 11).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Open,
    Draining,
    Drained,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // No user code runs under these locks, so a poisoned one holds sound data.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<WorkerCtx>>> = const { RefCell::new(None) };
}

/// The worker context of the calling thread, if it is a pool worker.
fn current_worker() -> Option<Rc<WorkerCtx>> {
    CURRENT.with(|c| c.borrow().clone())
}

impl Shared {
    /// Builds the pool's shared state and, for a fixed pool, starts its workers.
    pub(crate) fn start(cfg: Config) -> std::io::Result<Arc<Shared>> {
        let locals: Vec<Worker<JobRef>> = match cfg.flavor {
            Flavor::Fixed => (0..cfg.max_workers).map(|_| Worker::new_lifo()).collect(),
            Flavor::Elastic => Vec::new(),
        };
        let shared = Arc::new(Shared {
            stealers: locals.iter().map(Worker::stealer).collect(),
            injector: Injector::new(),
            queued: CachePadded::new(AtomicUsize::new(0)),
            state: CachePadded::new(AtomicUsize::new(0)),
            submitted: CachePadded::new(AtomicU64::new(0)),
            peak_queued: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            peak_workers: AtomicUsize::new(0),
            sleepers: Mutex::new(Vec::new()),
            space_waiters: AtomicUsize::new(0),
            space_lock: Mutex::new(SpaceLine::default()),
            space_cv: Condvar::new(),
            blocked: AtomicUsize::new(0),
            phase: Mutex::new(Phase::Open),
            phase_cv: Condvar::new(),
            cancel_rest: AtomicBool::new(false),
            threads: Mutex::new(Vec::new()),
            next_index: AtomicUsize::new(0),
            worker_stats: Mutex::new(Vec::new()),
            retired: Mutex::new(Totals::default()),
            spawn_error: Mutex::new(None),
            #[cfg(test)]
            refuse_spawns: AtomicBool::new(false),
            par: crate::par::ParState::new(),
            cfg,
        });
        if shared.cfg.flavor == Flavor::Elastic {
            // Threads start on demand; make sure one can, so that a pool that
            // could never run a task fails here, not at its first wait.
            shared.probe_spawn()?;
        }
        for local in locals {
            shared.live.fetch_add(1, SeqCst);
            shared.state.fetch_add(SEARCH, SeqCst);
            if let Err(e) = shared.spawn_worker(Some(local)) {
                shared.close(true);
                shared.join_workers();
                return Err(e);
            }
        }
        shared.peak_workers.store(shared.live.load(SeqCst), SeqCst);
        Ok(shared)
    }

    /// This pool's id, which its task cells carry (never 0).
    pub(crate) fn id(self: &Arc<Self>) -> usize {
        Arc::as_ptr(self) as usize
    }

    fn thread_builder(&self, index: usize) -> thread::Builder {
        let mut builder = thread::Builder::new().name(format!("{}-{index}", self.cfg.name));
        if let Some(size) = self.cfg.stack_size {
            builder = builder.stack_size(size);
        }
        builder
    }

    /// Starts and joins one thread configured as a worker would be.
    fn probe_spawn(&self) -> std::io::Result<()> {
        // std's spawn panics instead of failing for a few sizes (one that
        // overflows when rounded up to a page): treat that as a refusal.
        let spawned = panic::catch_unwind(AssertUnwindSafe(|| self.thread_builder(0).spawn(|| ())));
        match spawned {
            Ok(Ok(h)) => {
                let _ = h.join();
                Ok(())
            }
            Ok(Err(e)) => Err(e),
            Err(p) => {
                let message = crate::task::panic_message(&*p);
                drop_quietly(p);
                Err(std::io::Error::other(message))
            }
        }
    }

    /// Whether the calling thread is one of this pool's workers.
    pub(crate) fn on_own_worker(self: &Arc<Self>) -> bool {
        CURRENT.with(|c| {
            c.borrow()
                .as_ref()
                .is_some_and(|ctx| Arc::ptr_eq(&ctx.shared, self))
        })
    }

    /// Reserves a place for one job (rule 1); blocks for space when `block`.
    /// `internal` reservations (from the pool's own workers) skip the capacity
    /// check, so a task that submits subtasks can never deadlock its pool.
    pub(crate) fn reserve(&self, block: bool, internal: bool) -> Result<(), Refused> {
        if !internal && self.space_waiters.load(SeqCst) > 0 {
            // Submitters are waiting in line for space: get behind them.
            if self.queued.load(SeqCst) & CLOSED != 0 {
                return Err(Refused::Closed);
            }
            if !block {
                return Err(Refused::Full);
            }
            return self.reserve_in_line();
        }
        match self.try_reserve(internal) {
            Err(Refused::Full) if block => self.reserve_in_line(),
            r => r,
        }
    }

    /// One attempt at a reservation (rule 1).
    fn try_reserve(&self, internal: bool) -> Result<(), Refused> {
        let prev = self.queued.fetch_add(2, SeqCst);
        if prev & CLOSED != 0 {
            self.queued.fetch_sub(2, SeqCst);
            return Err(Refused::Closed);
        }
        let n = (prev >> 1) + 1;
        if internal || n <= self.cfg.capacity {
            self.submitted.fetch_add(1, Relaxed);
            if n > self.peak_queued.load(Relaxed) {
                self.peak_queued.fetch_max(n, Relaxed);
            }
            return Ok(());
        }
        // Over capacity: the queue was full, so no waiter needs a notify.
        self.queued.fetch_sub(2, SeqCst);
        Err(Refused::Full)
    }

    /// Waits in the space line until this submitter is at its head and a
    /// place is free, or the pool closes (rule 8).
    fn reserve_in_line(&self) -> Result<(), Refused> {
        let mut line = lock(&self.space_lock);
        let ticket = line.next_ticket;
        line.next_ticket += 1;
        self.space_waiters.fetch_add(1, SeqCst);
        let result = loop {
            if line.serving == ticket {
                match self.try_reserve(false) {
                    Err(Refused::Full) => {}
                    r => break r,
                }
            } else if self.queued.load(SeqCst) & CLOSED != 0 {
                break Err(Refused::Closed);
            }
            line = self.space_cv.wait(line).unwrap_or_else(|e| e.into_inner());
        };
        if line.serving == ticket {
            line.serving += 1;
        }
        self.space_waiters.fetch_sub(1, SeqCst);
        drop(line);
        // The next in line may find space at once.
        self.space_cv.notify_all();
        result
    }

    /// Gives back a reservation (or a taken job's place), waking blocked
    /// submitters when the queue has drained to half its capacity (rule 8).
    fn release_reservation(&self) {
        let prev = self.queued.fetch_sub(2, SeqCst);
        let n = (prev >> 1).saturating_sub(1);
        if n <= self.cfg.capacity / 2 && self.space_waiters.load(SeqCst) > 0 {
            let _g = lock(&self.space_lock);
            self.space_cv.notify_all();
        }
    }

    /// Pushes a reserved job: onto the caller's own deque when it is one of
    /// this pool's workers (`internal`, as `reserve` was told), else onto the
    /// shared injector; then wakes a worker. External submits skip the
    /// thread-local lookup that `on_own_worker` already did.
    pub(crate) fn push(self: &Arc<Self>, job: JobRef, internal: bool) {
        let job = if internal {
            CURRENT.with(
                |c| match c.borrow().as_ref().and_then(|ctx| ctx.local.as_ref()) {
                    Some(local) => {
                        local.push(job);
                        None
                    }
                    None => Some(job),
                },
            )
        } else {
            Some(job)
        };
        if let Some(job) = job {
            self.injector.push(job);
        }
        self.notify_one();
    }

    /// Rule 3.
    fn notify_one(self: &Arc<Self>) {
        fence(SeqCst);
        if self.state.load(SeqCst) & SEARCH_MASK == 0 {
            self.wake_one();
        }
    }

    fn wake_one(self: &Arc<Self>) {
        if self.state.load(SeqCst) >= SLEEP {
            let woken = {
                let mut sleepers = lock(&self.sleepers);
                let s = sleepers.pop();
                if s.is_some() {
                    self.state.fetch_sub(SLEEP - SEARCH, SeqCst);
                }
                s
            };
            if let Some(s) = woken {
                s.thread.unpark();
                return;
            }
        }
        if self.cfg.flavor == Flavor::Elastic {
            self.try_spawn();
        }
    }

    /// Starts one more elastic worker if the pool is below its maximum.
    fn try_spawn(self: &Arc<Self>) {
        if self.queued.load(SeqCst) == CLOSED {
            return;
        }
        let mut live = self.live.load(SeqCst);
        loop {
            if live >= self.worker_limit() {
                return;
            }
            match self.live.compare_exchange(live, live + 1, SeqCst, SeqCst) {
                Ok(_) => break,
                Err(now) => live = now,
            }
        }
        self.peak_workers.fetch_max(live + 1, Relaxed);
        self.state.fetch_add(SEARCH, SeqCst);
        if let Err(e) = self.spawn_worker(None) {
            self.state.fetch_sub(SEARCH, SeqCst);
            let left = self.live.fetch_sub(1, SeqCst) - 1;
            let message = e.to_string();
            *lock(&self.spawn_error) = Some(message.clone());
            if left == 0 {
                self.fail_stranded(&message);
            }
        }
    }

    /// The most workers an elastic pool may run now: its maximum, plus one
    /// for each worker blocked in a wait (rule 10).
    fn worker_limit(&self) -> usize {
        (self.cfg.max_workers + self.blocked.load(SeqCst)).min(super::MAX_THREADS)
    }

    /// Rule 13: no worker is alive and none could be started, so the queued
    /// jobs would wait for no one; resolve them with the OS's reason.
    fn fail_stranded(&self, message: &str) {
        while let Some(job) = self.find_job(None, 0) {
            self.release_reservation();
            lock(&self.retired).cancelled += 1;
            job.cancel_with(TaskError::NoWorker {
                message: message.to_owned(),
            });
            drop_quietly(job);
        }
    }

    /// Spawns one worker thread; the caller has counted it in `live` and as
    /// searching.
    fn spawn_worker(self: &Arc<Self>, local: Option<Worker<JobRef>>) -> std::io::Result<()> {
        #[cfg(test)]
        if self.refuse_spawns.load(SeqCst) {
            return Err(std::io::Error::from_raw_os_error(11)); // EAGAIN
        }
        let index = self.next_index.fetch_add(1, Relaxed);
        let builder = self.thread_builder(index);
        let stats = Arc::new(WorkerStats::default());
        lock(&self.worker_stats).push(stats.clone());
        let shared = self.clone();
        let worker_stats = stats.clone();
        let spawned = panic::catch_unwind(AssertUnwindSafe(|| {
            builder.spawn(move || {
                let ctx = Rc::new(WorkerCtx {
                    shared,
                    index,
                    local,
                    stats: worker_stats,
                    depth: Cell::new(0),
                    cpu_mark: Cell::new(thread_cpu_time()),
                    last_flush: Cell::new(Instant::now()),
                });
                worker_main(ctx);
            })
        }))
        .unwrap_or_else(|p| {
            let message = crate::task::panic_message(&*p);
            drop_quietly(p);
            Err(std::io::Error::other(message))
        });
        match spawned {
            Ok(handle) => {
                let mut threads = lock(&self.threads);
                threads.retain(|h| !h.is_finished());
                threads.push(handle);
                Ok(())
            }
            Err(e) => {
                self.remove_worker_stats(&stats, false);
                Err(e)
            }
        }
    }

    /// Drops a worker's entry from the live list; with `fold`, its counts move
    /// to the retired totals first, under the same lock, so a concurrent
    /// snapshot never counts the worker twice or not at all.
    fn remove_worker_stats(&self, stats: &Arc<WorkerStats>, fold: bool) {
        let mut all = lock(&self.worker_stats);
        if fold {
            stats.add_to(&mut lock(&self.retired));
        }
        all.retain(|s| !Arc::ptr_eq(s, stats));
    }

    /// Finds a job: the worker's own deque, then the injector, then the other
    /// workers' deques.
    fn find_job(&self, local: Option<&Worker<JobRef>>, me: usize) -> Option<JobRef> {
        if let Some(local) = local {
            if let Some(job) = local.pop() {
                return Some(job);
            }
        }
        loop {
            let mut retry = false;
            let got = match local {
                Some(local) => self.injector.steal_batch_and_pop(local),
                None => self.injector.steal(),
            };
            match got {
                Steal::Success(job) => return Some(job),
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
            let n = self.stealers.len();
            for i in 1..n {
                match self.stealers[(me + i) % n].steal() {
                    Steal::Success(job) => return Some(job),
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            if !retry {
                return None;
            }
        }
    }

    /// Rule 5: a searching worker found a job.
    fn end_search(self: &Arc<Self>) {
        let prev = self.state.fetch_sub(SEARCH, SeqCst);
        if prev & SEARCH_MASK == 1 && (self.queued.load(SeqCst) >> 1) > 0 {
            self.wake_one();
        }
    }

    /// Rules 4, 6 and 7. Returns false when the worker should retire.
    fn sleep(self: &Arc<Self>, index: usize) -> bool {
        {
            let mut sleepers = lock(&self.sleepers);
            sleepers.push(Sleeper {
                index,
                thread: thread::current(),
            });
            self.state.fetch_add(SLEEP - SEARCH, SeqCst);
        }
        fence(SeqCst);
        if self.queued.load(SeqCst) != 0 {
            self.unlist(index);
            return true;
        }
        // An endless keep-alive (no Instant that far) means never retire.
        let deadline = self.cfg.keep_alive.and_then(crate::clock::deadline_after);
        loop {
            match deadline {
                None => thread::park(),
                Some(d) => thread::park_timeout(d.saturating_duration_since(Instant::now())),
            }
            let mut sleepers = lock(&self.sleepers);
            let Some(pos) = sleepers.iter().position(|s| s.index == index) else {
                return true; // woken: the waker counted us as searching
            };
            if deadline.is_some_and(|d| Instant::now() >= d) {
                sleepers.swap_remove(pos);
                self.state.fetch_sub(SLEEP, SeqCst);
                self.live.fetch_sub(1, SeqCst);
                drop(sleepers);
                fence(SeqCst);
                if self.queued.load(SeqCst) >> 1 == 0 || !self.rejoin() {
                    return false;
                }
                return true;
            }
        }
    }

    /// Takes a worker that decided not to park off the sleepers' list, unless
    /// a waker already did (then the waker counted it as searching).
    fn unlist(&self, index: usize) {
        let mut sleepers = lock(&self.sleepers);
        if let Some(pos) = sleepers.iter().position(|s| s.index == index) {
            sleepers.swap_remove(pos);
            self.state.fetch_sub(SLEEP - SEARCH, SeqCst);
        }
    }

    /// A retiring worker saw work arrive: count it back in if there is room.
    fn rejoin(&self) -> bool {
        let mut live = self.live.load(SeqCst);
        loop {
            if live >= self.worker_limit() {
                return false;
            }
            match self.live.compare_exchange(live, live + 1, SeqCst, SeqCst) {
                Ok(_) => {
                    self.state.fetch_add(SEARCH, SeqCst);
                    return true;
                }
                Err(now) => live = now,
            }
        }
    }

    /// Closes the pool to new work; with `cancel`, queued jobs are cancelled
    /// instead of run.
    pub(crate) fn close(&self, cancel: bool) {
        if cancel {
            self.cancel_rest.store(true, SeqCst);
        }
        self.queued.fetch_or(CLOSED, SeqCst);
        {
            let _g = lock(&self.space_lock);
            self.space_cv.notify_all();
        }
        let drained = std::mem::take(&mut *lock(&self.sleepers));
        self.state
            .fetch_sub((SLEEP - SEARCH) * drained.len(), SeqCst);
        for s in drained {
            s.thread.unpark();
        }
    }

    /// Waits for every worker to exit (not when called from a worker of this
    /// pool, which cannot wait for itself), then resolves anything no worker
    /// was left to take.
    pub(crate) fn join_workers(self: &Arc<Self>) {
        if self.on_own_worker() {
            return;
        }
        {
            // Rule 11: one caller drains, the others wait for it.
            let mut phase = lock(&self.phase);
            loop {
                match *phase {
                    Phase::Drained => return,
                    Phase::Draining => {
                        phase = self.phase_cv.wait(phase).unwrap_or_else(|e| e.into_inner());
                    }
                    Phase::Open => {
                        *phase = Phase::Draining;
                        break;
                    }
                }
            }
        }
        loop {
            let handles = std::mem::take(&mut *lock(&self.threads));
            if handles.is_empty() {
                break;
            }
            for h in handles {
                // A worker never unwinds: task panics are caught inside it.
                let _ = h.join();
            }
        }
        while let Some(job) = self.find_job(None, 0) {
            self.release_reservation();
            job.cancel_with(TaskError::Closed);
            drop_quietly(job);
        }
        *lock(&self.phase) = Phase::Drained;
        self.phase_cv.notify_all();
    }

    pub(crate) fn stats(&self) -> PoolStats {
        let totals = {
            let all = lock(&self.worker_stats);
            let mut totals = *lock(&self.retired);
            for w in all.iter() {
                w.add_to(&mut totals);
            }
            totals
        };
        let mut s = PoolStats::default();
        totals.fill(&mut s);
        s.submitted = self.submitted.load(Relaxed);
        s.queued = (self.queued.load(SeqCst) >> 1) as u64;
        s.peak_queued = self.peak_queued.load(Relaxed) as u64;
        s.live_workers = self.live.load(SeqCst) as u64;
        s.peak_workers = self.peak_workers.load(Relaxed) as u64;
        s.inline_runs = self.par.inline_runs.load(Relaxed);
        s.parallel_runs = self.par.parallel_runs.load(Relaxed);
        s
    }

    pub(crate) fn spawn_error(&self) -> Option<String> {
        lock(&self.spawn_error).clone()
    }
}

/// A worker thread's own state, reachable from its thread-local.
pub(crate) struct WorkerCtx {
    shared: Arc<Shared>,
    index: usize,
    local: Option<Worker<JobRef>>,
    stats: Arc<WorkerStats>,
    /// Jobs nested on this thread's stack: 1 inside a job, more inside a
    /// job run by a wait inside a job (rule 10). Busy time is counted at the
    /// outermost job only, so nested work is not counted twice.
    depth: Cell<u32>,
    cpu_mark: Cell<Option<Duration>>,
    last_flush: Cell<Instant>,
}

impl WorkerCtx {
    fn find_job(&self) -> Option<JobRef> {
        self.shared.find_job(self.local.as_ref(), self.index)
    }

    fn spin_for_job(&self) -> Option<JobRef> {
        for round in 0..SPIN_ROUNDS {
            if round < 6 {
                for _ in 0..(1u32 << round) {
                    std::hint::spin_loop();
                }
            } else {
                thread::yield_now();
            }
            if let Some(job) = self.find_job() {
                return Some(job);
            }
            if self.shared.queued.load(SeqCst) == CLOSED {
                return None;
            }
        }
        None
    }

    /// Whether a wait on this thread may run one more job inside it.
    fn may_help(&self) -> bool {
        (self.depth.get() as usize) <= MAX_HELP_DEPTH
    }

    /// Runs a job taken out of a queue, whose reservation the caller gave
    /// back (rule 9).
    fn run(&self, job: JobRef) {
        let shared = &self.shared;
        if shared.cancel_rest.load(Relaxed) {
            let cancelled = panic::catch_unwind(AssertUnwindSafe(|| {
                let c = job.cancel_with(TaskError::Cancelled);
                drop(job);
                c
            }));
            if cancelled.unwrap_or_else(|p| {
                drop_quietly(p);
                true
            }) {
                self.stats.cancelled();
            }
            return;
        }
        let submitted = job.submitted_at();
        self.run_nested(submitted, move |stats| job.run(stats));
    }

    /// Runs user work on this worker at the next depth, timing it at the
    /// outermost level. Nothing it raises unwinds past here (rule 12).
    fn run_nested(&self, submitted: Option<Instant>, work: impl FnOnce(&WorkerStats) -> Outcome) {
        let shared = &self.shared;
        let start = shared.cfg.timing.then(Instant::now);
        let depth = self.depth.get();
        self.depth.set(depth + 1);
        if depth > 0 {
            self.stats.help_depth(u64::from(depth));
        }
        // Counts land inside `work`, before its handle resolves; a panic
        // here comes from a `Drop` after that (a detached result).
        let outcome =
            panic::catch_unwind(AssertUnwindSafe(|| work(&self.stats))).unwrap_or_else(|p| {
                drop_quietly(p);
                Outcome::Completed
            });
        self.depth.set(depth);
        if outcome == Outcome::Skipped {
            self.stats.cancelled();
        }
        let ran = matches!(outcome, Outcome::Completed | Outcome::Panicked);
        if let Some(start) = start {
            if ran {
                if let Some(at) = submitted {
                    self.stats.queue_wait(start.saturating_duration_since(at));
                }
            }
            let end = Instant::now();
            if depth == 0 && ran {
                self.stats.busy(end - start);
            }
            if end - self.last_flush.get() >= CPU_FLUSH_EVERY {
                self.flush_cpu(end);
            }
        }
    }

    /// Between runs of work: reads the CPU clock if it has not been read for
    /// a millisecond, so `stats()` is current soon after a burst ends while
    /// one-task-at-a-time traffic pays for at most one read per millisecond.
    fn flush_cpu_if_stale(&self) {
        if self.shared.cfg.timing {
            let now = Instant::now();
            if now - self.last_flush.get() >= CPU_FLUSH_IDLE {
                self.flush_cpu(now);
            }
        }
    }

    fn flush_cpu(&self, now: Instant) {
        self.last_flush.set(now);
        let cpu = thread_cpu_time();
        if let (Some(before), Some(after)) = (self.cpu_mark.get(), cpu) {
            self.stats.cpu(after.saturating_sub(before));
        }
        self.cpu_mark.set(cpu);
    }
}

fn worker_main(ctx: Rc<WorkerCtx>) {
    CURRENT.with(|c| *c.borrow_mut() = Some(ctx.clone()));
    #[cfg(feature = "tracing")]
    tracing::debug!(pool = %ctx.shared.cfg.name, worker = ctx.index, "worker started");
    let shared = ctx.shared.clone();
    let mut searching = true;
    loop {
        let found = ctx.find_job().or_else(|| {
            if !searching {
                shared.state.fetch_add(SEARCH, SeqCst);
                searching = true;
                ctx.flush_cpu_if_stale();
            }
            ctx.spin_for_job()
        });
        if let Some(job) = found {
            // Rule 9: give the place back first, so the search's end sees
            // only the jobs that remain.
            shared.release_reservation();
            if searching {
                searching = false;
                shared.end_search();
            }
            ctx.run(job);
            continue;
        }
        if shared.queued.load(SeqCst) == CLOSED {
            shared.state.fetch_sub(SEARCH, SeqCst);
            shared.live.fetch_sub(1, SeqCst);
            break;
        }
        ctx.flush_cpu(Instant::now());
        if !shared.sleep(ctx.index) {
            break; // retired: `sleep` already took it out of `live`
        }
    }
    ctx.flush_cpu(Instant::now());
    #[cfg(feature = "tracing")]
    tracing::debug!(pool = %shared.cfg.name, worker = ctx.index, "worker exited");
    shared.remove_worker_stats(&ctx.stats, true);
    CURRENT.with(|c| *c.borrow_mut() = None);
}

/// Runs `work` (a task the caller waits for, which nobody has started) on
/// the calling thread if it is a worker of the pool whose id is `pool` and
/// may nest one more job (rule 10); returns whether it ran.
pub(crate) fn help_with(pool: usize, work: impl FnOnce(&WorkerStats) -> Outcome) -> bool {
    let Some(ctx) = current_worker() else {
        return false;
    };
    if ctx.shared.id() != pool || !ctx.may_help() {
        return false;
    }
    // The task's queue entry stays behind; a worker that reaches it later
    // finds it started (`Outcome::RanElsewhere`) and gives its place back.
    ctx.run_nested(None, work);
    true
}

/// Counts a worker of an elastic pool as blocked while it lives, so the
/// pool may start a worker in its place (rule 10).
struct Blocked(Rc<WorkerCtx>);

impl Blocked {
    fn enter(ctx: Rc<WorkerCtx>) -> Blocked {
        let shared = &ctx.shared;
        shared.blocked.fetch_add(1, SeqCst);
        if shared.queued.load(SeqCst) >> 1 > 0 {
            shared.notify_one();
        }
        Blocked(ctx)
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        self.0.shared.blocked.fetch_sub(1, SeqCst);
    }
}

/// Waits until `done()` returns true or the deadline passes; returns whether
/// it is done. Without a deadline, on a pool worker, it runs jobs from the
/// worker's own LIFO deque while it waits, up to [`MAX_HELP_DEPTH`] nested
/// jobs (rule 10); with a deadline it never does, since a job it picked up
/// could run past the deadline. Then it spins briefly, and parks after
/// `register`ing the thread to be unparked; a worker of an elastic pool
/// that parks lets the pool start another in its place.
pub(crate) fn wait_until(
    done: impl Fn() -> bool,
    deadline: Option<Instant>,
    register: impl FnOnce(Thread) -> bool,
) -> bool {
    if done() {
        return true;
    }
    let past = |d: Option<Instant>| d.is_some_and(|d| Instant::now() >= d);
    let worker = current_worker();
    if let Some(ctx) = worker.as_ref().filter(|_| deadline.is_none()) {
        while ctx.may_help() {
            let Some(job) = ctx.local.as_ref().and_then(Worker::pop) else {
                break;
            };
            ctx.shared.release_reservation();
            ctx.run(job);
            if done() {
                return true;
            }
        }
    }
    let backoff = Backoff::new();
    while !backoff.is_completed() {
        if done() {
            return true;
        }
        if past(deadline) {
            return false;
        }
        backoff.snooze();
    }
    let _blocked = worker
        .filter(|ctx| ctx.shared.cfg.flavor == Flavor::Elastic)
        .map(Blocked::enter);
    park_until(done, deadline, register)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::task::{TaskCell, TaskHandle};

    #[test]
    fn a_spawn_failure_with_no_live_worker_resolves_queued_tasks_with_the_os_error() {
        let cfg = Config {
            name: "refused".into(),
            flavor: Flavor::Elastic,
            max_workers: 2,
            capacity: 16,
            stack_size: None,
            keep_alive: None,
            timing: true,
        };
        let shared = Shared::start(cfg).unwrap();
        shared.refuse_spawns.store(true, SeqCst);
        shared.reserve(true, false).unwrap();
        let cell = Arc::new(TaskCell::new(|| 1, None, shared.id()));
        shared.push(cell.clone(), false);
        let mut handle = TaskHandle::from_cell(cell);
        match handle.wait_timeout(Duration::from_secs(30)) {
            Err(TaskError::NoWorker { message }) => {
                assert!(!message.is_empty());
                assert_eq!(shared.spawn_error().as_deref(), Some(message.as_str()));
            }
            other => panic!("expected NoWorker, got {other:?}"),
        }
        assert_eq!(shared.stats().queued, 0);
        shared.close(false);
        shared.join_workers();
    }
}
