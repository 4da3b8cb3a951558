//! The tour's wording of what the advisor finds.
//!
//! The rules are the library's: [`Pool::advice`](workwise::Pool::advice)
//! reads a pool's figures and [`LoopWatch`](workwise::advice::LoopWatch) a
//! plain loop's, and both give [`Advice`] values (a code, a summary, the
//! fix). Each row's line here is those findings beside the figures the
//! scenario measured. What stays in this file is shared by the scenarios
//! and has no library rule: how a data-parallel run compares with the same
//! work on the other pool, what a queue pipeline's producer and consumers
//! did with their time, the CPU time other processes took from the cores
//! meanwhile ([`CpuClocks`]), and durations for people ([`human`]). A
//! scenario's own wording lives in its file (`api/advice.rs`, `web/`).

use std::time::Duration;

use workwise::advice::{Advice, LoopFigures};
use workwise::{PoolStats, Workload};

fn ratio(part: Duration, whole: Duration) -> f64 {
    if whole.is_zero() {
        0.0
    } else {
        part.as_secs_f64() / whole.as_secs_f64()
    }
}

/// The findings' codes, as the JSON rows carry them (`["W01", "W04"]`).
pub(crate) fn codes(findings: &[Advice]) -> Vec<&'static str> {
    findings.iter().map(|a| a.code.as_str()).collect()
}

/// Whether any finding says the model is wrong for the work.
fn wrong_model(findings: &[Advice]) -> bool {
    findings.iter().any(|a| a.code.is_model())
}

/// The findings as the tour words them, `W01 <summary>; fix: <fix>` each,
/// or that there was nothing to fix.
pub(crate) fn said(findings: &[Advice]) -> String {
    if findings.is_empty() {
        return "the advisor found nothing to fix".into();
    }
    findings
        .iter()
        .map(|a| format!("{} {}; fix: {}", a.code, a.summary, a.fix))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The advisor's line for a plain loop on one thread: what its
/// [`LoopWatch`](workwise::advice::LoopWatch) measured, and its findings.
pub(crate) fn for_loop(f: &LoopFigures, findings: &[Advice]) -> String {
    if !f.measured {
        return format!(
            "one item at a time for {}; this platform does not expose a thread's CPU time, \
             so the advisor cannot tell waiting from computing",
            human(f.wall)
        );
    }
    // One thread cannot spend more CPU time than wall time; a clock read
    // a little apart from the other may say so.
    let cpu = f.cpu.min(f.wall);
    let delay = if f.run_delay >= f.wall / 10 {
        format!(
            " and waited {} for a core that other threads held",
            human(f.run_delay)
        )
    } else {
        String::new()
    };
    let share = f.cpu_share().map_or_else(String::new, |s| {
        format!(" ({:.1}% of the time it had a core)", s * 100.0)
    });
    format!(
        "the loop's thread was on CPU for {} of {} wall{delay}{share}; {}",
        human(cpu),
        human(f.wall),
        said(findings)
    )
}

/// The advisor's line for a pool that ran one task per item: its figures
/// (busy and CPU time, threads) and its findings
/// ([`Pool::advice`](workwise::Pool::advice), asked before its shutdown).
pub(crate) fn for_pool(
    max_workers: usize,
    stats: &PoolStats,
    wall: Duration,
    findings: &[Advice],
) -> String {
    if stats.busy.is_zero() {
        return format!(
            "the pool measured no busy time (was it built with timing(false)?); {}",
            said(findings)
        );
    }
    let threads = if stats.peak_workers as usize >= max_workers {
        format!("all {max_workers} threads")
    } else {
        format!("{} of {max_workers} threads started", stats.peak_workers)
    };
    let cpu = match stats.cpu_share() {
        Some(share) => format!(
            ", on CPU for {} ({:.1}% of the time they had a core)",
            human(stats.cpu),
            share * 100.0
        ),
        None => "; this platform does not expose thread CPU time".into(),
    };
    format!(
        "workers were busy {} in {} wall ({:.1} at once, {threads}){cpu}; {}",
        human(stats.busy),
        human(wall),
        ratio(stats.busy, wall),
        said(findings)
    )
}

/// One data-parallel run (`par_map`, `map_reduce`) or pipeline on a fresh
/// pool, as the advisor compares it with the same work on another pool.
#[derive(Debug, Clone)]
pub(crate) struct ParRun {
    /// The workload the pool was built for.
    pub(crate) workload: Workload,
    /// The pool's size.
    pub(crate) max_workers: usize,
    /// The pool's statistics, read after its shutdown.
    pub(crate) stats: PoolStats,
    /// The run's wall time, from building the pool to its shutdown (less
    /// the time the advisor took).
    pub(crate) wall: Duration,
    /// The sequential row's wall time over this one's.
    pub(crate) speedup: f64,
    /// CPU time other processes took from the cores during the run, where
    /// the platform tells.
    pub(crate) others: Option<Duration>,
    /// The advisor's findings ([`Pool::advice`](workwise::Pool::advice),
    /// asked once the work was done, before the shutdown).
    pub(crate) findings: Vec<Advice>,
}

/// The advisor's line for a data-parallel run of CPU-bound work, compared
/// with `other`, the same work on the other pool, where it ran.
pub(crate) fn for_par_pool(run: &ParRun, other: Option<&ParRun>) -> String {
    par_line(run, other, workwise::available_cores())
}

/// The model's name as the tour's rows spell it.
fn model(workload: Workload) -> String {
    match workload {
        Workload::Cpu => "Pool::cpu".into(),
        Workload::Io => "Pool::io".into(),
        other => format!("a {other} pool"),
    }
}

fn threads_on(threads: usize, cores: usize) -> String {
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    format!(
        "{} on {}",
        plural(threads, "thread", "threads"),
        plural(cores, "core", "cores")
    )
}

/// CPU time other processes took during a run, when it is enough to say
/// so: a tenth of what the cores could give, and more than /proc's
/// resolution (a tick or two is noise).
fn crowded(others: Option<Duration>, capacity: Duration) -> Option<Duration> {
    others.filter(|&o| ratio(o, capacity) >= 0.1 && o >= CLOCK_TICK * 3)
}

fn par_line(run: &ParRun, other: Option<&ParRun>, cores: usize) -> String {
    let s = &run.stats;
    let (threads, wall) = (run.max_workers, run.wall);
    let on = threads_on(threads, cores);
    let advice = said(&run.findings);
    let inline = s.inline_runs;
    let calls = inline + s.parallel_runs;
    if calls > 0 && inline == calls {
        return format!(
            "the call ran inline on the calling thread: {} measured the work as too small \
             to pay for its {on}, so this row is one thread's speed ({:.2}x); {advice}",
            model(run.workload),
            run.speedup
        );
    }
    let inline_note = if inline > 0 {
        format!("; {inline} of {calls} calls ran inline, on the calling thread")
    } else {
        String::new()
    };
    let figures = if s.busy.is_zero() || s.cpu.is_zero() {
        format!(
            "{on}: the pool measured no busy or CPU time (timing(false), or a platform \
             without thread CPU time)"
        )
    } else {
        let share = s.cpu_share().map_or_else(String::new, |share| {
            format!(" ({:.0}% of the time they had a core)", share * 100.0)
        });
        format!(
            "{on}, busy {} in {} wall ({:.1} at once), on CPU for {}{share}",
            human(s.busy),
            human(wall),
            ratio(s.busy, wall),
            human(s.cpu)
        )
    };
    let capacity = wall.saturating_mul(cores.min(u32::MAX as usize) as u32);
    let taken = crowded(run.others, capacity);
    let contention = taken.map_or_else(String::new, |o| {
        format!(
            "; other processes took {} of the cores' {} meanwhile ({:.0}%)",
            human(o),
            human(capacity),
            ratio(o, capacity) * 100.0
        )
    });
    let speedup = format!("{:.2}x over the loop", run.speedup);
    let wrong = wrong_model(&run.findings);
    let compared = match other {
        None => speedup,
        Some(o) if !wrong => format!(
            "{speedup} ({}, {}: {:.2}x)",
            model(o.workload),
            threads_on(o.max_workers, cores),
            o.speedup
        ),
        Some(o) => {
            let theirs = format!("{}'s {:.2}x", model(o.workload), o.speedup);
            let r = run.speedup / o.speedup;
            if r < 0.95 {
                format!("{speedup}, slower than {theirs}")
            } else if r <= 1.05 {
                format!("{speedup}, no faster than {theirs}")
            } else {
                format!(
                    "{speedup}, faster than {theirs} in this run ({})",
                    if taken.is_none() {
                        "more, smaller chunks can even out a slow core"
                    } else {
                        "with other processes on the cores, more threads win a larger \
                         share of them from the scheduler, at those processes' expense"
                    }
                )
            }
        }
    };
    let gil = if wrong && run.workload == Workload::Io && threads > cores {
        format!(
            "; the guide's GIL pitfall does not exist in Rust (these threads did compute in \
             parallel), but {} threads more than cores only add memory and switching",
            threads - cores
        )
    } else {
        String::new()
    };
    format!("{figures}; {compared}{gil}; {advice}{contention}{inline_note}")
}

/// A producer-consumer pipeline: one producer thread feeding consumer loops
/// on a pool (`Pool::consume`) through a bounded queue, as both sides
/// measured it.
#[derive(Debug, Clone)]
pub(crate) struct Pipeline {
    /// The pool that ran the consumer loops, and the run's wall time.
    pub(crate) run: ParRun,
    /// Consumer loops, one per pool thread.
    pub(crate) consumers: usize,
    /// The consumers' time in their handler, summed over them.
    pub(crate) handling: Duration,
    /// The part of `handling` that was simulated latency (a sleep).
    pub(crate) simulated: Duration,
    /// Items the producer put.
    pub(crate) puts: u64,
    /// Puts that found the queue full and waited for room.
    pub(crate) full: u64,
    /// The time those puts waited.
    pub(crate) waited: Duration,
    /// The queue's bound.
    pub(crate) bound: usize,
    /// The longest the queue was, read after each put.
    pub(crate) peak: usize,
}

/// The advisor's line for a queue pipeline: what the consumers did with
/// their time (handling items, or waiting in `get` for the producer), what
/// share of the handling was on a CPU, whether the producer had to wait
/// for room in the queue, and the pool's findings.
///
/// A consumer loop holds its pool thread for the whole run, so the pool's
/// busy time is the loops' lives: the handler's time is measured apart, and
/// the rest is time spent waiting for items.
pub(crate) fn for_pipeline(p: &Pipeline) -> String {
    let s = &p.run.stats;
    let wall = p.run.wall;
    if s.busy.is_zero() {
        return "the pool measured no busy time (was it built with timing(false)?)".into();
    }
    let handling = p.handling.min(s.busy);
    let between = s.busy.saturating_sub(handling);
    // Other processes on the cores delay every wake-up: time between items
    // is then waiting for a core as well as for the producer.
    let cores = workwise::available_cores().min(u32::MAX as usize) as u32;
    let capacity = wall.saturating_mul(cores);
    let crowded = crowded(p.run.others, capacity);
    let simulated = if p.simulated.is_zero() {
        String::new()
    } else {
        format!(
            ", {} of it simulated latency",
            human(p.simulated.min(handling))
        )
    };
    let waiting_for = if crowded.is_some() {
        "waiting for the producer or for a core"
    } else {
        "waiting for the producer"
    };
    let loops = format!(
        "{} consumer loops on {} ran {} in {} wall: {} handling items{simulated}, {} in \
         get() between items ({waiting_for})",
        p.consumers,
        model(p.run.workload),
        human(s.busy),
        human(wall),
        human(handling),
        human(between)
    );
    let cpu = if s.cpu.is_zero() {
        "; this platform does not expose thread CPU time".to_string()
    } else {
        format!(
            "; on CPU for {} ({:.1}% of the handling)",
            human(s.cpu),
            ratio(s.cpu, handling).min(1.0) * 100.0
        )
    };
    let verdict = format!(
        "{loops}{cpu}; {:.2}x over the loop; {}",
        p.run.speedup,
        said(&p.run.findings)
    );
    let producer = if p.full > 0 {
        format!(
            "the producer found the queue full (bound {}) at {} of {} puts and waited {} \
             for room: the consumers set the pace, and the bound kept at most {} items \
             waiting (the longest seen after a put: {})",
            p.bound,
            p.full,
            p.puts,
            human(p.waited),
            p.bound,
            p.peak
        )
    } else {
        let seen = format!(
            "the producer never found the queue full (bound {}, the longest seen after a \
             put: {}) in {} puts",
            p.bound, p.peak, p.puts
        );
        match (between > handling, crowded) {
            (false, _) => format!("{seen}: the consumers kept up with it"),
            (true, None) => format!(
                "{seen}, and the consumers waited longer for items than they worked: the \
                 producer set the pace, and more consumers would not help"
            ),
            (true, Some(_)) => format!(
                "{seen}, and the consumers spent longer between items than on them, with \
                 other processes on the cores: this run cannot tell a slow producer from a \
                 busy machine"
            ),
        }
    };
    let pool_wait = if !wall.is_zero() && s.queue_wait >= wall / 10 {
        format!(
            "; the loops waited {} in all from their submit to their start on a pool thread",
            human(s.queue_wait)
        )
    } else {
        String::new()
    };
    let contention = crowded.map_or_else(String::new, |o| {
        format!(
            "; other processes took {} of the cores' {} meanwhile ({:.0}%)",
            human(o),
            human(capacity),
            ratio(o, capacity) * 100.0
        )
    });
    format!("{verdict}; {producer}{pool_wait}{contention}")
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

/// CPU time used on the whole machine and by this process, to tell how much
/// of the cores other processes took during a run (Linux only).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuClocks {
    machine: Duration,
    process: Duration,
}

/// The unit of /proc's CPU times: USER_HZ, 100 per second on every Linux
/// architecture that matters here (the kernel's ABI fixes it, whatever its
/// internal tick rate).
const CLOCK_TICK: Duration = Duration::from_millis(10);

impl CpuClocks {
    /// The clocks now, where the platform exposes them.
    pub(crate) fn now() -> Option<Self> {
        // The first line of /proc/stat sums every core: user, nice, system,
        // idle, iowait, irq, softirq, steal (guest time is inside user).
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let cpu: Vec<u64> = stat
            .lines()
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .map(|f| f.parse().ok())
            .collect::<Option<_>>()?;
        let busy = [0, 1, 2, 5, 6, 7]
            .iter()
            .map(|&i| cpu.get(i).copied().unwrap_or(0))
            .sum::<u64>();
        // /proc/self/stat: utime and stime are the 14th and 15th fields, and
        // count every thread of the process, finished ones too. The 2nd
        // field, the command, is in parentheses and may hold spaces.
        let own = std::fs::read_to_string("/proc/self/stat").ok()?;
        let mut after_comm = own.rsplit_once(')')?.1.split_whitespace().skip(11);
        let utime: u64 = after_comm.next()?.parse().ok()?;
        let stime: u64 = after_comm.next()?.parse().ok()?;
        Some(CpuClocks {
            machine: CLOCK_TICK * u32::try_from(busy).ok()?,
            process: CLOCK_TICK * u32::try_from(utime + stime).ok()?,
        })
    }

    /// CPU time that other processes (and, in a virtual machine, the
    /// hypervisor) took from this machine's cores between `before` and
    /// `self`.
    pub(crate) fn others_since(self, before: Self) -> Duration {
        let machine = self.machine.saturating_sub(before.machine);
        let process = self.process.saturating_sub(before.process);
        machine.saturating_sub(process)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use workwise::advice::Code;

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

    fn finding(code: Code) -> Advice {
        Advice::new(
            code,
            "pool 't'",
            format!("{} (the summary)", code.title()),
            Vec::new(),
            format!("the fix for {code}"),
        )
    }

    #[test]
    fn findings_read_as_codes_and_sentences() {
        let found = [finding(Code::W02), finding(Code::W06)];
        assert_eq!(codes(&found), ["W02", "W06"]);
        assert_eq!(
            said(&found[..1]),
            "W02 I/O-bound work on the CPU pool (the summary); fix: the fix for W02"
        );
        assert!(said(&found).contains("; W06 the pool's size is the limit"));
        assert_eq!(said(&[]), "the advisor found nothing to fix");
        assert!(codes(&[]).is_empty());
    }

    #[test]
    fn a_pool_line_gives_its_figures_then_its_findings() {
        let s = stats(2000, 10, 1000, 60, 2);
        let line = for_pool(2, &s, Duration::from_millis(1000), &[finding(Code::W02)]);
        assert!(
            line.starts_with(
                "workers were busy 2.00 s in 1.00 s wall (2.0 at once, all 2 threads)"
            ),
            "{line}"
        );
        assert!(
            line.contains("on CPU for 10 ms (0.5% of the time they had a core)"),
            "{line}"
        );
        assert!(line.ends_with("; fix: the fix for W02"), "{line}");
        let calm = for_pool(
            6,
            &stats(2100, 20, 0, 60, 4),
            Duration::from_millis(350),
            &[],
        );
        assert!(calm.contains("4 of 6 threads started"), "{calm}");
        assert!(calm.ends_with("the advisor found nothing to fix"), "{calm}");
    }

    fn loop_figures(wall_ms: u64, cpu_ms: u64, delay_ms: u64) -> LoopFigures {
        let mut f = LoopFigures::default();
        f.wall = Duration::from_millis(wall_ms);
        f.cpu = Duration::from_millis(cpu_ms);
        f.run_delay = Duration::from_millis(delay_ms);
        f.measured = true;
        f
    }

    #[test]
    fn a_loop_line_gives_its_figures_then_its_findings() {
        let line = for_loop(&loop_figures(2000, 20, 1), &[finding(Code::W02)]);
        assert!(
            line.starts_with(
                "the loop's thread was on CPU for 20 ms of 2.00 s wall (1.0% of the time it \
                 had a core); W02 "
            ),
            "{line}"
        );
        // Kept off the cores by other threads: the share is of the rest.
        let line = for_loop(&loop_figures(102, 60, 40), &[]);
        assert!(line.contains("waited 40 ms for a core"), "{line}");
        assert!(line.contains("(96.8% of the time it had a core)"), "{line}");
        assert!(line.ends_with("nothing to fix"), "{line}");
        // A CPU clock a little ahead of the wall clock.
        let line = for_loop(&loop_figures(33, 36, 0), &[]);
        assert!(line.contains("on CPU for 33 ms of 33 ms wall"), "{line}");
        let unmeasured = LoopFigures::default();
        assert!(for_loop(&unmeasured, &[]).contains("cannot tell"));
    }

    fn par_run(
        workload: Workload,
        workers: usize,
        busy_ms: u64,
        cpu_ms: u64,
        wall_ms: u64,
        speedup: f64,
    ) -> ParRun {
        let mut s = stats(busy_ms, cpu_ms, 0, 32, workers as u64);
        s.parallel_runs = 1;
        ParRun {
            workload,
            max_workers: workers,
            stats: s,
            wall: Duration::from_millis(wall_ms),
            speedup,
            others: None,
            findings: Vec::new(),
        }
    }

    #[test]
    fn a_right_model_run_names_the_other_pool_and_no_finding() {
        let cpu = par_run(Workload::Cpu, 2, 1000, 980, 520, 1.9);
        let io = par_run(Workload::Io, 6, 3000, 990, 530, 1.88);
        let line = par_line(&cpu, Some(&io), 2);
        assert!(
            line.starts_with(
                "2 threads on 2 cores, busy 1.00 s in 520 ms wall (1.9 at once), on CPU for \
                 980 ms (98% of the time they had a core)"
            ),
            "{line}"
        );
        assert!(
            line.contains("1.90x over the loop (Pool::io, 6 threads on 2 cores: 1.88x)"),
            "{line}"
        );
        assert!(line.ends_with("the advisor found nothing to fix"), "{line}");
    }

    #[test]
    fn a_wrong_model_run_is_compared_honestly_and_carries_its_finding() {
        let cpu = par_run(Workload::Cpu, 2, 1000, 980, 520, 1.9);
        let mut io = par_run(Workload::Io, 6, 3000, 990, 530, 1.88);
        io.findings = vec![finding(Code::W01)];
        let line = par_line(&io, Some(&cpu), 2);
        assert!(
            line.contains("1.88x over the loop, no faster than Pool::cpu's 1.90x"),
            "{line}"
        );
        assert!(
            line.contains("GIL pitfall does not exist in Rust"),
            "{line}"
        );
        assert!(line.contains("4 threads more than cores"), "{line}");
        assert!(line.contains("W01 CPU-bound work on an I/O pool"), "{line}");

        let mut slower = par_run(Workload::Io, 6, 3000, 990, 700, 1.4);
        slower.findings = vec![finding(Code::W01)];
        assert!(par_line(&slower, Some(&cpu), 2).contains("1.40x over the loop, slower than"));
        let mut faster = par_run(Workload::Io, 6, 3000, 990, 450, 2.2);
        faster.findings = vec![finding(Code::W04)];
        let line = par_line(&faster, Some(&cpu), 2);
        assert!(
            line.contains("2.20x over the loop, faster than Pool::cpu's 1.90x in this run"),
            "{line}"
        );
        assert!(line.contains("W04 too many workers"), "{line}");
    }

    #[test]
    fn a_run_that_went_inline_says_so() {
        let mut run = par_run(Workload::Cpu, 2, 0, 0, 5, 0.98);
        run.stats.parallel_runs = 0;
        run.stats.inline_runs = 1;
        let line = par_line(&run, None, 2);
        assert!(line.contains("ran inline on the calling thread"), "{line}");
        assert!(line.contains("(0.98x)"), "{line}");

        let mut some = par_run(Workload::Cpu, 2, 1000, 980, 520, 1.9);
        some.stats.inline_runs = 1;
        let line = par_line(&some, None, 2);
        assert!(
            line.ends_with("1 of 2 calls ran inline, on the calling thread"),
            "{line}"
        );
    }

    #[test]
    fn other_processes_on_the_cores_are_named() {
        // 2 threads, 140 ms wall: the cores had 280 ms, others took 150 ms.
        let mut run = par_run(Workload::Cpu, 2, 260, 96, 140, 0.92);
        run.others = Some(Duration::from_millis(150));
        let line = par_line(&run, None, 2);
        assert!(
            line.contains("other processes took 150 ms of the cores' 280 ms meanwhile (54%)"),
            "{line}"
        );
        // One 10 ms tick of others' time is within /proc's resolution.
        let mut quiet = par_run(Workload::Cpu, 2, 780, 290, 400, 0.92);
        quiet.others = Some(Duration::from_millis(10));
        let line = par_line(&quiet, None, 2);
        assert!(!line.contains("other processes took"), "{line}");
        // A 21 ms run: one tick is 24% of the cores' 42 ms, but only a tick.
        let mut short = par_run(Workload::Cpu, 2, 36, 36, 21, 1.6);
        short.others = Some(Duration::from_millis(10));
        assert!(!par_line(&short, None, 2).contains("other processes took"));
    }

    fn pipeline(full: u64, handling_ms: u64, cpu_ms: u64) -> Pipeline {
        let mut run = par_run(Workload::Io, 6, 600, cpu_ms, 100, 5.5);
        run.stats.submitted = 6;
        run.stats.completed = 6;
        Pipeline {
            run,
            consumers: 6,
            handling: Duration::from_millis(handling_ms),
            simulated: Duration::from_millis(handling_ms / 2),
            puts: 500,
            full,
            waited: Duration::from_millis(90),
            bound: 64,
            peak: 64,
        }
    }

    #[test]
    fn a_pipeline_reads_the_consumers_and_the_producer() {
        let line = for_pipeline(&pipeline(436, 580, 40));
        assert!(
            line.contains("6 consumer loops on Pool::io ran 600 ms in 100 ms wall"),
            "{line}"
        );
        assert!(
            line.contains(
                "580 ms handling items, 290 ms of it simulated latency, 20 ms in get() \
                 between items (waiting for the producer)"
            ),
            "{line}"
        );
        assert!(line.contains("40 ms (6.9% of the handling)"), "{line}");
        assert!(
            line.contains("5.50x over the loop; the advisor found nothing to fix"),
            "{line}"
        );
        assert!(
            line.contains("full (bound 64) at 436 of 500 puts and waited 90 ms"),
            "{line}"
        );
        assert!(line.contains("the consumers set the pace"), "{line}");

        let starved = for_pipeline(&pipeline(0, 200, 40));
        assert!(starved.contains("never found the queue full"), "{starved}");
        assert!(starved.contains("the producer set the pace"), "{starved}");
        assert!(!starved.contains("other processes"), "{starved}");
        // With other processes on the cores, a wait between items may be a
        // wait for a core: the advisor does not blame the producer.
        let mut busy_machine = pipeline(0, 200, 40);
        busy_machine.run.others = Some(Duration::from_millis(150));
        let line = for_pipeline(&busy_machine);
        assert!(
            line.contains("(waiting for the producer or for a core)"),
            "{line}"
        );
        assert!(line.contains("cannot tell a slow producer"), "{line}");
        assert!(!line.contains("set the pace"), "{line}");
        assert!(
            line.contains("other processes took 150 ms of the cores'"),
            "{line}"
        );
        let kept_up = for_pipeline(&pipeline(0, 580, 40));
        assert!(kept_up.contains("the consumers kept up"), "{kept_up}");

        let mut computing = pipeline(436, 580, 570);
        computing.run.findings = vec![finding(Code::W01)];
        let line = for_pipeline(&computing);
        assert!(
            line.contains("; W01 CPU-bound work on an I/O pool"),
            "{line}"
        );
    }

    #[test]
    fn machine_clocks_read_here() {
        if cfg!(target_os = "linux") {
            let before = CpuClocks::now().expect("/proc/stat and /proc/self/stat");
            let after = CpuClocks::now().unwrap();
            assert!(after.others_since(before) < Duration::from_secs(60));
        }
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
