//! The guide's last row, `Simple scripts | Sequential | None`, and its "When
//! NOT to use concurrency": simple, fast operations on a small input.
//!
//! 50 items of about 2 µs of integer work each (two rounds of
//! `workwise_workloads::heavy`), two ways: a plain loop, the right model;
//! and `Pool::io`, one task per item, all submitted before any is waited
//! for, the way a script reaches for a thread pool out of habit. The pool
//! row is timed as every pool row is, from building the pool to its
//! shutdown: its threads start, each item crosses to one and its result
//! back, and the whole input's work is a fraction of that. The advisor says
//! so through `Pool::advice` (W09, concurrency that does not pay: the work
//! was less than the pool's measured cost per task times the tasks). Every
//! result must equal the loop's.

use workwise::Pool;
use workwise_workloads::heavy;

use super::{advice, timed_on_pool, Column, Items, Key, Outcome, Ran, ScenarioInfo, Size, Tour};
use super::{TourError, Unit};

/// Items the script handles, in a full run and a quick one alike: the
/// lesson is a small input.
const ITEMS: Size = Size::count("items", 50, 50);
/// The first item's seed (item `i` is `SEED + i`).
const SEED: u64 = 0x5EED_0005;

/// What the rows count.
const ITEM: Unit = Unit {
    one: "item",
    count: "items",
    rate: "items_per_s",
};

/// One item's work: about 2 µs of dependent integer operations.
fn work(item: u64) -> u64 {
    heavy(heavy(SEED + item))
}

/// The simple script scenario.
pub(crate) const INFO: ScenarioInfo = ScenarioInfo {
    name: "simple script",
    slug: "script",
    about: "the guide's `Simple scripts` row: 50 items of ~2 µs each, where a pool does not pay",
    help: "50 items of ~2 µs each, as a loop and on `Pool::io`, where the pool does not pay",
    sizes: &[ITEMS],
    models: &["sequential", "Pool::io"],
    no_speedup: &[],
    columns: &[Column {
        key: "items_per_s",
        header: "items/s",
    }],
    keys: &[
        Key::new("items", "items handled"),
        Key::new("items_per_s", "items handled right a second"),
    ],
    errors: "",
    run,
    #[cfg(target_os = "linux")]
    process_tasks: &[],
};

fn run(tour: &mut Tour) -> Result<(), TourError> {
    let items = ITEMS.items(tour.quick());
    tour.intro(&format!(
        "{items} items of about 2 µs of integer work each; the guide says sequential (no \
         concurrency for simple, fast operations or small data), and so does workwise: \
         the Pool::io row submits one task per item to show what a pool costs here"
    ))?;

    let (expected, mut ran) = tour.run_loop("script", items, |bar| {
        (0..items as u64)
            .map(|i| {
                let out = work(i);
                bar.inc(1);
                out
            })
            .collect::<Vec<u64>>()
    });
    let base = ran.wall;
    ran.advice = format!(
        "{items} items, {} of work in all: a plain loop is the model for a simple \
         script; {}",
        advice::human(base),
        ran.advice
    );
    tour.record(Items::check(ITEM, Ok(&expected), &expected).measurement(ran))?;

    let bar = tour.progress("Pool::io", items);
    let (results, run) = timed_on_pool(Pool::io().name("script"), base, |pool| {
        let handles: Vec<_> = (0..items as u64)
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
    let checked = Items::check(ITEM, results.as_deref(), &expected);
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
        1 => "yet they ran one at a time, each done before the next reached a thread".to_string(),
        n => format!("at most {n} ran at once"),
    };
    let line = format!(
        "{items} tasks on Pool::io, all submitted before any was waited for, {at_once}; \
         {pace}; {}",
        advice::for_pool(run.max_workers, &run.stats, run.wall, &run.findings)
    );
    tour.record(checked.measurement(Ran::on_pool("Pool::io", &run, line)))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::Figure;
    use super::*;

    fn ran() -> Ran {
        Ran {
            model: "Pool::io",
            workers: 6,
            wall: Duration::from_millis(1),
            advice: String::new(),
            findings: Vec::new(),
        }
    }

    #[test]
    fn results_that_differ_from_the_loop_fail_those_items() {
        let expected: Vec<u64> = (0..4).map(work).collect();
        let ok = Items::check(ITEM, Ok(&expected), &expected);
        assert_eq!(ok.failed(), 0);
        let mut got = expected.clone();
        got[2] ^= 1;
        let wrong = Items::check(ITEM, Ok(&got), &expected).measurement(ran());
        assert_eq!(wrong.failed, 1);
        assert!(wrong
            .first_failure
            .unwrap()
            .starts_with("item 2: checksum "));
        assert_eq!(Items::check(ITEM, Ok(&got[..2]), &expected).failed(), 4);
        let m = Items::check(ITEM, Err(&"boom".to_string()), &expected).measurement(ran());
        assert_eq!(m.failed, 4);
        assert!(matches!(m.figures[0], ("items", Figure::Count(4))));
        assert!(matches!(m.figures[1], ("items_per_s", Figure::Rate(r)) if r == 0.0));
    }
}
