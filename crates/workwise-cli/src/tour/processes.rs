//! The process model in the tour (Linux, as `workwise::process` is): a
//! `ProcessPool` run timed as the thread pools' runs are, the figures and
//! the advisor's line of a process row, and the memory summary's task.
//!
//! A worker process is the `workwise` binary run again: `main` calls
//! `workwise::process::init` with [`process_tasks`](super::process_tasks)
//! (every scenario's `INFO.process_tasks`, and [`PING`]) before anything
//! else.

use std::time::{Duration, Instant};

use workwise::process::{ProcessPool, ProcessStats};

use super::advice::{self, ParRun};
use super::{Figure, Key, Measurement, Outcome, Ran, TourError};

/// The keys every process row carries, for a scenario's `INFO.keys`.
pub(crate) const WORKER_MB: Key = Key::new(
    "worker_mb",
    "ProcessPool row: a worker process's private memory, the mean over the workers, in MB",
);
pub(crate) const SENT_MB: Key = Key::new(
    "sent_mb",
    "ProcessPool row: the bytes copied to the workers through their pipes, in MB",
);
pub(crate) const RECEIVED_MB: Key = Key::new(
    "received_mb",
    "ProcessPool row: the bytes copied back from the workers, in MB",
);

/// A trivial task: the memory summary runs a few to have its workers
/// ready and idle when it reads their memory.
fn ping(x: u64) -> u64 {
    x
}

/// The trivial task, for `ProcessPool`.
pub(crate) const PING: workwise::process::Task<u64, u64> = workwise::process_task!(ping);

/// The model name of the process rows.
pub(crate) const MODEL: &str = "ProcessPool";

/// One run on a fresh `ProcessPool`, as the advisor reads it.
#[derive(Debug, Clone)]
pub(crate) struct ProcRun {
    /// The worker processes the pool keeps.
    pub(crate) workers: usize,
    /// The pool's counts, read after the work, before its shutdown.
    pub(crate) stats: ProcessStats,
    /// Each live worker's private resident memory, in bytes, read after
    /// the work (the workers' warm size).
    pub(crate) memory: Vec<u64>,
    /// From building the pool to its shutdown, less the time reading
    /// `/proc` for the memory figures.
    pub(crate) wall: Duration,
    /// The library advisor's findings on the pool (W11: big arguments
    /// copied into every task), read before its shutdown.
    pub(crate) findings: Vec<workwise::advice::Advice>,
}

impl ProcRun {
    /// The mean private memory of a worker, in MB (0 when none was read).
    pub(crate) fn worker_mb(&self) -> f64 {
        match self.memory.len() {
            0 => 0.0,
            n => self.memory.iter().sum::<u64>() as f64 / n as f64 / 1e6,
        }
    }

    /// The figures every process row carries: `worker_mb`, `sent_mb`,
    /// `received_mb`.
    pub(crate) fn figures(&self) -> [(&'static str, Figure); 3] {
        [
            ("worker_mb", Figure::Rate(self.worker_mb())),
            ("sent_mb", Figure::Rate(self.stats.bytes_sent as f64 / 1e6)),
            (
                "received_mb",
                Figure::Rate(self.stats.bytes_received as f64 / 1e6),
            ),
        ]
    }
}

impl ProcRun {
    /// The process row: `outcome`'s figures, then the process figures,
    /// with the advisor's line compared with `threads`
    /// ([`advice()`]).
    pub(crate) fn measurement<O: Outcome>(
        &self,
        outcome: O,
        threads: Option<&ParRun>,
    ) -> Measurement {
        let ran = Ran {
            model: MODEL,
            workers: self.workers,
            wall: self.wall,
            advice: advice(self, threads),
            findings: self.findings.clone(),
        };
        let mut m = outcome.measurement(ran);
        m.figures.extend(self.figures());
        m
    }
}

/// Runs `work` on a fresh `ProcessPool` named `name` (one worker per core,
/// started lazily, as `Pool::cpu`'s threads are), timed from building the
/// pool to its shutdown. The memory of each worker is read after the work,
/// outside the timing.
pub(crate) fn timed_on_process_pool<T>(
    name: &str,
    work: impl FnOnce(&ProcessPool) -> T,
) -> Result<(T, ProcRun), TourError> {
    let start = Instant::now();
    let pool = ProcessPool::builder()
        .name(name)
        .build()
        .map_err(|e| TourError::Setup(format!("cannot build a ProcessPool: {e}")))?;
    let out = work(&pool);
    let reading = Instant::now();
    let memory = pool
        .worker_memory()
        .iter()
        .map(|m| m.private_bytes)
        .collect();
    let stats = pool.stats();
    let findings = pool.advice();
    let read_for = reading.elapsed();
    pool.shutdown();
    let wall = start.elapsed().saturating_sub(read_for);
    let run = ProcRun {
        workers: stats.workers,
        stats,
        memory,
        wall,
        findings,
    };
    Ok((out, run))
}

/// The advisor's line for a process row of a CPU-bound scenario, compared
/// with `threads`, the same work on `Pool::cpu`, where it ran: what the
/// processes cost (memory, copies) and when they pay.
pub(crate) fn advice(run: &ProcRun, threads: Option<&ParRun>) -> String {
    let workers = match run.workers {
        1 => "1 worker process".to_string(),
        n => format!("{n} worker processes"),
    };
    let memory = if run.memory.is_empty() {
        "(their memory could not be read from /proc)".to_string()
    } else {
        format!("{:.1} MB private memory each", run.worker_mb())
    };
    let copies = format!(
        "{:.1} MB sent to them and {:.1} MB back through pipes (every input and result copied)",
        run.stats.bytes_sent as f64 / 1e6,
        run.stats.bytes_received as f64 / 1e6
    );
    let speed = match threads {
        None => String::new(),
        Some(t) => {
            let (ours, theirs) = (advice::human(run.wall), advice::human(t.wall));
            let r = super::speedup(run.wall, t.wall);
            if r > 1.05 {
                format!("; threads win here by {r:.1}x (Pool::cpu {theirs}, ProcessPool {ours})")
            } else if r >= 0.95 {
                format!(
                    "; as fast as Pool::cpu here ({ours} against {theirs}): the copies cost \
                     little next to this work"
                )
            } else {
                format!(
                    "; faster than Pool::cpu in this run ({ours} against {theirs}), though \
                     the copies and round trips usually make processes the slower model"
                )
            }
        }
    };
    let found = if run.findings.is_empty() {
        String::new()
    } else {
        format!("; {}", advice::said(&run.findings))
    };
    format!(
        "{workers}, {memory}, {copies}{speed}; Rust threads compute in parallel, so for speed \
         threads are the better model (Pool::cpu()); processes pay for isolation: code that \
         may crash, abort, leak or hang (FFI, third-party decoders, untrusted input) takes \
         down only its worker (see crash isolation){found}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(wall_ms: u64) -> ProcRun {
        ProcRun {
            workers: 2,
            stats: ProcessStats::default(),
            findings: Vec::new(),
            memory: vec![2_000_000, 4_000_000],
            wall: Duration::from_millis(wall_ms),
        }
    }

    #[test]
    fn the_process_advice_gives_the_cost_and_the_thread_speed() {
        let r = run(300);
        assert_eq!(r.worker_mb(), 3.0);
        let line = advice(&r, None);
        assert!(
            line.contains("2 worker processes, 3.0 MB private memory each"),
            "{line}"
        );
        assert!(line.contains("isolation"), "{line}");
        let threads = ParRun {
            workload: workwise::Workload::Cpu,
            max_workers: 2,
            stats: workwise::PoolStats::default(),
            wall: Duration::from_millis(100),
            speedup: 2.0,
            others: None,
            findings: Vec::new(),
        };
        let line = advice(&r, Some(&threads));
        assert!(
            line.contains("threads win here by 3.0x (Pool::cpu 100 ms, ProcessPool 300 ms)"),
            "{line}"
        );
        let line = advice(&run(100), Some(&threads));
        assert!(line.contains("as fast as Pool::cpu"), "{line}");
    }
}
