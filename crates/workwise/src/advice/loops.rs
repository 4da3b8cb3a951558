//! The advisor for a plain loop on one thread: the guide's first question,
//! whether the work waits or computes, asked of code that uses no pool yet.

use std::time::{Duration, Instant};

use super::{Advice, Code, Figure};

/// A loop too short to matter: below this, neither a pool nor more threads
/// could save anything worth their cost.
const SHORT_LOOP: Duration = Duration::from_millis(20);
/// Above this share of its time with a core on a CPU, the loop computes.
const COMPUTING_ABOVE: f64 = 0.7;
/// Below this share, it mostly waits.
const WAITING_BELOW: f64 = 0.3;

/// Watches a loop on the calling thread: its wall time, the thread's CPU
/// time (precise, from the thread's CPU clock) and the time it waited for
/// a core that other threads held (Linux's schedstat), so that
/// [`finish`](LoopWatch::finish) can say whether the loop waits (give it
/// `Pool::io()`) or computes (give it `Pool::cpu()` or `par_map`).
///
/// # Examples
///
/// ```
/// use workwise::advice::{Code, LoopWatch};
///
/// let watch = LoopWatch::start();
/// for _ in 0..10 {
///     std::thread::sleep(std::time::Duration::from_millis(3)); // a "request"
/// }
/// let advice = watch.finish("fetch loop", 10);
/// // Where the platform has thread CPU clocks, the loop reads as waiting.
/// if let Some(a) = advice.first() {
///     assert_eq!(a.code, Code::W02);
///     assert!(a.fix.contains("Pool::io()"));
/// }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct LoopWatch {
    start: Instant,
    cpu: Option<Duration>,
    run_delay: Option<Duration>,
}

/// What a [`LoopWatch`] measured.
///
/// # Examples
///
/// ```
/// let watch = workwise::advice::LoopWatch::start();
/// let f = watch.figures();
/// assert!(f.cpu <= f.wall + std::time::Duration::from_millis(10));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoopFigures {
    /// Wall time since the watch started.
    pub wall: Duration,
    /// The thread's CPU time since (zero where the platform has no thread
    /// CPU clock).
    pub cpu: Duration,
    /// Time the thread was ready to run but waited for a core (zero where
    /// schedstat cannot be read).
    pub run_delay: Duration,
    /// Whether `cpu` could be read at all.
    pub measured: bool,
}

impl LoopFigures {
    /// The share of the loop's time with a core that it spent computing.
    ///
    /// # Examples
    ///
    /// ```
    /// let f = workwise::advice::LoopWatch::start().figures();
    /// if let Some(share) = f.cpu_share() {
    ///     assert!((0.0..=1.0).contains(&share));
    /// }
    /// ```
    pub fn cpu_share(&self) -> Option<f64> {
        if !self.measured || self.wall.is_zero() {
            return None;
        }
        let had_core = self.wall.saturating_sub(self.run_delay).max(self.cpu);
        if had_core.is_zero() {
            return None;
        }
        Some((self.cpu.as_secs_f64() / had_core.as_secs_f64()).min(1.0))
    }
}

/// The calling thread's run delay so far, from schedstat.
fn own_run_delay() -> Option<Duration> {
    crate::pool::read_schedstat(std::path::Path::new("/proc/thread-self")).map(|(_, delay)| delay)
}

impl LoopWatch {
    /// Starts watching the calling thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let watch = workwise::advice::LoopWatch::start();
    /// assert!(watch.figures().wall < std::time::Duration::from_secs(60));
    /// ```
    pub fn start() -> Self {
        LoopWatch {
            cpu: crate::pool::thread_cpu_time(),
            run_delay: own_run_delay(),
            start: Instant::now(),
        }
    }

    /// The figures so far; call it on the thread that started the watch.
    ///
    /// # Examples
    ///
    /// ```
    /// let watch = workwise::advice::LoopWatch::start();
    /// let sum: u64 = (0..1_000_000u64).sum();
    /// assert!(sum > 0);
    /// assert!(watch.figures().wall > std::time::Duration::ZERO);
    /// ```
    pub fn figures(&self) -> LoopFigures {
        let wall = self.start.elapsed();
        let cpu = self
            .cpu
            .zip(crate::pool::thread_cpu_time())
            .map(|(a, b)| b.saturating_sub(a));
        let run_delay = self
            .run_delay
            .zip(own_run_delay())
            .map_or(Duration::ZERO, |(a, b)| b.saturating_sub(a));
        LoopFigures {
            wall,
            cpu: cpu.unwrap_or_default(),
            run_delay,
            measured: cpu.is_some(),
        }
    }

    /// The advisor's findings for the loop, named `name`, which handled
    /// `items` items: W02 when it mostly waited (threads would overlap the
    /// waits), W06 when it computed on one core of several (its one thread
    /// is the limit); nothing for a loop too short to matter (under 20 ms)
    /// or of a single item.
    ///
    /// # Examples
    ///
    /// ```
    /// let watch = workwise::advice::LoopWatch::start();
    /// let _ = (0..50).map(|i| i * 2).sum::<u64>(); // a simple script
    /// assert!(watch.finish("script", 50).is_empty());
    /// ```
    pub fn finish(self, name: &str, items: u64) -> Vec<Advice> {
        for_loop(name, items, &self.figures(), crate::available_cores())
    }
}

/// The loop rules over measured figures.
pub(crate) fn for_loop(name: &str, items: u64, f: &LoopFigures, cores: usize) -> Vec<Advice> {
    let Some(share) = f.cpu_share() else {
        return Vec::new();
    };
    if items < 2 || f.wall < SHORT_LOOP {
        return Vec::new();
    }
    let source = format!("loop '{name}'");
    let figures = vec![
        Figure::new("cpu_share", share, ""),
        Figure::new("items", items as f64, ""),
        Figure::new("wall", f.wall.as_secs_f64() * 1e3, "ms"),
        Figure::new("cpu", f.cpu.as_secs_f64() * 1e3, "ms"),
        Figure::new("run_delay", f.run_delay.as_secs_f64() * 1e3, "ms"),
    ];
    if share < WAITING_BELOW {
        // Overlapping the waits: at best the items run all at once, at
        // worst until the CPU part fills the cores.
        let by_cpu = (cores as f64 / share.max(0.01)).floor() as u64;
        let threads = items.min(by_cpu).clamp(2, crate::MAX_THREADS as u64);
        vec![Advice::new(
            Code::W02,
            source,
            format!(
                "I/O-bound work run one item at a time: the thread was on a CPU {:.0}% of \
                 the time, and the cores idled while it waited",
                share * 100.0
            ),
            figures,
            format!(
                "overlap the waits on Pool::io() (up to {threads} threads for these {items} \
                 items), or async if there are thousands"
            ),
        )]
    } else if share > COMPUTING_ABOVE && cores > 1 {
        vec![Advice::new(
            Code::W06,
            source,
            format!(
                "CPU-bound work on one thread: it computed {:.0}% of the time while {} more \
                 cores idled",
                share * 100.0,
                cores - 1
            ),
            figures,
            format!("spread it over the {cores} cores with par_map or Pool::cpu()"),
        )]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(wall_ms: u64, cpu_ms: u64, delay_ms: u64) -> LoopFigures {
        LoopFigures {
            wall: Duration::from_millis(wall_ms),
            cpu: Duration::from_millis(cpu_ms),
            run_delay: Duration::from_millis(delay_ms),
            measured: true,
        }
    }

    fn codes(f: &LoopFigures, items: u64) -> Vec<Code> {
        for_loop("l", items, f, 2).iter().map(|a| a.code).collect()
    }

    #[test]
    fn a_waiting_loop_is_w02_a_computing_one_w06_and_a_short_one_nothing() {
        assert_eq!(codes(&figures(500, 10, 0), 100), vec![Code::W02]);
        assert_eq!(codes(&figures(500, 480, 0), 100), vec![Code::W06]);
        // Computing, but waiting for a core most of the time: still computing.
        assert_eq!(codes(&figures(500, 100, 390), 100), vec![Code::W06]);
        assert_eq!(codes(&figures(500, 250, 0), 100), vec![]);
        assert_eq!(codes(&figures(5, 5, 0), 50), vec![]);
        assert_eq!(codes(&figures(500, 10, 0), 1), vec![]);
    }

    #[test]
    fn one_core_has_nothing_to_spread_over() {
        assert!(for_loop("l", 100, &figures(500, 480, 0), 1).is_empty());
    }
}
