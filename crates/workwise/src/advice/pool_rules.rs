//! The rules over a thread pool's figures: W01, W02, W04, W05, W06, W08,
//! W09 and W10.
//!
//! Each threshold is a ratio of measured figures (CPU share of busy time,
//! queue wait against task time, task time against the pool's own cost per
//! task), with a floor on how much was seen before a rule may speak, so that
//! a handful of tasks never triggers anything.

use std::time::Duration;

use super::{Advice, Code, Figure};
use crate::pool::PoolStats;
use crate::workload::Workload;

/// Tasks a pool must have run before the model rules (W01, W02, W04) speak.
const MODEL_MIN_TASKS: u64 = 16;
/// Busy time a pool must have had before the model rules speak: below it,
/// the CPU clock's granularity blurs the share.
const MODEL_MIN_BUSY: Duration = Duration::from_millis(20);
/// Above this share of their busy time (with a core) on a CPU, tasks compute.
const COMPUTING_ABOVE: f64 = 0.7;
/// Below this share, tasks mostly wait.
const WAITING_BELOW: f64 = 0.3;
/// W04: computing threads running at once above this many times the cores.
const OVERSUBSCRIBED_TIMES: u64 = 2;
/// W04: workers configured this many times above the most that ever ran.
const IDLE_CAPACITY_TIMES: usize = 8;
/// W04: ... and at least this many configured.
const IDLE_CAPACITY_MIN: usize = 64;
/// W05: tasks seen before the rule speaks, and how many times the pool's
/// cost per task the median task must reach.
const TINY_MIN_TASKS: u64 = 64;
const TINY_TIMES_COST: u32 = 10;
/// W05: the most a task round trip is taken to cost. A cold one (a worker
/// woken from its sleep) is 30-60 µs on these VMs; a probe that took longer
/// was preempted on a busy machine, and would make real work look tiny.
const MAX_TASK_COST: Duration = Duration::from_micros(100);
/// W09: tasks seen before the rule speaks.
const SERIAL_MIN_TASKS: u64 = 8;
/// W09: a whole run's work under this is too small to be worth a pool: it
/// could save less than this, and each task pays a hand-off.
const SMALL_RUN: Duration = Duration::from_millis(1);
/// W10: a task running this many times the tail of the finished ones...
const HANG_TIMES_P99: u32 = 20;
/// ...and at least this long, is suspected of hanging.
const HANG_AT_LEAST: Duration = Duration::from_secs(1);
/// W10 with fewer than `HANG_MIN_TASKS` finished to compare with.
const HANG_MIN_TASKS: u64 = 10;
const HANG_ALONE: Duration = Duration::from_secs(30);

/// What the rules know of a pool besides its statistics.
#[derive(Debug, Clone)]
pub(crate) struct PoolFacts<'a> {
    pub(crate) name: &'a str,
    pub(crate) workload: Workload,
    pub(crate) max_workers: usize,
    pub(crate) cores: usize,
    /// The pool runs a policy's attempts, as its callers call: the use
    /// rules (W05, W06, W09) do not apply.
    pub(crate) serves_calls: bool,
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Every finding over a pool's statistics.
pub(crate) fn check(facts: &PoolFacts<'_>, s: &PoolStats) -> Vec<Advice> {
    let source = format!("pool '{}'", facts.name);
    let ran = s.completed + s.panicked;
    let mut out = Vec::new();
    let share = s.cpu_share();
    let enough = ran >= MODEL_MIN_TASKS && s.busy >= MODEL_MIN_BUSY;
    let share_figs = |share: f64| {
        vec![
            Figure::new("cpu_share", share, ""),
            Figure::new("tasks", ran as f64, ""),
            Figure::new("busy", ms(s.busy), "ms"),
            Figure::new("cpu", ms(s.cpu), "ms"),
            Figure::new("sampled_run_delay", ms(s.sampled_run_delay), "ms"),
        ]
    };

    if let (true, Some(share)) = (enough, share) {
        let cores = facts.cores as u64;
        // W01: the I/O pool's threads computed nearly all the time they had a core.
        if facts.workload == Workload::Io && share > COMPUTING_ABOVE {
            out.push(Advice::new(
                Code::W01,
                &source,
                format!(
                    "CPU-bound work on an I/O pool: its tasks were on a CPU {:.0}% of the \
                     time they had a core",
                    share * 100.0
                ),
                share_figs(share),
                format!(
                    "run it on Pool::cpu() (one thread per core, {} here) or with par_map; \
                     keep Pool::io() for tasks that wait",
                    facts.cores
                ),
            ));
        }
        // W02: the CPU pool's threads mostly waited while holding a core's only thread.
        if facts.workload == Workload::Cpu && share < WAITING_BELOW {
            out.push(Advice::new(
                Code::W02,
                &source,
                format!(
                    "I/O-bound work on the CPU pool: its tasks were on a CPU only {:.0}% of \
                     their busy time, so its {} threads sat waiting while the cores idled",
                    share * 100.0,
                    facts.max_workers
                ),
                share_figs(share),
                "run waiting tasks on Pool::io(), whose threads outnumber the cores".to_string(),
            ));
        }
        // W04 (a): computing threads running at once far above the cores.
        if share > COMPUTING_ABOVE && s.peak_running > OVERSUBSCRIBED_TIMES * cores {
            let mut figs = share_figs(share);
            figs.push(Figure::new("peak_running", s.peak_running as f64, ""));
            figs.push(Figure::new("cores", cores as f64, ""));
            out.push(Advice::new(
                Code::W04,
                &source,
                format!(
                    "too many workers: {} computing tasks ran at once on {} cores, which only \
                     makes them take turns",
                    s.peak_running, cores
                ),
                figs,
                format!("cap CPU-bound work at the cores: Pool::cpu() has {cores} threads"),
            ));
        }
    }
    // W04 (b): a pool sized far above anything the work used.
    if ran >= TINY_MIN_TASKS
        && facts.max_workers >= IDLE_CAPACITY_MIN
        && facts.max_workers >= IDLE_CAPACITY_TIMES * (s.peak_running.max(1) as usize)
    {
        out.push(Advice::new(
            Code::W04,
            &source,
            format!(
                "too many workers: {} configured, at most {} ran at once",
                facts.max_workers, s.peak_running
            ),
            vec![
                Figure::new("max_workers", facts.max_workers as f64, ""),
                Figure::new("peak_running", s.peak_running as f64, ""),
                Figure::new("tasks", ran as f64, ""),
            ],
            format!(
                "size the pool to what the work uses (max_workers({}))",
                (s.peak_running.max(1) * 2).min(facts.max_workers as u64)
            ),
        ));
    }

    let median = s.task_times.median();
    // W05: tasks smaller than ten times what the pool costs per task.
    let use_rules = !facts.serves_calls;
    if let (true, Some(cost), Some(median)) = (use_rules, s.task_cost, median) {
        let cost = cost.min(MAX_TASK_COST);
        if ran >= TINY_MIN_TASKS && median < cost * TINY_TIMES_COST {
            let per_batch = (cost * TINY_TIMES_COST).as_nanos() / median.as_nanos().max(1);
            out.push(Advice::new(
                Code::W05,
                &source,
                format!(
                    "tiny tasks: the median task took {:.1} µs, the pool costs {:.1} µs per \
                     task",
                    us(median),
                    us(cost)
                ),
                vec![
                    Figure::new("median_task", us(median), "µs"),
                    Figure::new("task_cost", us(cost), "µs"),
                    Figure::new("tasks", ran as f64, ""),
                ],
                format!(
                    "batch about {} items per task, or use par_map, which sizes its chunks \
                     by measured cost",
                    per_batch.max(2)
                ),
            ));
        }
    }

    // W06: every worker busy, tasks queued behind them, and the work waits.
    if let (true, Some(share), Some(median)) = (enough && use_rules, share, median) {
        let waited_each = s.queue_wait / (ran.min(u32::MAX as u64) as u32).max(1);
        if facts.workload == Workload::Io
            && s.peak_running as usize >= facts.max_workers
            && share < WAITING_BELOW
            && waited_each >= median
        {
            // Little's law: to run the queue's wait away, the pool needs as
            // many workers as tasks were in flight (running plus queued).
            let in_flight = (s.busy + s.queue_wait).as_secs_f64() / s.busy.as_secs_f64();
            let by_queue = (facts.max_workers as f64 * in_flight).ceil() as usize;
            let by_cores = (facts.cores as f64 / share.max(0.01)).floor() as usize;
            let suggest = by_queue
                .min(by_cores)
                .clamp(facts.max_workers + 1, crate::MAX_THREADS);
            out.push(Advice::new(
                Code::W06,
                &source,
                format!(
                    "the pool's size is the limit: all {} workers were busy and each task \
                     waited {:.1} ms in the queue, while their threads were on a CPU {:.0}% \
                     of the time",
                    facts.max_workers,
                    ms(waited_each),
                    share * 100.0
                ),
                vec![
                    Figure::new("max_workers", facts.max_workers as f64, ""),
                    Figure::new("mean_queue_wait", ms(waited_each), "ms"),
                    Figure::new("median_task", ms(median), "ms"),
                    Figure::new("cpu_share", share, ""),
                ],
                format!("raise it: max_workers({suggest})"),
            ));
        }
    }

    // W08: panics nobody read.
    if s.lost_panics > 0 {
        out.push(Advice::new(
            Code::W08,
            &source,
            format!(
                "lost errors: {} task{} panicked and {} handle{} dropped without being read",
                s.lost_panics,
                if s.lost_panics == 1 { "" } else { "s" },
                if s.lost_panics == 1 { "its" } else { "their" },
                if s.lost_panics == 1 { " was" } else { "s were" },
            ),
            vec![
                Figure::new("lost_panics", s.lost_panics as f64, ""),
                Figure::new("panicked", s.panicked as f64, ""),
            ],
            "keep every handle and read it (wait, as_completed), or catch the error inside \
             the task and log it",
        ));
    }

    // W09: concurrency that does not pay.
    if !use_rules {
        // A policy's pool: its callers' pattern, not the pool's use.
    } else if ran >= SERIAL_MIN_TASKS && facts.max_workers > 1 && s.peak_running == 1 {
        out.push(Advice::new(
            Code::W09,
            &source,
            format!(
                "concurrency that does not pay: {ran} tasks never ran two at a time (each \
                 finished before the next one started), so the pool only added its cost"
            ),
            vec![
                Figure::new("tasks", ran as f64, ""),
                Figure::new("peak_running", 1.0, ""),
                Figure::new("max_workers", facts.max_workers as f64, ""),
            ],
            "submit them all before waiting (or use map / par_map); if each needs the one \
             before, run them in a plain loop",
        ));
    } else if ran >= SERIAL_MIN_TASKS && s.busy < SMALL_RUN {
        // The whole run's work fits in a millisecond: spread over any
        // number of threads it could save less than that, while each task
        // pays a hand-off and, on an idle pool, a wake-up.
        let mut figs = vec![
            Figure::new("tasks", ran as f64, ""),
            Figure::new("busy", us(s.busy), "µs"),
        ];
        if let Some(cost) = s.task_cost {
            figs.push(Figure::new("task_cost", us(cost), "µs"));
        }
        out.push(Advice::new(
            Code::W09,
            &source,
            format!(
                "concurrency that does not pay: {ran} tasks did {:.0} µs of work in all, too \
                 little for a pool to save anything",
                us(s.busy)
            ),
            figs,
            "run them in a plain loop on the calling thread: the input is too small for a \
             pool to pay",
        ));
    }

    // W10: a task running far longer than the others, which nothing can stop.
    if let Some(age) = s.longest_running {
        let finished = s.task_times.count();
        let suspect = match s.task_times.quantile(0.99) {
            Some(p99) if finished >= HANG_MIN_TASKS => {
                age >= (p99 * HANG_TIMES_P99).max(HANG_AT_LEAST)
            }
            _ => age >= HANG_ALONE,
        };
        if suspect {
            let mut figs = vec![
                Figure::new("running_for", ms(age), "ms"),
                Figure::new("finished", finished as f64, ""),
            ];
            if let Some(p99) = s.task_times.quantile(0.99) {
                figs.push(Figure::new("p99_task", ms(p99), "ms"));
            }
            out.push(Advice::new(
                Code::W10,
                &source,
                format!(
                    "a task has been running for {:.1} s, far longer than the others: a hang \
                     is suspected, and a thread cannot be stopped from outside",
                    age.as_secs_f64()
                ),
                figs,
                "put a timeout on the call that may hang (Policy::builder().attempt_timeout), or run \
                 the work in a ProcessPool with a timeout, which can kill it",
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(workload: Workload, max_workers: usize) -> PoolFacts<'static> {
        PoolFacts {
            name: "t",
            workload,
            max_workers,
            cores: 2,
            serves_calls: false,
        }
    }

    fn stats(tasks: u64, busy_ms: u64, cpu_ms: u64) -> PoolStats {
        let mut s = PoolStats {
            completed: tasks,
            submitted: tasks,
            busy: Duration::from_millis(busy_ms),
            cpu: Duration::from_millis(cpu_ms),
            peak_running: 2,
            ..PoolStats::default()
        };
        for _ in 0..tasks {
            s.task_times
                .record(Duration::from_millis(busy_ms) / tasks as u32);
        }
        s
    }

    fn codes(a: &[Advice]) -> Vec<Code> {
        a.iter().map(|a| a.code).collect()
    }

    #[test]
    fn the_cpu_share_is_taken_over_the_time_with_a_core() {
        // Sixteen computing threads on two cores: each on a CPU an eighth of
        // its busy time, and waiting for a core the rest.
        let mut s = stats(64, 800, 100);
        s.sampled_wall = Duration::from_millis(400);
        s.sampled_cpu = Duration::from_millis(50);
        s.sampled_run_delay = Duration::from_millis(345);
        assert!(s.cpu_share().unwrap() > 0.9);
        assert_eq!(codes(&check(&facts(Workload::Io, 16), &s)), vec![Code::W01]);
        s.sampled_run_delay = Duration::ZERO;
        assert!(check(&facts(Workload::Io, 16), &s).is_empty());
    }

    #[test]
    fn too_little_seen_says_nothing() {
        assert!(check(&facts(Workload::Io, 8), &stats(10, 500, 500)).is_empty());
        assert!(check(&facts(Workload::Cpu, 2), &stats(100, 10, 0)).is_empty());
    }

    #[test]
    fn each_finding_displays_its_figures() {
        let s = stats(64, 500, 490);
        let a = check(&facts(Workload::Io, 8), &s);
        assert_eq!(codes(&a), vec![Code::W01]);
        let line = a[0].to_string();
        assert!(
            line.starts_with("W01 warning [pool 't'] CPU-bound"),
            "{line}"
        );
        assert!(line.contains("cpu_share=0.98"), "{line}");
        assert!(line.contains("fix: run it on Pool::cpu()"), "{line}");
    }
}
