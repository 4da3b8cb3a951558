//! [`ProcessStats`]: what a [`ProcessPool`](super::ProcessPool) did, and
//! [`WorkerMemory`]: what each worker process costs.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// An encoded argument this large or larger counts in
/// [`ProcessStats::large_arguments`]: at 64 KiB a copy through the pipe
/// already costs about ten times the round trip of a
/// [`SharedBytes`](super::SharedBytes) handle (see `process/advice.rs`).
pub(crate) const LARGE_ARGUMENT: u64 = 64 << 10;

/// A snapshot of a [`ProcessPool`](super::ProcessPool)'s counts, from
/// [`ProcessPool::stats`](super::ProcessPool::stats).
///
/// # Examples
///
/// ```no_run
/// fn double(x: u64) -> u64 { x * 2 }
/// const DOUBLE: workwise::process::Task<u64, u64> = workwise::process_task!(double);
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     workwise::process::init(&[&DOUBLE]);
///     let pool = workwise::process::ProcessPool::builder().workers(2).build()?;
///     pool.submit(DOUBLE, 21).wait()?;
///     let stats = pool.stats();
///     assert_eq!(stats.completed, 1);
///     assert!(stats.bytes_sent > 0);
///     Ok(())
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ProcessStats {
    /// The number of worker processes the pool keeps (the builder's `workers`).
    pub workers: usize,
    /// Worker processes alive now.
    pub live_workers: usize,
    /// Tasks accepted (a `map` chunk counts as one).
    pub submitted: u64,
    /// Tasks that returned a value.
    pub completed: u64,
    /// Tasks that panicked (and unwound) inside their worker, which lived on.
    pub panicked: u64,
    /// Tasks whose worker died or broke the frame protocol while running them.
    pub crashed: u64,
    /// Tasks over the builder's `timeout`, whose worker was killed.
    pub timed_out: u64,
    /// Tasks cancelled before they started.
    pub cancelled: u64,
    /// Crashed tasks sent again under `retry_crashed`.
    pub retried: u64,
    /// Worker processes started, in all.
    pub spawned: u64,
    /// Workers started to replace one that crashed, was killed on a timeout,
    /// or was found dead.
    pub respawns: u64,
    /// Workers retired after `max_tasks_per_worker` tasks.
    pub recycled: u64,
    /// Bytes written to workers' pipes, frame headers included.
    pub bytes_sent: u64,
    /// Bytes read from workers' pipes, frame headers included.
    pub bytes_received: u64,
    /// Arguments accepted: one per `submit`, one per item of a `map`.
    pub arguments: u64,
    /// Their encoded bytes (postcard, without the frame's header and the
    /// task's name); a [`SharedBytes`](super::SharedBytes) counts as its
    /// handle, a few bytes.
    pub argument_bytes: u64,
    /// The largest encoded argument, in bytes (for a `map` chunk, the
    /// mean of its items).
    pub largest_argument: u64,
    /// Arguments of 64 KiB or more, each copied through a pipe into its
    /// worker: what the advisor's W11 looks at.
    pub large_arguments: u64,
    /// The encoded bytes of those large arguments.
    pub large_argument_bytes: u64,
    /// Tasks waiting for a worker.
    pub queued: usize,
    /// Tasks running in a worker now.
    pub running: usize,
}

/// One worker process's memory, from
/// [`ProcessPool::worker_memory`](super::ProcessPool::worker_memory).
///
/// # Examples
///
/// ```
/// let m = workwise::process::WorkerMemory { pid: 1, private_bytes: 10 << 20 };
/// assert_eq!(m.private_bytes / (1 << 20), 10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerMemory {
    /// The worker's process id.
    pub pid: u32,
    /// Its private resident memory (`Private_Clean + Private_Dirty` of
    /// `/proc/<pid>/smaps_rollup`): what the worker costs beyond the pages
    /// it shares with the parent and the other workers.
    pub private_bytes: u64,
}

/// Reads a worker's private resident memory; `None` when it is gone.
pub(crate) fn private_bytes(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let mut total = 0;
    for line in text.lines() {
        if let Some(rest) = line
            .strip_prefix("Private_Clean:")
            .or_else(|| line.strip_prefix("Private_Dirty:"))
        {
            let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
            total += kb * 1024;
        }
    }
    Some(total)
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) submitted: AtomicU64,
    pub(crate) completed: AtomicU64,
    pub(crate) panicked: AtomicU64,
    pub(crate) crashed: AtomicU64,
    pub(crate) timed_out: AtomicU64,
    pub(crate) cancelled: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) spawned: AtomicU64,
    pub(crate) respawns: AtomicU64,
    pub(crate) recycled: AtomicU64,
    pub(crate) bytes_sent: AtomicU64,
    pub(crate) bytes_received: AtomicU64,
    pub(crate) arguments: AtomicU64,
    pub(crate) argument_bytes: AtomicU64,
    pub(crate) largest_argument: AtomicU64,
    pub(crate) large_arguments: AtomicU64,
    pub(crate) large_argument_bytes: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    /// Counts one accepted frame of `items` arguments (1, or a `map`
    /// chunk's items) encoded in `bytes`; whether they were large.
    pub(crate) fn add_arguments(&self, items: u64, bytes: u64) -> bool {
        let items = items.max(1);
        let each = bytes / items;
        Self::add(&self.arguments, items);
        Self::add(&self.argument_bytes, bytes);
        self.largest_argument.fetch_max(each, Relaxed);
        let large = each >= LARGE_ARGUMENT;
        if large {
            Self::add(&self.large_arguments, items);
            Self::add(&self.large_argument_bytes, bytes);
        }
        large
    }

    pub(crate) fn snapshot(&self) -> ProcessStats {
        ProcessStats {
            submitted: self.submitted.load(Relaxed),
            completed: self.completed.load(Relaxed),
            panicked: self.panicked.load(Relaxed),
            crashed: self.crashed.load(Relaxed),
            timed_out: self.timed_out.load(Relaxed),
            cancelled: self.cancelled.load(Relaxed),
            retried: self.retried.load(Relaxed),
            spawned: self.spawned.load(Relaxed),
            respawns: self.respawns.load(Relaxed),
            recycled: self.recycled.load(Relaxed),
            bytes_sent: self.bytes_sent.load(Relaxed),
            bytes_received: self.bytes_received.load(Relaxed),
            arguments: self.arguments.load(Relaxed),
            argument_bytes: self.argument_bytes.load(Relaxed),
            largest_argument: self.largest_argument.load(Relaxed),
            large_arguments: self.large_arguments.load(Relaxed),
            large_argument_bytes: self.large_argument_bytes.load(Relaxed),
            ..ProcessStats::default()
        }
    }
}
