//! What the advisor says about a run: a few rules over the figures measured
//! (busy time, CPU time, queue wait), printed with those figures.
//!
//! The rule that matters most: work whose threads sit on a CPU for a small
//! share of their busy time is waiting (I/O-bound) and wants more threads than
//! cores; work whose threads compute most of the time wants one per core.

use std::time::Duration;

use workwise::{PoolStats, Workload};

/// Below this share of busy time on a CPU, the work is mostly waiting.
const WAITING_BELOW: f64 = 0.3;
/// Above this share of busy time on a CPU, the work is mostly computing.
const COMPUTING_ABOVE: f64 = 0.7;

/// How the work spent its busy time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Waiting,
    Computing,
    Mixed,
}

fn kind(cpu_share: f64) -> Kind {
    if cpu_share < WAITING_BELOW {
        Kind::Waiting
    } else if cpu_share > COMPUTING_ABOVE {
        Kind::Computing
    } else {
        Kind::Mixed
    }
}

fn ratio(part: Duration, whole: Duration) -> f64 {
    if whole.is_zero() {
        0.0
    } else {
        part.as_secs_f64() / whole.as_secs_f64()
    }
}

/// The advisor's line for a plain loop on one thread, from its wall time and,
/// where the platform exposes it, the thread's CPU time over the loop.
pub(crate) fn for_loop(wall: Duration, cpu: Option<Duration>) -> String {
    let Some(cpu) = cpu else {
        return format!(
            "one task at a time for {}; this platform does not expose a thread's CPU time, \
             so the advisor cannot tell waiting from computing",
            human(wall)
        );
    };
    let share = ratio(cpu, wall);
    let figures = format!(
        "the loop's thread was on CPU for {} of {} wall ({:.1}%)",
        human(cpu),
        human(wall),
        share * 100.0
    );
    match kind(share) {
        Kind::Waiting => format!(
            "{figures} and waited the rest, one task at a time: I/O-bound work; \
             Pool::io() overlaps the waits"
        ),
        Kind::Computing => format!(
            "{figures}: CPU-bound work; Pool::cpu() spreads it over {} cores",
            workwise::available_cores()
        ),
        Kind::Mixed => format!(
            "{figures}: mixed work; split the waiting (Pool::io()) from the computing (Pool::cpu())"
        ),
    }
}

/// The advisor's line for a pool, from its final statistics (read after
/// shutdown, so every worker's times are in) and the run's wall time.
pub(crate) fn for_pool(
    workload: Workload,
    max_workers: usize,
    stats: &PoolStats,
    wall: Duration,
) -> String {
    if stats.busy.is_zero() {
        return "the pool measured no busy time (was it built with timing(false)?)".into();
    }
    let at_once = ratio(stats.busy, wall);
    let threads = if stats.peak_workers as usize >= max_workers {
        format!("all {max_workers} threads")
    } else {
        format!("{} of {max_workers} threads started", stats.peak_workers)
    };
    let busy = format!(
        "workers were busy {} in {} wall ({at_once:.1} at once, {threads})",
        human(stats.busy),
        human(wall)
    );
    if stats.cpu.is_zero() {
        return format!(
            "{busy}; this platform does not expose thread CPU time, so the advisor cannot \
             tell waiting from computing"
        );
    }
    let share = ratio(stats.cpu, stats.busy);
    let cpu = format!(
        "{} CPU ({:.1}% of busy time)",
        human(stats.cpu),
        share * 100.0
    );
    let cores = workwise::available_cores();
    match (kind(share), workload) {
        (Kind::Waiting, Workload::Cpu) => format!(
            "{busy} but used only {cpu}: this is I/O-bound work on a CPU-sized pool; \
             use Pool::io()"
        ),
        (Kind::Waiting, Workload::Io) => {
            let mut line = format!(
                "{busy} but used only {cpu}: I/O-bound work on Pool::io(), the right model"
            );
            if let Some(note) = queue_note(stats, max_workers, at_once) {
                line.push_str("; ");
                line.push_str(&note);
            }
            line
        }
        (Kind::Computing, Workload::Io) => format!(
            "{busy} and on CPU for {cpu}: CPU-bound work on an I/O pool sized for waiting \
             ({max_workers} threads, {cores} cores); use Pool::cpu()"
        ),
        (Kind::Computing, Workload::Cpu) => {
            format!("{busy} and on CPU for {cpu}: CPU-bound work on Pool::cpu(), the right model")
        }
        (Kind::Mixed, _) => format!(
            "{busy} and on CPU for {cpu}: mixed work; split the waiting (Pool::io()) \
             from the computing (Pool::cpu())"
        ),
        (k, other) => format!(
            "{busy} and on CPU for {cpu}: {} work on a {other} pool",
            match k {
                Kind::Waiting => "I/O-bound",
                Kind::Computing => "CPU-bound",
                Kind::Mixed => "mixed",
            }
        ),
    }
}

/// When every thread was busy and tasks queued about as long as they ran,
/// the pool's size was the limit: say so, with the figures.
fn queue_note(stats: &PoolStats, max_workers: usize, at_once: f64) -> Option<String> {
    let ran = stats.completed + stats.panicked;
    if ran == 0 || stats.submitted == 0 {
        return None;
    }
    let mean_task = stats.busy / u32::try_from(ran).ok()?;
    let mean_queued = stats.queue_wait / u32::try_from(stats.submitted).ok()?;
    let saturated = at_once >= 0.8 * max_workers as f64;
    (saturated && mean_queued * 2 >= mean_task).then(|| {
        format!(
            "tasks queued {} on average behind {} tasks: the pool's size was the limit; \
             max_workers({}) would overlap more waits, if the far side can take them",
            human(mean_queued),
            human(mean_task),
            max_workers * 2
        )
    })
}

/// A duration for people: `840 µs`, `9.4 ms`, `352 ms`, `2.10 s`.
pub(crate) fn human(d: Duration) -> String {
    // Thresholds sit where rounding would carry into the next unit.
    let ms = d.as_secs_f64() * 1e3;
    if ms >= 999.5 {
        format!("{:.2} s", ms / 1e3)
    } else if ms >= 9.95 {
        format!("{ms:.0} ms")
    } else if ms >= 0.9995 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.0} µs", ms * 1e3)
    }
}

/// The calling thread's CPU time, where the platform exposes it (Linux).
pub(crate) fn thread_cpu_time() -> Option<Duration> {
    // The first field of schedstat is the thread's time on a CPU, in ns.
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(busy_ms: u64, cpu_ms: u64, queued_ms: u64, tasks: u64, peak: u64) -> PoolStats {
        let mut s = PoolStats::default();
        s.submitted = tasks;
        s.completed = tasks;
        s.peak_workers = peak;
        s.busy = Duration::from_millis(busy_ms);
        s.cpu = Duration::from_millis(cpu_ms);
        s.queue_wait = Duration::from_millis(queued_ms);
        s
    }

    #[test]
    fn waiting_on_a_cpu_pool_points_to_the_io_pool() {
        let s = stats(2000, 10, 1000, 60, 2);
        let line = for_pool(Workload::Cpu, 2, &s, Duration::from_millis(1000));
        assert!(line.contains("2.00 s in 1.00 s wall"), "{line}");
        assert!(line.contains("10 ms CPU (0.5% of busy time)"), "{line}");
        assert!(line.contains("use Pool::io()"), "{line}");
    }

    #[test]
    fn a_saturated_io_pool_mentions_its_queue() {
        let s = stats(2100, 20, 2100, 60, 6);
        let line = for_pool(Workload::Io, 6, &s, Duration::from_millis(350));
        assert!(line.contains("the right model"), "{line}");
        assert!(line.contains("max_workers(12)"), "{line}");
        let calm = stats(2100, 20, 0, 60, 6);
        let line = for_pool(Workload::Io, 6, &calm, Duration::from_millis(350));
        assert!(!line.contains("max_workers"), "{line}");
    }

    #[test]
    fn computing_on_an_io_pool_points_to_the_cpu_pool() {
        let s = stats(1000, 950, 0, 10, 6);
        let line = for_pool(Workload::Io, 6, &s, Duration::from_millis(500));
        assert!(line.contains("use Pool::cpu()"), "{line}");
    }

    #[test]
    fn a_waiting_loop_points_to_the_io_pool() {
        let line = for_loop(Duration::from_secs(2), Some(Duration::from_millis(20)));
        assert!(line.contains("(1.0%)"), "{line}");
        assert!(line.contains("Pool::io()"), "{line}");
        assert!(for_loop(Duration::from_secs(1), None).contains("cannot tell"));
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human(Duration::from_micros(840)), "840 µs");
        assert_eq!(human(Duration::from_micros(9_400)), "9.4 ms");
        assert_eq!(human(Duration::from_millis(352)), "352 ms");
        assert_eq!(human(Duration::from_millis(2_104)), "2.10 s");
        assert_eq!(human(Duration::from_micros(9_990)), "10 ms");
        assert_eq!(human(Duration::from_micros(999_700)), "1.00 s");
    }
}
