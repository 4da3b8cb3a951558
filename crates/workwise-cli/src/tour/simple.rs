//! The guide's last row, `Simple scripts | Sequential | None`, and its "When
//! NOT to use concurrency": simple, fast operations on a small input.
//!
//! [`ITEMS`] items of about 2 µs of integer work each (two rounds of
//! `workwise_workloads::heavy`), two ways: a plain loop, the right model;
//! and `Pool::io`, one task per item, all submitted before any is waited
//! for, the way a script reaches for a thread pool out of habit. The pool
//! row is timed as every pool row is, from building the pool to its
//! shutdown: its threads start, each item crosses to one and its result
//! back, and the whole input's work is a fraction of that. The advisor says
//! so through `Pool::advice` (W09, concurrency that does not pay: the work
//! was less than the pool's measured cost per task times the tasks). Every
//! result must equal the loop's.

use std::time::{Duration, Instant};

use workwise::advice::{Advice, LoopWatch};
use workwise::Pool;
use workwise_workloads::heavy;

use super::{advice, Column, Figure, Measurement, Scenario, Tour, TourError};

/// Items the script handles, in a full run and a quick one alike: the
/// lesson is a small input.
const ITEMS: usize = 50;
/// The first item's seed (item `i` is `SEED + i`).
const SEED: u64 = 0x5EED_0005;

/// One item's work: about 2 µs of dependent integer operations.
fn work(item: u64) -> u64 {
    heavy(heavy(SEED + item))
}

/// The simple script scenario.
#[derive(Debug)]
pub(crate) struct SimpleScript;

impl Scenario for SimpleScript {
    fn name(&self) -> &'static str {
        "simple script"
    }

    fn slug(&self) -> &'static str {
        "script"
    }

    fn about(&self) -> &'static str {
        "the guide's `Simple scripts` row: 50 items of ~2 µs each, where a pool does not pay"
    }

    fn columns(&self) -> &'static [Column] {
        &[Column {
            key: "items_per_s",
            header: "items/s",
        }]
    }

    fn run(&self, tour: &mut Tour) -> Result<(), TourError> {
        tour.intro(&format!(
            "{ITEMS} items of about 2 µs of integer work each; the guide says sequential (no \
             concurrency for simple, fast operations or small data), and so does workwise: \
             the Pool::io row submits one task per item to show what a pool costs here"
        ))?;

        let bar = tour.progress("sequential", ITEMS);
        let watch = LoopWatch::start();
        let start = Instant::now();
        let expected: Vec<u64> = (0..ITEMS as u64)
            .map(|i| {
                let out = work(i);
                bar.inc(1);
                out
            })
            .collect();
        let base = start.elapsed();
        let (figures, findings) = (watch.figures(), watch.finish("script", ITEMS as u64));
        bar.finish_and_clear();
        let advice = format!(
            "{ITEMS} items, {} of work in all: a plain loop is the model for a simple \
             script; {}",
            advice::human(base),
            advice::for_loop(&figures, &findings)
        );
        let row = Row::check(Ok(&expected), &expected);
        tour.record(row.into_measurement("sequential", 1, base, advice, findings))?;

        let bar = tour.progress("Pool::io", ITEMS);
        let (results, run) = super::timed_on_pool(Pool::io().name("script"), base, |pool| {
            let handles: Vec<_> = (0..ITEMS as u64)
                .map(|i| pool.submit(move || work(i)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    let out = h.wait();
                    bar.inc(1);
                    out
                })
                .collect::<Result<Vec<u64>, _>>()
        })?;
        bar.finish_and_clear();
        let results = results.map_err(|e| e.to_string());
        let row = Row::check(results.as_deref(), &expected);
        let pace = if run.speedup < 1.0 {
            format!(
                "{} against the loop's {}: {:.1}x slower",
                advice::human(run.wall),
                advice::human(base),
                1.0 / run.speedup
            )
        } else {
            format!(
                "{} against the loop's {}: {:.2}x, no slower in this run",
                advice::human(run.wall),
                advice::human(base),
                run.speedup
            )
        };
        // Submitted all at once, yet each may finish before the next is
        // handed over: the most that ever ran at once says how much overlap
        // the pool found.
        let at_once = match run.stats.peak_running {
            1 => "yet they ran one at a time, each done before the next reached a \
                  thread"
                .to_string(),
            n => format!("at most {n} ran at once"),
        };
        let advice = format!(
            "{ITEMS} tasks on Pool::io, all submitted before any was waited for, {at_once}; \
             {pace}; {}",
            advice::for_pool(run.max_workers, &run.stats, run.wall, &run.findings)
        );
        let m = row.into_measurement("Pool::io", run.max_workers, run.wall, advice, run.findings);
        tour.record(m)
    }
}

/// One run's outcome, checked item by item against the loop's results.
#[derive(Debug, Clone)]
struct Row {
    items: usize,
    failed: u64,
    first_failure: Option<String>,
}

impl Row {
    fn check(got: Result<&[u64], &String>, expected: &[u64]) -> Self {
        let items = expected.len();
        let (failed, first_failure) = match got {
            Err(e) => (items as u64, Some(format!("a task failed: {e}"))),
            Ok(got) if got.len() != items => (
                items as u64,
                Some(format!("{} results came back, not {items}", got.len())),
            ),
            Ok(got) => {
                let mut wrong = got
                    .iter()
                    .zip(expected)
                    .enumerate()
                    .filter(|(_, (a, b))| a != b);
                let first = wrong.next().map(|(i, (got, want))| {
                    format!("item {i}: {got:016x}, the loop's {want:016x}")
                });
                let failed = first.as_ref().map_or(0, |_| 1 + wrong.count() as u64);
                (failed, first)
            }
        };
        Row {
            items,
            failed,
            first_failure,
        }
    }

    fn into_measurement(
        self,
        model: &'static str,
        workers: usize,
        wall: Duration,
        advice: String,
        findings: Vec<Advice>,
    ) -> Measurement {
        let done = (self.items as u64).saturating_sub(self.failed);
        let per_s = done as f64 / wall.as_secs_f64().max(f64::MIN_POSITIVE);
        Measurement {
            model,
            workers,
            wall,
            figures: vec![
                ("items", Figure::Count(self.items as u64)),
                ("items_per_s", Figure::Rate(per_s)),
            ],
            failed: self.failed,
            errors: None,
            first_failure: self.first_failure,
            advice,
            findings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_that_differ_from_the_loop_fail_those_items() {
        let expected: Vec<u64> = (0..4).map(work).collect();
        let ok = Row::check(Ok(&expected), &expected);
        assert_eq!((ok.items, ok.failed), (4, 0));
        let mut got = expected.clone();
        got[2] ^= 1;
        let wrong = Row::check(Ok(&got), &expected);
        assert_eq!(wrong.failed, 1);
        assert!(wrong.first_failure.unwrap().starts_with("item 2: "));
        assert_eq!(Row::check(Ok(&got[..2]), &expected).failed, 4);
        let m = Row::check(Err(&"boom".to_string()), &expected).into_measurement(
            "Pool::io",
            6,
            Duration::from_millis(1),
            String::new(),
            Vec::new(),
        );
        assert_eq!(m.failed, 4);
        assert!(matches!(m.figures[1], ("items_per_s", Figure::Rate(r)) if r == 0.0));
    }
}
