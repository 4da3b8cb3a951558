//! The tour's summary: the guide's memory section, measured.
//!
//! The guide says a thread costs ~1 KB, a process ~10 MB, and asyncio
//! "minimal overhead" with no figure. At the end of a whole tour this
//! measures, on this machine:
//!
//! - an idle thread: RSS growth (`VmRSS` of `/proc/self/status`) over
//!   [`THREADS`] threads parked on a condition variable, the address space
//!   one thread's stack reserves (its mapping in `/proc/self/maps`), and the
//!   kernel's stack for each (`KernelStack` of `/proc/meminfo`, which RSS
//!   does not count);
//! - an async task: RSS growth over [`TASKS`] tokio tasks parked on a
//!   `watch` channel;
//! - an idle worker process (Linux): `ProcessPool::worker_memory` (private
//!   resident memory) and each worker's whole `VmRSS`, after a few trivial
//!   tasks.
//!
//! Freed heap memory is returned to the OS (glibc's `malloc_trim`) before
//! each first reading, so that what the tour freed earlier cannot absorb
//! the growth.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::{Size, Tour, TourError};

/// Idle threads a tour measures.
pub(super) const THREADS: Size = Size::count("idle threads", 256, 1_024);
/// `--json`'s help about the summary line.
pub(super) const JSON_HELP: &str = "A whole tour (no --scenario) ends with one summary line, \
    shaped as a row so that scripts reading scenario, model and advice on every line keep \
    working: scenario \"summary\", model \"memory\", wall_ms (the time the measurements took), \
    speedup null, then thread_kib (RSS growth per idle thread), thread_reserved_kib (address \
    space it reserves, its stack), kernel_stack_kib (the kernel's stack for it, outside RSS), \
    async_task_kib (RSS growth per tokio task parked on a channel), and on Linux \
    process_private_mb and process_rss_mb (an idle worker process's private and whole resident \
    memory); a figure that could not be read is null. Then guide_thread_kib (1) and \
    guide_process_mb (10), the guide's figures, failed (0), workers (the threads measured), \
    advice ([]) and advisor (the summary's text).";

/// Async tasks the summary measures.
const TASKS: usize = 10_000;
/// The guide's figure for a thread, in KiB ("~1 KB overhead").
const GUIDE_THREAD_KIB: f64 = 1.0;
/// The guide's figure for a process, in MB ("~10 MB overhead").
const GUIDE_PROCESS_MB: f64 = 10.0;
/// How long the summary waits for its threads or tasks to start.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// This process's resident memory in KiB, from `/proc/self/status`.
pub(crate) fn rss_kib() -> Option<u64> {
    status_kib("/proc/self/status", "VmRSS:")
}

/// A `kB` field of a `/proc` status-like file (`VmRSS:`, `KernelStack:`).
fn status_kib(path: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(path).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Returns the heap's free memory to the OS, where glibc can, so that a
/// later reading of RSS counts new memory, not memory an earlier row freed.
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer and only gives free heap pages
    // back to the OS; glibc makes it safe to call from any thread at any
    // time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// What an idle thread costs.
#[derive(Debug, Clone, Copy, Default)]
struct ThreadMemory {
    /// Threads measured (those that started).
    threads: usize,
    /// RSS growth per thread, in KiB.
    resident_kib: Option<f64>,
    /// The address space one thread's stack mapping reserves, in KiB.
    reserved_kib: Option<f64>,
    /// Growth of the kernel's stacks per thread, in KiB (system-wide, so
    /// other processes' threads coming and going blur it a little).
    kernel_stack_kib: Option<f64>,
}

/// What an async task parked on a channel costs.
#[derive(Debug, Clone, Copy, Default)]
struct TaskMemory {
    tasks: usize,
    resident_kib: Option<f64>,
}

/// What an idle worker process costs.
#[derive(Debug, Clone, Copy, Default)]
struct ProcessMemory {
    workers: usize,
    private_mb: Option<f64>,
    rss_mb: Option<f64>,
}

/// Everything the summary measured.
#[derive(Debug, Clone, Copy, Default)]
struct Summary {
    thread: ThreadMemory,
    task: TaskMemory,
    process: ProcessMemory,
    wall: Duration,
}

/// Measures the summary's figures and prints them: a few lines under the
/// last table, or one JSON line shaped as a row.
pub(crate) fn summary(tour: &mut Tour) -> Result<(), TourError> {
    let start = Instant::now();
    let threads = THREADS.items(tour.quick());
    let thread = idle_threads(threads);
    let task = parked_tasks(TASKS);
    let process = worker_process();
    let s = Summary {
        thread,
        task,
        process,
        wall: start.elapsed(),
    };
    if tour.json {
        let line = serde_json::to_string(&s).map_err(std::io::Error::from)?;
        writeln!(tour.out, "{line}")?;
    } else {
        writeln!(
            tour.out,
            "\nsummary: memory, measured here beside the guide's figures (its memory section)"
        )?;
        for line in s.lines() {
            writeln!(tour.out, "  {line}")?;
        }
    }
    tour.out.flush()?;
    Ok(())
}

/// Spawns `n` threads that park at once, and reads what they cost while
/// all are parked.
fn idle_threads(n: usize) -> ThreadMemory {
    // (started, released), under one lock.
    let gate = Arc::new((Mutex::new((0usize, false)), Condvar::new()));
    let reserved = Arc::new(Mutex::new(None::<u64>));
    release_free_memory();
    let rss_before = rss_kib();
    let kernel_before = status_kib("/proc/meminfo", "KernelStack:");
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let (gate, reserved) = (gate.clone(), reserved.clone());
        let spawned = thread::Builder::new()
            .name(format!("idle-{i}"))
            .spawn(move || {
                if i == 0 {
                    let local = 0u8;
                    *reserved.lock().unwrap_or_else(PoisonError::into_inner) =
                        mapping_size(std::ptr::addr_of!(local) as usize);
                }
                let (lock, cv) = &*gate;
                let mut g = lock.lock().unwrap_or_else(PoisonError::into_inner);
                g.0 += 1;
                cv.notify_all();
                while !g.1 {
                    g = cv.wait(g).unwrap_or_else(PoisonError::into_inner);
                }
            });
        match spawned {
            Ok(h) => handles.push(h),
            // A limit on threads: measure those that started.
            Err(_) => break,
        }
    }
    let started = handles.len();
    let (lock, cv) = &*gate;
    let deadline = Instant::now() + START_DEADLINE;
    let mut g = lock.lock().unwrap_or_else(PoisonError::into_inner);
    while g.0 < started && Instant::now() < deadline {
        g = cv
            .wait_timeout(g, Duration::from_millis(100))
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
    let all_parked = g.0 == started;
    drop(g);
    let rss_after = rss_kib();
    let kernel_after = status_kib("/proc/meminfo", "KernelStack:");
    lock.lock().unwrap_or_else(PoisonError::into_inner).1 = true;
    cv.notify_all();
    for h in handles {
        let _ = h.join();
    }
    let per = |before: Option<u64>, after: Option<u64>| {
        before
            .zip(after)
            .filter(|_| all_parked && started > 0)
            .map(|(b, a)| (a as f64 - b as f64) / started as f64)
    };
    let reserved = *reserved.lock().unwrap_or_else(PoisonError::into_inner);
    ThreadMemory {
        threads: started,
        resident_kib: per(rss_before, rss_after),
        reserved_kib: reserved.map(|b| b as f64 / 1024.0),
        kernel_stack_kib: per(kernel_before, kernel_after),
    }
}

/// The size in bytes of the mapping of this process that holds `addr`,
/// from `/proc/self/maps` (a thread's stack, for the address of a local).
fn mapping_size(addr: usize) -> Option<u64> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().find_map(|line| {
        let range = line.split_whitespace().next()?;
        let (start, end) = range.split_once('-')?;
        let start = usize::from_str_radix(start, 16).ok()?;
        let end = usize::from_str_radix(end, 16).ok()?;
        (start <= addr && addr < end).then(|| (end - start) as u64)
    })
}

/// Spawns `n` tokio tasks on a one-thread runtime, each parked on one
/// `watch` channel, and reads the RSS growth while all are parked.
fn parked_tasks(n: usize) -> TaskMemory {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
        return TaskMemory::default();
    };
    let (tx, rx) = tokio::sync::watch::channel(false);
    let parked = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    release_free_memory();
    let (before, after) = runtime.block_on(async {
        let before = rss_kib();
        for _ in 0..n {
            let (mut rx, parked, done) = (rx.clone(), parked.clone(), done.clone());
            tokio::spawn(async move {
                parked.fetch_add(1, SeqCst);
                let _ = rx.wait_for(|&go| go).await;
                done.fetch_add(1, SeqCst);
            });
        }
        // The tasks run, and park, while this one yields.
        let deadline = Instant::now() + START_DEADLINE;
        while parked.load(SeqCst) < n && Instant::now() < deadline {
            tokio::task::yield_now().await;
        }
        let after = (parked.load(SeqCst) == n).then(rss_kib).flatten();
        let _ = tx.send(true);
        while done.load(SeqCst) < n && Instant::now() < deadline {
            tokio::task::yield_now().await;
        }
        (before, after)
    });
    TaskMemory {
        tasks: n,
        resident_kib: before
            .zip(after)
            .map(|(b, a)| (a as f64 - b as f64) / n as f64),
    }
}

/// Starts a small `ProcessPool`, runs a few trivial tasks on it, and reads
/// its workers' memory.
#[cfg(target_os = "linux")]
fn worker_process() -> ProcessMemory {
    use workwise::process::ProcessPool;

    let workers = workwise::available_cores().clamp(1, 4);
    let Ok(pool) = ProcessPool::builder()
        .name("memory")
        .workers(workers)
        .eager(true)
        .build()
    else {
        return ProcessMemory::default();
    };
    let pings: Vec<_> = (0..workers as u64 * 8)
        .map(|i| pool.submit(super::processes::PING, i))
        .collect();
    let answered = pings.into_iter().all(|h| h.wait().is_ok());
    let private: Vec<u64> = pool
        .worker_memory()
        .iter()
        .map(|m| m.private_bytes)
        .collect();
    let rss: Vec<u64> = pool
        .worker_pids()
        .iter()
        .filter_map(|pid| status_kib(&format!("/proc/{pid}/status"), "VmRSS:"))
        .map(|kib| kib * 1024)
        .collect();
    pool.shutdown();
    let mean_mb = |v: &[u64]| {
        (answered && !v.is_empty()).then(|| v.iter().sum::<u64>() as f64 / v.len() as f64 / 1e6)
    };
    ProcessMemory {
        workers,
        private_mb: mean_mb(&private),
        rss_mb: mean_mb(&rss),
    }
}

#[cfg(not(target_os = "linux"))]
fn worker_process() -> ProcessMemory {
    ProcessMemory::default()
}

/// `12.3 KiB`, or what could not be read.
fn kib(k: Option<f64>) -> String {
    k.map_or_else(
        || "? KiB (not readable here)".into(),
        |k| format!("{k:.1} KiB"),
    )
}

/// How a measured figure stands against the guide's.
fn against_guide(measured: f64, guide: f64, unit: &str) -> String {
    let r = measured / guide;
    if r >= 2.0 {
        format!("the guide's ~{guide} {unit} is {r:.0}x too low here")
    } else if r <= 0.5 {
        format!(
            "the guide's ~{guide} {unit} is {:.0}x too high here",
            1.0 / r
        )
    } else {
        format!("the guide's ~{guide} {unit} holds here")
    }
}

impl Summary {
    /// The thread's whole cost as measured: resident plus kernel stack.
    fn thread_total_kib(&self) -> Option<f64> {
        let t = &self.thread;
        t.resident_kib
            .map(|r| r + t.kernel_stack_kib.unwrap_or(0.0))
    }

    /// The summary's text, one line per unit of concurrency.
    fn lines(&self) -> Vec<String> {
        let t = &self.thread;
        let mut thread = format!(
            "an idle thread: {} resident (RSS growth over {} idle threads)",
            kib(t.resident_kib),
            t.threads
        );
        if let Some(k) = t.kernel_stack_kib {
            let _ = write!(
                thread,
                ", plus {k:.1} KiB of kernel stack, which RSS does not count"
            );
        }
        if let Some(r) = t.reserved_kib {
            let _ = write!(
                thread,
                "; its stack reserves {r:.0} KiB of address space, resident only as far as it \
                 is touched"
            );
        }
        if let Some(total) = self.thread_total_kib() {
            let _ = write!(
                thread,
                ": {}, counting the stack pages the thread touched and its kernel stack",
                against_guide(total, GUIDE_THREAD_KIB, "KB")
            );
        }

        let mut task = format!(
            "an async task parked on a channel: {} resident (RSS growth over {} tokio tasks)",
            kib(self.task.resident_kib),
            self.task.tasks
        );
        match (self.task.resident_kib, self.thread_total_kib()) {
            (Some(a), Some(t)) if a > 0.0 => {
                let _ = write!(task, ", {:.0}x less than an idle thread", t / a);
            }
            _ => {}
        }
        task.push_str("; the guide gives no figure for asyncio, only \"minimal overhead\"");

        let p = &self.process;
        let process = match (p.private_mb, p.rss_mb) {
            (Some(private), rss) => {
                let mut line = format!(
                    "an idle worker process: {private:.1} MB private memory (mean over {} \
                     workers, after a few trivial tasks)",
                    p.workers
                );
                if let Some(rss) = rss {
                    let _ = write!(line, ", {rss:.1} MB resident with the pages it shares");
                }
                let _ = write!(
                    line,
                    ": {} (a worker here is this binary, not a Python interpreter)",
                    against_guide(private, GUIDE_PROCESS_MB, "MB")
                );
                line
            }
            (None, _) if cfg!(target_os = "linux") => {
                "an idle worker process: its memory could not be read".into()
            }
            (None, _) => "an idle worker process: not measured (ProcessPool is Linux-only)".into(),
        };
        vec![thread, task, process]
    }
}

/// Rounds to `places` decimals; `None` (not measured) stays null.
fn round(x: Option<f64>, places: i32) -> Option<f64> {
    let scale = 10f64.powi(places);
    x.filter(|v| v.is_finite())
        .map(|v| (v * scale).round() / scale)
}

impl Serialize for Summary {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("scenario", "summary")?;
        map.serialize_entry("model", "memory")?;
        map.serialize_entry("wall_ms", &round(Some(self.wall.as_secs_f64() * 1e3), 3))?;
        map.serialize_entry("speedup", &None::<f64>)?;
        map.serialize_entry("thread_kib", &round(self.thread.resident_kib, 2))?;
        map.serialize_entry("thread_reserved_kib", &round(self.thread.reserved_kib, 0))?;
        map.serialize_entry("kernel_stack_kib", &round(self.thread.kernel_stack_kib, 2))?;
        map.serialize_entry("async_task_kib", &round(self.task.resident_kib, 3))?;
        if cfg!(target_os = "linux") {
            map.serialize_entry("process_private_mb", &round(self.process.private_mb, 2))?;
            map.serialize_entry("process_rss_mb", &round(self.process.rss_mb, 2))?;
        }
        map.serialize_entry("guide_thread_kib", &GUIDE_THREAD_KIB)?;
        map.serialize_entry("guide_process_mb", &GUIDE_PROCESS_MB)?;
        map.serialize_entry("failed", &0)?;
        map.serialize_entry("workers", &self.thread.threads)?;
        map.serialize_entry("advice", &[] as &[&str])?;
        map.serialize_entry("advisor", &self.lines().join("; "))?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_threads_and_parked_tasks_are_measured_here() {
        let t = idle_threads(32);
        assert_eq!(t.threads, 32);
        if cfg!(target_os = "linux") {
            // A stack mapping of at least a page: Rust's default is 2 MiB.
            assert!(t.reserved_kib.is_some_and(|r| r >= 4.0), "{t:?}");
            assert!(t.resident_kib.is_some(), "{t:?}");
            let a = parked_tasks(1000);
            assert!(a.resident_kib.is_some(), "{a:?}");
        }
    }

    #[test]
    fn the_summary_compares_with_the_guide() {
        let s = Summary {
            thread: ThreadMemory {
                threads: 256,
                resident_kib: Some(10.0),
                reserved_kib: Some(2052.0),
                kernel_stack_kib: Some(16.0),
            },
            task: TaskMemory {
                tasks: 10_000,
                resident_kib: Some(0.26),
            },
            process: ProcessMemory {
                workers: 2,
                private_mb: Some(1.0),
                rss_mb: Some(4.0),
            },
            wall: Duration::from_millis(300),
        };
        let lines = s.lines();
        assert!(
            lines[0].starts_with(
                "an idle thread: 10.0 KiB resident (RSS growth over 256 idle threads), plus \
                 16.0 KiB of kernel stack"
            ),
            "{}",
            lines[0]
        );
        assert!(
            lines[0].contains("reserves 2052 KiB of address space"),
            "{}",
            lines[0]
        );
        assert!(
            lines[0].contains("the guide's ~1 KB is 26x too low here"),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].contains("100x less than an idle thread"),
            "{}",
            lines[1]
        );
        assert!(lines[2].contains("1.0 MB private memory"), "{}", lines[2]);
        assert!(
            lines[2].contains("the guide's ~10 MB is 10x too high here"),
            "{}",
            lines[2]
        );

        let json: serde_json::Value = serde_json::to_value(s).unwrap();
        assert_eq!(json["scenario"], "summary");
        assert_eq!(json["model"], "memory");
        assert_eq!(json["advice"], serde_json::json!([]));
        assert_eq!(json["thread_kib"], 10.0);
        assert!(json["speedup"].is_null());

        let unread = Summary::default();
        let json: serde_json::Value = serde_json::to_value(unread).unwrap();
        assert!(json["thread_kib"].is_null(), "{json}");
        assert!(unread.lines()[0].contains("not readable here"));
    }
}
