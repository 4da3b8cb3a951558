//! The `aio.*` rows: `workwise::aio` against tokio's own primitives,
//! `futures`' `buffer_unordered` and Python's asyncio.
//!
//! Every side runs on one multi-thread tokio runtime per row with
//! `workwise::available_cores()` workers and the timer enabled, built
//! outside the timed region; a round is one `block_on`.

use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use workwise::aio::{self, BlockingDetector, TaskGroup};
use workwise::PoolBuildError;

use crate::harness::timed;
use crate::Bench;

/// Futures per round in `aio.gather_limited` (full, `--quick`).
const GATHER_FUTURES: (u64, u64) = (100_000, 20_000);
/// How many of them may be in flight at once.
const GATHER_LIMIT: usize = 1_000;
/// What each of them awaits.
const GATHER_WAIT: Duration = Duration::from_millis(1);
/// Tasks per round in `aio.spawn`.
const SPAWN_TASKS: u64 = 100_000;
/// Tasks per round in `aio.detector_cost`, and how many times each yields.
const DETECTOR_TASKS: u64 = 1_000;
const DETECTOR_YIELDS: u64 = 100;

/// The value each future or task gives.
fn value(i: u64) -> u64 {
    i.wrapping_mul(3)
}

/// The sum of `value(i)` for `i` in `0..count`.
fn value_sum(count: u64) -> u64 {
    (0..count).map(value).fold(0, u64::wrapping_add)
}

/// One future of `aio.gather_limited`: waits, then gives its value.
async fn wait_then_value(i: u64) -> u64 {
    tokio::time::sleep(GATHER_WAIT).await;
    value(i)
}

fn runtime(workers: usize) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_time()
        .build()
        .expect("tokio builds a runtime")
}

/// Ours: `aio::gather_limited` over a lazy iterator, outputs in input
/// order, summed.
async fn ours_gather_limited(count: u64) -> u64 {
    let mut s = aio::gather_limited((0..count).map(wait_then_value), GATHER_LIMIT)
        .expect("the limit is above 0");
    let mut sum = 0u64;
    while let Some(v) = s.next().await {
        sum = sum.wrapping_add(v);
    }
    sum
}

/// `futures`: `stream::iter(..).map(..).buffer_unordered(limit)`, summed.
async fn buffer_unordered(count: u64) -> u64 {
    stream::iter(0..count)
        .map(wait_then_value)
        .buffer_unordered(GATHER_LIMIT)
        .fold(0u64, |a, v| async move { a.wrapping_add(v) })
        .await
}

/// tokio: a `JoinSet` with every future spawned as a task, each holding a
/// `Semaphore` permit while it waits, summed as they finish.
async fn joinset(count: u64) -> u64 {
    let sem = Arc::new(Semaphore::new(GATHER_LIMIT));
    let mut set = JoinSet::new();
    for i in 0..count {
        let sem = sem.clone();
        set.spawn(async move {
            let _permit = sem.acquire_owned().await.expect("never closed");
            wait_then_value(i).await
        });
    }
    let mut sum = 0u64;
    while let Some(r) = set.join_next().await {
        sum = sum.wrapping_add(r.expect("the task does not panic"));
    }
    sum
}

/// `aio.gather_limited`: 100,000 futures each awaiting 1 ms, at most 1,000
/// in flight.
pub fn gather_limited(b: &mut Bench) -> Result<(), PoolBuildError> {
    const NAME: &str = "aio.gather_limited";
    let peers = ["buffer_unordered", "joinset", "python"];
    if !peers.iter().any(|p| b.wants(NAME, p)) {
        return Ok(());
    }
    let count = if b.quick {
        b.note(&format!(
            "{NAME}: --quick uses {} futures per round on every side (ns per future stays comparable)",
            GATHER_FUTURES.1
        ));
        GATHER_FUTURES.1
    } else {
        GATHER_FUTURES.0
    };
    let want = value_sum(count);
    let rt = runtime(b.workers);
    let ours = || {
        timed(NAME, "workwise", count, want, || {
            rt.block_on(ours_gather_limited(count))
        })
    };
    if b.wants(NAME, "buffer_unordered") {
        b.run(NAME, "buffer_unordered", b.rounds.warmup, ours, || {
            timed(NAME, "buffer_unordered", count, want, || {
                rt.block_on(buffer_unordered(count))
            })
        });
    }
    if b.wants(NAME, "joinset") {
        b.run(NAME, "joinset", b.rounds.warmup, ours, || {
            timed(NAME, "joinset", count, want, || rt.block_on(joinset(count)))
        });
    }
    if b.wants(NAME, "python") {
        match crate::python::available("asyncio") {
            Err(why) => b.note(&format!("{NAME} vs python skipped: {why}")),
            Ok(()) => {
                // Each Python round is its own process: one warm-up is enough.
                b.run(NAME, "python", 1, ours, || {
                    let args = [count.to_string(), GATHER_LIMIT.to_string(), "1".to_owned()];
                    crate::python::one_round(NAME, ASYNCIO_SCRIPT, &args, want)
                });
            }
        }
    }
    Ok(())
}

/// `count` coroutines, each awaiting `asyncio.sleep(0.001)` while holding
/// an `asyncio.Semaphore(limit)`, through `asyncio.gather`, for `rounds`
/// rounds; prints one line per round: `<ns per coroutine> <sum of results>`.
const ASYNCIO_SCRIPT: &str = r#"
import sys, time, asyncio

async def main():
    count, limit, rounds = (int(a) for a in sys.argv[1:4])
    sem = asyncio.Semaphore(limit)

    async def task(i):
        async with sem:
            await asyncio.sleep(0.001)
            return i * 3

    await asyncio.gather(*(task(i) for i in range(min(count, 2000))))
    for _ in range(rounds):
        t0 = time.perf_counter_ns()
        results = await asyncio.gather(*(task(i) for i in range(count)))
        dt = time.perf_counter_ns() - t0
        print(dt / count, sum(results) % (1 << 64), flush=True)

asyncio.run(main())
"#;

/// `aio.spawn`: per-task cost of `TaskGroup::spawn` + `join_all` against
/// `tokio::spawn` + awaiting each `JoinHandle`.
pub fn spawn(b: &mut Bench) -> Result<(), PoolBuildError> {
    const NAME: &str = "aio.spawn";
    if !b.wants(NAME, "tokio") {
        return Ok(());
    }
    let count = SPAWN_TASKS;
    let want = value_sum(count);
    let rt = runtime(b.workers);
    b.run(
        NAME,
        "tokio",
        b.rounds.warmup,
        || {
            timed(NAME, "workwise", count, want, || {
                rt.block_on(async {
                    let mut group = TaskGroup::new();
                    for i in 0..count {
                        group.spawn(async move { value(i) });
                    }
                    group
                        .join_all()
                        .await
                        .into_iter()
                        .map(|r| r.expect("a tiny task gives a value"))
                        .fold(0, u64::wrapping_add)
                })
            })
        },
        || {
            timed(NAME, "tokio", count, want, || {
                rt.block_on(async {
                    let handles: Vec<_> = (0..count)
                        .map(|i| tokio::spawn(async move { value(i) }))
                        .collect();
                    let mut sum = 0u64;
                    for h in handles {
                        sum = sum.wrapping_add(h.await.expect("a tiny task gives a value"));
                    }
                    sum
                })
            })
        },
    );
    Ok(())
}

/// One task of `aio.detector_cost`: yields `DETECTOR_YIELDS` times (one
/// poll each), then gives its value.
async fn yielder(i: u64) -> u64 {
    for _ in 0..DETECTOR_YIELDS {
        tokio::task::yield_now().await;
    }
    value(i)
}

/// `aio.detector_cost`: per-poll cost of tasks in a group watched by a
/// `BlockingDetector` against the same group without one (`off`).
pub fn detector_cost(b: &mut Bench) -> Result<(), PoolBuildError> {
    const NAME: &str = "aio.detector_cost";
    if !b.wants(NAME, "off") {
        return Ok(());
    }
    let polls = DETECTOR_TASKS * (DETECTOR_YIELDS + 1);
    let want = value_sum(DETECTOR_TASKS);
    let rt = runtime(b.workers);
    let detector = BlockingDetector::new();
    let run = |d: Option<&BlockingDetector>| {
        rt.block_on(async {
            let mut group = TaskGroup::new();
            if let Some(d) = d {
                group = group.detector(d);
            }
            for i in 0..DETECTOR_TASKS {
                group.spawn(yielder(i));
            }
            group
                .join_all()
                .await
                .into_iter()
                .map(|r| r.expect("a task gives a value"))
                .fold(0, u64::wrapping_add)
        })
    };
    b.run(
        NAME,
        "off",
        b.rounds.warmup,
        || timed(NAME, "workwise", polls, want, || run(Some(&detector))),
        || timed(NAME, "off", polls, want, || run(None)),
    );
    let blocked = detector.blocked_polls();
    if blocked > 0 {
        b.note(&format!(
            "{NAME}: the detector saw {blocked} polls over its threshold (this machine preempted a thread)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_aio_side_sums_every_value() {
        let rt = runtime(2);
        let count = 3_000;
        let want = value_sum(count);
        assert_eq!(rt.block_on(ours_gather_limited(count)), want);
        assert_eq!(rt.block_on(buffer_unordered(count)), want);
        assert_eq!(rt.block_on(joinset(count)), want);
    }
}
