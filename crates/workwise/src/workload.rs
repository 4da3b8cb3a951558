//! Which model for which work, and how many workers each gets.

use std::fmt;

/// The kind of work, which decides the concurrency model and its size.
///
/// | Workload | Model | Default size |
/// |---|---|---|
/// | `Io` | elastic thread pool ([`Pool::io`](crate::Pool::io)) | `min(32, cores + 4)` threads |
/// | `Cpu` | work-stealing pool ([`Pool::cpu`](crate::Pool::cpu)) | one thread per core |
/// | `Process` | worker processes (planned: `ProcessPool`) | one process per core |
/// | `Async` | an async runtime (tokio) | thousands of tasks on a few threads |
/// | `Sequential` | a single worker, tasks in submission order | 1 |
///
/// # Examples
///
/// ```
/// use workwise::{Pool, Workload};
///
/// let pool = Pool::for_workload(Workload::Io).build()?;
/// assert_eq!(pool.max_workers(), Workload::Io.default_workers());
/// # Ok::<(), workwise::PoolBuildError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Workload {
    /// Mostly waiting on the network, disks or databases.
    Io,
    /// Mostly computing: parsing, numbers, images.
    Cpu,
    /// Computing that needs isolation from the caller (a crash, a leak, a
    /// library with global state).
    Process,
    /// Thousands of simultaneous waits (connections, sockets).
    Async,
    /// Small, fast, or step-by-step dependent work: concurrency costs more
    /// than it gives.
    Sequential,
}

impl Workload {
    /// The number of workers this workload gets by default on this machine.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::{available_cores, Workload};
    ///
    /// assert_eq!(Workload::Cpu.default_workers(), available_cores());
    /// assert_eq!(Workload::Io.default_workers(), (available_cores() + 4).min(32));
    /// assert_eq!(Workload::Sequential.default_workers(), 1);
    /// ```
    pub fn default_workers(self) -> usize {
        let cores = available_cores();
        match self {
            Workload::Io => (cores + 4).min(32),
            Workload::Cpu | Workload::Process | Workload::Async => cores,
            Workload::Sequential => 1,
        }
    }

    /// One line on when to pick this workload.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(workwise::Workload::Cpu.when().contains("comput"));
    /// ```
    pub fn when(self) -> &'static str {
        match self {
            Workload::Io => {
                "work that mostly waits (network, files, databases): threads, more than cores"
            }
            Workload::Cpu => "work that mostly computes: one thread per core, work-stealing",
            Workload::Process => {
                "computing that needs isolation: worker processes, data sent by value"
            }
            Workload::Async => "thousands of simultaneous waits: an async runtime, never blocked",
            Workload::Sequential => "small, fast or dependent steps: a plain loop beats any pool",
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Workload::Io => "io",
            Workload::Cpu => "cpu",
            Workload::Process => "process",
            Workload::Async => "async",
            Workload::Sequential => "sequential",
        })
    }
}

/// The number of cores this process may use (at least 1).
///
/// # Examples
///
/// ```
/// assert!(workwise::available_cores() >= 1);
/// ```
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
