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
/// where the platform exposes them, the thread's scheduler times over the
/// loop.
///
/// Time the thread spent runnable but waiting for a core (other threads held
/// them all) is neither computing nor waiting on I/O: the thread's CPU share
/// is of the rest of the wall time.
pub(crate) fn for_loop(wall: Duration, times: Option<ThreadTimes>) -> String {
    let Some(ThreadTimes { cpu, run_delay }) = times else {
        return format!(
            "one task at a time for {}; this platform does not expose a thread's CPU time, \
             so the advisor cannot tell waiting from computing",
            human(wall)
        );
    };
    // schedstat moves at scheduler ticks, so its CPU time can come out a
    // little over the wall time, which one thread cannot spend.
    let cpu = cpu.min(wall);
    let contended = run_delay >= wall / 10;
    let share = if contended {
        ratio(cpu, wall.saturating_sub(run_delay))
    } else {
        ratio(cpu, wall)
    }
    .min(1.0);
    let figures = if contended {
        format!(
            "the loop's thread was on CPU for {} of {} wall and waited {} for a core that \
             other threads held ({:.1}% on CPU of the rest)",
            human(cpu),
            human(wall),
            human(run_delay),
            share * 100.0
        )
    } else {
        format!(
            "the loop's thread was on CPU for {} of {} wall ({:.1}%)",
            human(cpu),
            human(wall),
            share * 100.0
        )
    };
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

/// One data-parallel run (`par_map`, `map_reduce`) of CPU-bound work on a
/// fresh pool, as the advisor compares it with the same work on another pool.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ParRun {
    /// The workload the pool was built for.
    pub(crate) workload: Workload,
    /// The pool's size.
    pub(crate) max_workers: usize,
    /// The pool's statistics, read after its shutdown.
    pub(crate) stats: PoolStats,
    /// The run's wall time, from building the pool to its shutdown.
    pub(crate) wall: Duration,
    /// The sequential row's wall time over this one's.
    pub(crate) speedup: f64,
    /// CPU time other processes took from the cores during the run, where
    /// the platform tells.
    pub(crate) others: Option<Duration>,
}

/// The advisor's line for a data-parallel run of CPU-bound work, compared
/// with `other`, the same work on the other pool, where it ran.
///
/// A pool with more threads than cores reports busy time that includes
/// waiting for a core, so the CPU share here is of the time the threads
/// could have run: their busy time, at most the cores times the wall time.
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

fn par_line(run: &ParRun, other: Option<&ParRun>, cores: usize) -> String {
    let s = &run.stats;
    let (threads, wall) = (run.max_workers, run.wall);
    let on = threads_on(threads, cores);
    let inline = s.inline_runs;
    let calls = inline + s.parallel_runs;
    if calls > 0 && inline == calls {
        return format!(
            "the call ran inline on the calling thread: {} measured the work as too small \
             to pay for its {on}, so this row is one thread's speed ({:.2}x)",
            model(run.workload),
            run.speedup
        );
    }
    let inline_note = if inline > 0 {
        format!("; {inline} of {calls} calls ran inline, on the calling thread")
    } else {
        String::new()
    };
    if s.busy.is_zero() || s.cpu.is_zero() {
        return format!(
            "{on}: {:.2}x; the pool measured no busy or CPU time (timing(false), or a \
             platform without thread CPU time), so the advisor cannot tell waiting from \
             computing{inline_note}",
            run.speedup
        );
    }
    // The CPU the threads could have had: their busy time, at most what the
    // cores gave in the wall time less what other processes took.
    let capacity = wall.saturating_mul(cores.min(u32::MAX as usize) as u32);
    let taken = run.others.map(|o| (o, ratio(o, capacity)));
    // /proc counts in ticks: a tick or two is noise, not other processes.
    let crowded = |o: Duration, part: f64| part >= 0.1 && o >= CLOCK_TICK * 3;
    let left = match taken {
        Some((o, part)) if crowded(o, part) => capacity.saturating_sub(o),
        _ => capacity,
    };
    let could_run = s.busy.min(left.max(s.cpu));
    let share = ratio(s.cpu, could_run).min(1.0);
    let figures = if s.busy > could_run {
        format!(
            "{on}, busy {} in {} wall ({:.1} at once), on CPU for {} ({:.0}% of the {} \
             the cores could give them; the rest of the busy time was waiting for a core)",
            human(s.busy),
            human(wall),
            ratio(s.busy, wall),
            human(s.cpu),
            share * 100.0,
            human(could_run)
        )
    } else {
        format!(
            "{on}, on CPU for {} of {} busy ({:.0}%) in {} wall",
            human(s.cpu),
            human(s.busy),
            share * 100.0,
            human(wall)
        )
    };
    let contention = match taken {
        Some((o, part)) if crowded(o, part) => format!(
            "; other processes took {} of the cores' {} meanwhile ({:.0}%)",
            human(o),
            human(capacity),
            part * 100.0
        ),
        _ => String::new(),
    };
    let speedup = format!("{:.2}x", run.speedup);
    let versus = other.map(|o| {
        (
            model(o.workload),
            format!("{:.2}x", o.speedup),
            threads_on(o.max_workers, cores),
            run.speedup / o.speedup,
        )
    });
    let line = match (kind(share), run.workload) {
        (Kind::Computing, Workload::Cpu) => {
            let mut line = format!(
                "{figures}: CPU-bound work on a cores-sized pool, the right model; \
                 {speedup} over the loop"
            );
            if let Some((name, theirs, their_threads, _)) = &versus {
                line.push_str(&format!(" ({name}, {their_threads}: {theirs})"));
            }
            line
        }
        (Kind::Computing, Workload::Io) if threads > cores => {
            let compared = match &versus {
                Some((name, theirs, _, r)) if *r < 0.95 => {
                    format!("{speedup}, slower than {name}'s {theirs}")
                }
                Some((name, theirs, _, r)) if *r <= 1.05 => {
                    format!("{speedup}, no faster than {name}'s {theirs}")
                }
                Some((name, theirs, _, _)) => format!(
                    "{speedup}, faster than {name}'s {theirs} in this run ({})",
                    if contention.is_empty() {
                        "more, smaller chunks can even out a slow core"
                    } else {
                        "with other processes on the cores, more threads win a larger \
                         share of them from the scheduler, at those processes' expense"
                    }
                ),
                None => speedup.clone(),
            };
            format!(
                "{figures}: CPU-bound work on a pool sized for waiting; {compared}; the \
                 guide's GIL pitfall does not exist in Rust (these threads did compute in \
                 parallel), but {} threads more than cores only add memory and switching: \
                 use Pool::cpu()",
                threads - cores
            )
        }
        (Kind::Computing, _) => {
            format!("{figures}: CPU-bound work, {speedup}; Pool::cpu() runs one thread per core")
        }
        (Kind::Waiting | Kind::Mixed, _) => {
            // Only a run long enough for three ticks to be a tenth of the
            // cores' time could have seen other processes.
            let why = match taken {
                Some((o, part)) if crowded(o, part) => "other processes held the cores",
                Some(_) if capacity >= CLOCK_TICK * 30 => {
                    "the work itself waits (I/O, locks, sleeps)"
                }
                Some(_) => {
                    "either the work waits (I/O, locks) or other processes held the cores; \
                     the run was too short to tell with /proc's 10 ms ticks"
                }
                None => "either the work waits (I/O, locks) or other processes held the cores",
            };
            return format!(
                "{figures}: {speedup}; the threads computed for only {:.0}% of the time they \
                 could run: {why}{contention}{inline_note}",
                share * 100.0
            );
        }
    };
    line + &contention + &inline_note
}

/// A producer-consumer pipeline: one producer thread feeding consumer loops
/// on a pool (`Pool::consume`) through a bounded queue, as both sides
/// measured it.
#[derive(Debug, Clone, Copy)]
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
/// share of the handling was on a CPU, and whether the producer had to wait
/// for room in the queue.
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
    let crowded = p
        .run
        .others
        .filter(|&o| ratio(o, capacity) >= 0.1 && o >= CLOCK_TICK * 3);
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
    let speedup = format!("{:.2}x over the loop", p.run.speedup);
    let verdict = if s.cpu.is_zero() {
        format!(
            "{loops}; this platform does not expose thread CPU time, so the advisor cannot \
             tell waiting from computing; {speedup}"
        )
    } else {
        let share = ratio(s.cpu, handling).min(1.0);
        let cpu = format!(
            "on CPU for {} ({:.1}% of the handling)",
            human(s.cpu),
            share * 100.0
        );
        let reading = match (kind(share), p.run.workload) {
            (Kind::Waiting, Workload::Io) => {
                "I/O-bound work on Pool::io(), the right model".to_string()
            }
            (Kind::Waiting, _) => "I/O-bound work on a pool not sized for waiting; \
                 use Pool::io()"
                .to_string(),
            (Kind::Computing, Workload::Cpu) => {
                "CPU-bound work on Pool::cpu(), the right model".to_string()
            }
            (Kind::Computing, _) => format!(
                "CPU-bound work on {} threads, {} cores; use Pool::cpu()",
                p.run.max_workers, cores
            ),
            (Kind::Mixed, _) => "mixed work; split the waiting (Pool::io()) from the \
                 computing (Pool::cpu())"
                .to_string(),
        };
        format!("{loops}; {cpu}: {reading}; {speedup}")
    };
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

/// One row of the api calls scenario as the advisor reads it: what the
/// server saw, and what became of the requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ApiRow {
    /// Requests the row made, one item each.
    pub(crate) requests: u64,
    /// Of them, those that got their item.
    pub(crate) succeeded: u64,
    /// Of them, those that finally failed.
    pub(crate) failed: u64,
    /// Calls the server took, retries included.
    pub(crate) calls: u64,
    /// Of them, those it took during its outage.
    pub(crate) outage_calls: u64,
    /// Of those, the ones it stalled before failing them.
    pub(crate) stalled: u64,
    /// The most calls the server took in any one second.
    pub(crate) peak_per_s: u64,
    /// The row's wall time.
    pub(crate) wall: Duration,
}

/// The api calls scenario's `policy` row: what it measured beyond an
/// [`ApiRow`], and the settings the advisor names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PolicyRun {
    /// The row's requests and the server's figures.
    pub(crate) row: ApiRow,
    /// Attempts the breaker rejected without calling the server.
    pub(crate) shed: u64,
    /// Times the breaker opened.
    pub(crate) opened: u64,
    /// Attempts cut at the attempt timeout.
    pub(crate) timed_out: u64,
    /// Requests that succeeded after at least one failed attempt.
    pub(crate) rescued: u64,
    /// The limiter's permits a second (a setting).
    pub(crate) rate: u32,
    /// The limiter's burst (a setting).
    pub(crate) burst: u32,
    /// The attempt timeout (a setting).
    pub(crate) timeout: Duration,
}

/// `1 call`, `2 calls`.
fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The advisor's line for the api calls scenario's `naive` row: every
/// request tried once, with no limit, breaker, timeout or retry.
pub(crate) fn for_api_naive(row: &ApiRow) -> String {
    let ApiRow {
        requests,
        failed,
        outage_calls,
        stalled,
        peak_per_s,
        ..
    } = *row;
    let mut line = if failed == 0 {
        format!("all {requests} requests succeeded")
    } else {
        format!("{failed} of {requests} requests failed")
    };
    if outage_calls == 0 {
        line.push_str("; none of them met the server's outage");
        return line;
    }
    line.push_str(&format!(
        "; the server saw {} during its outage and failed every one: with no breaker \
         the client kept calling a server that was down, and with no retry each failure \
         was final",
        plural(outage_calls, "call", "calls")
    ));
    if stalled > 0 {
        line.push_str(&format!(
            "; with no timeout, {} held {} until the server answered",
            plural(stalled, "stalled call", "stalled calls"),
            if stalled == 1 {
                "its worker"
            } else {
                "their workers"
            }
        ));
    }
    line.push_str(&format!(
        "; with no limit, the server took up to {peak_per_s} calls in one second"
    ));
    line
}

/// The advisor's line for the api calls scenario's `policy` row, beside
/// the `naive` row's figures where that row ran.
pub(crate) fn for_api_policy(run: &PolicyRun, naive: Option<&ApiRow>) -> String {
    let r = &run.row;
    let against = |figure: fn(&ApiRow) -> u64| {
        naive
            .map(|n| format!(" (naive: {})", figure(n)))
            .unwrap_or_default()
    };
    let breaker = if run.opened == 0 {
        format!(
            "the breaker never opened ({} shed)",
            plural(run.shed, "attempt", "attempts")
        )
    } else {
        format!(
            "the breaker opened {} and shed {} without calling the server",
            plural(run.opened, "time", "times"),
            plural(run.shed, "attempt", "attempts")
        )
    };
    let mut parts = vec![format!(
        "{breaker}, which saw {} during its outage{}",
        plural(r.outage_calls, "call", "calls"),
        against(|n| n.outage_calls)
    )];
    if run.timed_out > 0 {
        parts.push(format!(
            "{} cut at the {} attempt timeout instead of waiting on the server",
            plural(run.timed_out, "attempt was", "attempts were"),
            human(run.timeout)
        ));
    }
    parts.push(format!(
        "retries turned {} into successes: {} of {} requests succeeded{}",
        plural(run.rescued, "failing request", "failing requests"),
        r.succeeded,
        r.requests,
        against(|n| n.succeeded)
    ));
    if r.failed > 0 {
        parts.push(format!("{} still failed after their retries", r.failed));
    }
    if let Some(n) = naive {
        parts.push(format!(
            "it took {} to the naive row's {}, waiting out the outage and the limit",
            human(r.wall),
            human(n.wall)
        ));
    }
    parts.push(format!(
        "the limiter held calls to {}/s (the most the server took in any one second; \
         limit {}/s, burst {})",
        r.peak_per_s, run.rate, run.burst
    ));
    parts.join("; ")
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

/// A thread's scheduler times (Linux exposes them; other platforms do not).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ThreadTimes {
    /// Time on a CPU.
    pub(crate) cpu: Duration,
    /// Time runnable but waiting for a CPU, all of them taken.
    pub(crate) run_delay: Duration,
}

impl ThreadTimes {
    /// The calling thread's times so far, where the platform exposes them.
    pub(crate) fn now() -> Option<Self> {
        // schedstat: time on a CPU, time waiting on a run queue (both in ns),
        // and the number of time slices.
        let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
        let mut fields = stat.split_whitespace().map(str::parse::<u64>);
        Some(ThreadTimes {
            cpu: Duration::from_nanos(fields.next()?.ok()?),
            run_delay: Duration::from_nanos(fields.next()?.ok()?),
        })
    }

    /// The times from `before` to `self`.
    pub(crate) fn since(self, before: Self) -> Self {
        ThreadTimes {
            cpu: self.cpu.saturating_sub(before.cpu),
            run_delay: self.run_delay.saturating_sub(before.run_delay),
        }
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

    #[test]
    fn api_lines_give_the_measured_figures() {
        let naive = ApiRow {
            requests: 200,
            succeeded: 18,
            failed: 182,
            calls: 200,
            outage_calls: 181,
            stalled: 3,
            peak_per_s: 200,
            wall: Duration::from_millis(513),
        };
        let line = for_api_naive(&naive);
        assert!(line.starts_with("182 of 200 requests failed"), "{line}");
        assert!(
            line.contains("the server saw 181 calls during its outage"),
            "{line}"
        );
        assert!(
            line.contains("3 stalled calls held their workers"),
            "{line}"
        );
        assert!(line.contains("up to 200 calls in one second"), "{line}");

        let run = PolicyRun {
            row: ApiRow {
                requests: 200,
                succeeded: 196,
                failed: 4,
                calls: 240,
                outage_calls: 12,
                stalled: 3,
                peak_per_s: 171,
                wall: Duration::from_millis(2250),
            },
            shed: 57,
            opened: 3,
            timed_out: 3,
            rescued: 40,
            rate: 200,
            burst: 20,
            timeout: Duration::from_millis(250),
        };
        let line = for_api_policy(&run, Some(&naive));
        assert!(
            line.starts_with(
                "the breaker opened 3 times and shed 57 attempts without calling the server, \
                 which saw 12 calls during its outage (naive: 181)"
            ),
            "{line}"
        );
        assert!(
            line.contains("3 attempts were cut at the 250 ms attempt timeout"),
            "{line}"
        );
        assert!(
            line.contains(
                "retries turned 40 failing requests into successes: \
                 196 of 200 requests succeeded (naive: 18)"
            ),
            "{line}"
        );
        assert!(
            line.contains("4 still failed after their retries"),
            "{line}"
        );
        assert!(
            line.contains("it took 2.25 s to the naive row's 513 ms"),
            "{line}"
        );
        assert!(line.contains("held calls to 171/s"), "{line}");
        assert!(line.contains("limit 200/s, burst 20"), "{line}");

        let calm = PolicyRun {
            opened: 0,
            timed_out: 0,
            shed: 0,
            row: ApiRow {
                failed: 0,
                ..run.row
            },
            ..run
        };
        let line = for_api_policy(&calm, None);
        assert!(
            line.starts_with("the breaker never opened (0 attempts shed)"),
            "{line}"
        );
        assert!(!line.contains("naive"), "{line}");
        assert!(!line.contains("timeout"), "{line}");
        assert!(!line.contains("still failed"), "{line}");
    }

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
        let times = ThreadTimes {
            cpu: Duration::from_millis(20),
            run_delay: Duration::from_millis(1),
        };
        let line = for_loop(Duration::from_secs(2), Some(times));
        assert!(
            line.contains("on CPU for 20 ms of 2.00 s wall (1.0%)"),
            "{line}"
        );
        assert!(line.contains("Pool::io()"), "{line}");
        assert!(for_loop(Duration::from_secs(1), None).contains("cannot tell"));
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
        }
    }

    #[test]
    fn cpu_work_on_the_cpu_pool_is_the_right_model() {
        let cpu = par_run(Workload::Cpu, 2, 1000, 980, 520, 1.9);
        let io = par_run(Workload::Io, 6, 3000, 990, 530, 1.88);
        let line = par_line(&cpu, Some(&io), 2);
        assert!(line.contains("2 threads on 2 cores"), "{line}");
        assert!(line.contains("980 ms of 1.00 s busy (98%)"), "{line}");
        assert!(line.contains("the right model; 1.90x"), "{line}");
        assert!(
            line.contains("Pool::io, 6 threads on 2 cores: 1.88x"),
            "{line}"
        );
        assert!(!line.contains("inline"), "{line}");
    }

    #[test]
    fn cpu_work_on_an_oversubscribed_io_pool_is_compared_honestly() {
        let cpu = par_run(Workload::Cpu, 2, 1000, 980, 520, 1.9);
        let io = par_run(Workload::Io, 6, 3000, 990, 530, 1.88);
        let line = par_line(&io, Some(&cpu), 2);
        // Busy time beyond 2 cores x 530 ms is waiting for a core, not I/O.
        assert!(line.contains("6 threads on 2 cores, busy 3.00 s"), "{line}");
        assert!(
            line.contains("93% of the 1.06 s the cores could give"),
            "{line}"
        );
        assert!(
            line.contains("1.88x, no faster than Pool::cpu's 1.90x"),
            "{line}"
        );
        assert!(
            line.contains("GIL pitfall does not exist in Rust"),
            "{line}"
        );
        assert!(line.contains("4 threads more than cores"), "{line}");
        assert!(line.contains("use Pool::cpu()"), "{line}");

        let slower = par_run(Workload::Io, 6, 3000, 990, 700, 1.4);
        assert!(par_line(&slower, Some(&cpu), 2).contains("1.40x, slower than Pool::cpu's 1.90x"));
        let faster = par_run(Workload::Io, 6, 3000, 990, 450, 2.2);
        let line = par_line(&faster, Some(&cpu), 2);
        assert!(
            line.contains("2.20x, faster than Pool::cpu's 1.90x in this run"),
            "{line}"
        );
        assert!(line.contains("use Pool::cpu()"), "{line}");
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
        assert!(line.contains("the right model"), "{line}");
        assert!(
            line.ends_with("1 of 2 calls ran inline, on the calling thread"),
            "{line}"
        );
    }

    #[test]
    fn cpu_work_starved_of_cores_is_not_called_cpu_bound() {
        let run = par_run(Workload::Cpu, 2, 1000, 400, 520, 1.1);
        let line = par_line(&run, None, 2);
        assert!(line.contains("only 40%"), "{line}");
        assert!(!line.contains("the right model"), "{line}");
    }

    #[test]
    fn a_loop_kept_off_the_cores_is_still_cpu_bound() {
        // 60 ms on CPU, 40 ms waiting for a core, of 102 ms: it computed
        // nearly all the time it had a core.
        let times = ThreadTimes {
            cpu: Duration::from_millis(60),
            run_delay: Duration::from_millis(40),
        };
        let line = for_loop(Duration::from_millis(102), Some(times));
        assert!(line.contains("waited 40 ms for a core"), "{line}");
        assert!(line.contains("(96.8% on CPU of the rest)"), "{line}");
        assert!(line.contains("CPU-bound work"), "{line}");

        let over = ThreadTimes {
            cpu: Duration::from_millis(36),
            run_delay: Duration::ZERO,
        };
        let line = for_loop(Duration::from_millis(33), Some(over));
        assert!(
            line.contains("on CPU for 33 ms of 33 ms wall (100.0%)"),
            "{line}"
        );
    }

    #[test]
    fn other_processes_on_the_cores_are_named_not_blamed_on_the_work() {
        // 2 threads, 140 ms wall: the cores had 280 ms, others took 150 ms,
        // so 130 ms was left and the threads used 96 ms of it.
        let mut run = par_run(Workload::Cpu, 2, 260, 96, 140, 0.92);
        run.others = Some(Duration::from_millis(150));
        let line = par_line(&run, None, 2);
        assert!(
            line.contains("74% of the 130 ms the cores could give"),
            "{line}"
        );
        assert!(line.contains("the right model"), "{line}");
        assert!(
            line.contains("other processes took 150 ms of the cores' 280 ms meanwhile (54%)"),
            "{line}"
        );

        // One 10 ms tick of others' time is within /proc's resolution.
        // A 400 ms run could see other processes, and saw none.
        let mut quiet = par_run(Workload::Cpu, 2, 780, 290, 400, 0.92);
        quiet.others = Some(Duration::from_millis(10));
        let line = par_line(&quiet, None, 2);
        assert!(line.contains("only 37%"), "{line}");
        assert!(line.contains("the work itself waits"), "{line}");
        assert!(!line.contains("other processes took"), "{line}");

        // A short run that computed little cannot tell waiting from others.
        let mut brief = par_run(Workload::Io, 6, 65, 34, 25, 1.3);
        brief.others = Some(Duration::ZERO);
        let line = par_line(&brief, None, 2);
        assert!(line.contains("only 68%"), "{line}");
        assert!(line.contains("too short to tell"), "{line}");

        // A 21 ms run: one tick is 24% of the cores' 42 ms, but only a tick.
        let mut short = par_run(Workload::Cpu, 2, 36, 36, 21, 1.6);
        short.others = Some(Duration::from_millis(10));
        let line = par_line(&short, None, 2);
        assert!(line.contains("the right model"), "{line}");
        assert!(
            line.contains("on CPU for 36 ms of 36 ms busy (100%)"),
            "{line}"
        );
        assert!(!line.contains("waiting for a core"), "{line}");
        assert!(!line.contains("other processes took"), "{line}");
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
            line.contains("Pool::io(), the right model; 5.50x"),
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

        let computing = for_pipeline(&pipeline(436, 580, 570));
        assert!(computing.contains("use Pool::cpu()"), "{computing}");
    }

    #[test]
    fn machine_clocks_read_here() {
        if cfg!(target_os = "linux") {
            let before = CpuClocks::now().expect("/proc/stat and /proc/self/stat");
            let t = ThreadTimes::now().expect("/proc/thread-self/schedstat");
            let after = CpuClocks::now().unwrap();
            assert!(after.others_since(before) < Duration::from_secs(60));
            assert_eq!(t.since(t), ThreadTimes::default());
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
