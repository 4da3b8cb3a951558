//! The `pool.*` rows: `workwise::Pool` against rayon, threadpool and
//! Python's `ThreadPoolExecutor`. Row names are read by outside scripts:
//! keep them exactly.
//!
//! Every pool is sized `workwise::available_cores()` and built once, outside
//! the timed region, then reused across rounds; a peer's pool is built for
//! its comparison only.

use std::hint::black_box;
use std::sync::mpsc;

use rayon::prelude::*;
use workwise::Pool;

use crate::harness::{Bench, Outcome, Scenario};
use crate::oneshot;
use crate::python;

/// Tiny tasks per round in `pool.submit_wait`, `pool.scope` and
/// `pool.stats_cost`.
const TINY_TASKS: u64 = 100_000;
/// Tiny tasks per round for the Python peer under `--quick`.
const PYTHON_QUICK_TASKS: u64 = 20_000;
/// Round trips per round in `pool.roundtrip` (full, quick).
const ROUND_TRIPS: (u64, u64) = (20_000, 5_000);
/// Items per round in `pool.map`.
const MAP_ITEMS: u64 = 1_000_000;

/// The tiny task: too small to be worth a thread, so its cost is the pool's.
fn tiny(i: u64) -> u64 {
    i.wrapping_mul(3)
}

/// The sum of `tiny(i)` for `i` in `0..count`.
fn tiny_sum(count: u64) -> u64 {
    (0..count).map(tiny).fold(0, u64::wrapping_add)
}

pub(crate) fn rayon_pool(n: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .expect("rayon builds a pool")
}

/// `pool.submit_wait`: submit `count` tiny tasks, keep the handles, then wait
/// for each and sum.
fn ours_submit_wait(pool: &Pool, count: u64) -> u64 {
    let handles: Vec<_> = (0..count).map(|i| pool.submit(move || tiny(i))).collect();
    handles
        .into_iter()
        .map(|h| h.wait().expect("a tiny task gives a value"))
        .fold(0, u64::wrapping_add)
}

fn rayon_submit_wait(pool: &rayon::ThreadPool, count: u64) -> u64 {
    let (tx, rx) = mpsc::channel();
    for i in 0..count {
        let tx = tx.clone();
        pool.spawn(move || {
            let _ = tx.send(tiny(i));
        });
    }
    drop(tx);
    rx.iter().fold(0, u64::wrapping_add)
}

/// `rayon::scope` with one `s.spawn` per tiny task, each writing its result
/// into its own slot of a `Vec` made in the round, then summed: the
/// `rayon-scope` peer of `pool.submit_wait` and `pool.scope`.
fn rayon_scope_sum(pool: &rayon::ThreadPool, count: u64) -> u64 {
    let mut slots = vec![0u64; count as usize];
    pool.scope(|s| {
        for (i, slot) in slots.iter_mut().enumerate() {
            s.spawn(move |_| *slot = tiny(i as u64));
        }
    });
    slots.into_iter().fold(0, u64::wrapping_add)
}

/// `Pool::scope` with one `s.submit` per tiny task (its handle dropped),
/// each writing into its own slot as in [`rayon_scope_sum`], then summed.
fn ours_scope_sum(pool: &Pool, count: u64) -> u64 {
    let mut slots = vec![0u64; count as usize];
    pool.scope(|s| {
        for (i, slot) in slots.iter_mut().enumerate() {
            s.submit(move || *slot = tiny(i as u64));
        }
    });
    slots.into_iter().fold(0, u64::wrapping_add)
}

fn threadpool_submit_wait(pool: &threadpool::ThreadPool, count: u64) -> u64 {
    let (tx, rx) = mpsc::channel();
    for i in 0..count {
        let tx = tx.clone();
        pool.execute(move || {
            let _ = tx.send(tiny(i));
        });
    }
    drop(tx);
    rx.iter().fold(0, u64::wrapping_add)
}

/// Per-task cost of submit + wait over many tiny tasks.
fn submit_wait(b: &mut Bench) -> Outcome {
    const NAME: &str = "pool.submit_wait";
    if !b.wants_any(NAME, &["rayon", "rayon-scope", "threadpool", "python"]) {
        return Ok(());
    }
    let n = b.workers;
    let count = TINY_TASKS;
    let ours = Pool::cpu().max_workers(n).build()?;
    b.row(NAME)
        .items(count)
        .want(tiny_sum(count))
        .ours(|| ours_submit_wait(&ours, count))
        .peer_on("rayon", || rayon_pool(n), |p| rayon_submit_wait(p, count))
        .peer_on(
            "rayon-scope",
            || rayon_pool(n),
            |p| rayon_scope_sum(p, count),
        )
        .peer_on(
            "threadpool",
            || threadpool::ThreadPool::new(n),
            |p| threadpool_submit_wait(p, count),
        );
    if b.wants(NAME, "python") {
        let count = if b.quick {
            b.note(&format!(
                "{NAME} vs python: --quick uses {PYTHON_QUICK_TASKS} tasks per round \
                 on both sides (ns per task stays comparable)"
            ));
            PYTHON_QUICK_TASKS
        } else {
            count
        };
        b.row(NAME)
            .items(count)
            .want(tiny_sum(count))
            .ours(|| ours_submit_wait(&ours, count))
            .peer_python("concurrent.futures", || python::round(count, n));
    }
    Ok(())
}

/// Many tiny tasks in a scope, each writing into a borrowed slot.
fn scope(b: &mut Bench) -> Outcome {
    const NAME: &str = "pool.scope";
    if !b.wants(NAME, "rayon-scope") {
        return Ok(());
    }
    let n = b.workers;
    let count = TINY_TASKS;
    let ours = Pool::cpu().max_workers(n).build()?;
    let peer = rayon_pool(n);
    b.row(NAME)
        .items(count)
        .want(tiny_sum(count))
        .ours(|| ours_scope_sum(&ours, count))
        .peer("rayon-scope", || rayon_scope_sum(&peer, count));
    Ok(())
}

/// One task at a time, submit then wait, repeated.
///
/// The peers wait as ours does, on a one-shot slot that spins before it
/// parks ([`oneshot`]), not on `std::sync::mpsc`, whose `recv` parks at once.
fn roundtrip(b: &mut Bench) -> Outcome {
    const NAME: &str = "pool.roundtrip";
    if !b.wants_any(NAME, &["rayon", "threadpool"]) {
        return Ok(());
    }
    let n = b.workers;
    let count = if b.quick {
        ROUND_TRIPS.1
    } else {
        ROUND_TRIPS.0
    };
    let ours = Pool::cpu().max_workers(n).build()?;
    b.row(NAME)
        .items(count)
        .want(tiny_sum(count))
        .ours(|| {
            (0..count)
                .map(|i| {
                    ours.submit(move || tiny(i))
                        .wait()
                        .expect("a tiny task gives a value")
                })
                .fold(0, u64::wrapping_add)
        })
        .peer_on(
            "rayon",
            || rayon_pool(n),
            |peer| {
                (0..count)
                    .map(|i| {
                        let (tx, rx) = oneshot::channel();
                        peer.spawn(move || tx.send(tiny(i)));
                        rx.recv()
                    })
                    .fold(0, u64::wrapping_add)
            },
        )
        .peer_on(
            "threadpool",
            || threadpool::ThreadPool::new(n),
            |peer| {
                (0..count)
                    .map(|i| {
                        let (tx, rx) = oneshot::channel();
                        peer.execute(move || tx.send(tiny(i)));
                        rx.recv()
                    })
                    .fold(0, u64::wrapping_add)
            },
        );
    Ok(())
}

/// The per-item function of `pool.map`: a multiplicative hash.
fn mix(x: u64) -> u64 {
    x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 7
}

/// A lazy ordered parallel map over a million cheap items.
///
/// The sums wrap (`u64::wrapping_add`): a plain `sum::<u64>()` of these
/// values overflows, which panics in a debug build. Wrapping addition is
/// associative and commutative, so every side must reach the same total.
fn map(b: &mut Bench) -> Outcome {
    const NAME: &str = "pool.map";
    if !b.wants_any(NAME, &["rayon", "sequential"]) {
        return Ok(());
    }
    let n = b.workers;
    let count = MAP_ITEMS;
    let sequential = || (0..black_box(count)).map(mix).fold(0, u64::wrapping_add);
    let ours = Pool::cpu().max_workers(n).build()?;
    b.row(NAME)
        .items(count)
        .want(sequential())
        .ours(|| {
            ours.map(0..count, mix)
                .map(|r| r.expect("mix does not panic"))
                .fold(0, u64::wrapping_add)
        })
        .peer_on(
            "rayon",
            || rayon_pool(n),
            |peer| {
                peer.install(|| {
                    (0..count)
                        .into_par_iter()
                        .map(mix)
                        .reduce(|| 0, u64::wrapping_add)
                })
            },
        )
        .peer("sequential", sequential);
    Ok(())
}

/// What per-task timing (`.timing(true)`, the default) costs on the
/// submit_wait workload: ours is the timed pool.
fn stats_cost(b: &mut Bench) -> Outcome {
    const NAME: &str = "pool.stats_cost";
    if !b.wants(NAME, "timing_off") {
        return Ok(());
    }
    let n = b.workers;
    let count = TINY_TASKS;
    let on = Pool::cpu().max_workers(n).timing(true).build()?;
    let off = Pool::cpu().max_workers(n).timing(false).build()?;
    b.row(NAME)
        .items(count)
        .want(tiny_sum(count))
        .ours(|| ours_submit_wait(&on, count))
        .peer("timing_off", || ours_submit_wait(&off, count));
    Ok(())
}

/// The submit_wait workload taking the pool's three chaos points (submit,
/// dequeue, completion) a second time per task, through the very call the
/// pool makes (`testing::chaos_point(None, ..)`).
fn chaos_points_twice(pool: &Pool, count: u64) -> u64 {
    use workwise::testing::{chaos_point, ChaosPoint};
    let handles: Vec<_> = (0..count)
        .map(|i| {
            chaos_point(black_box(None), ChaosPoint::Submit);
            pool.submit(move || {
                chaos_point(black_box(None), ChaosPoint::Dequeue);
                let v = tiny(i);
                chaos_point(black_box(None), ChaosPoint::Complete);
                v
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.wait().expect("a tiny task gives a value"))
        .fold(0, u64::wrapping_add)
}

/// What chaos mode costs when it is off (the default). Each task round trip
/// takes the pool's three chaos points once; ours takes them twice
/// ([`chaos_points_twice`]), `hooks_once` is the plain pool. The ratio less
/// one is what the off hooks cost against a task round trip.
fn chaos_off_cost(b: &mut Bench) -> Outcome {
    const NAME: &str = "pool.chaos_off_cost";
    if !b.wants(NAME, "hooks_once") {
        return Ok(());
    }
    let n = b.workers;
    let count = TINY_TASKS;
    let pool = Pool::cpu().max_workers(n).build()?;
    b.row(NAME)
        .items(count)
        .want(tiny_sum(count))
        .ours(|| chaos_points_twice(&pool, count))
        .peer("hooks_once", || ours_submit_wait(&pool, count));
    Ok(())
}

/// The rows of this file, in the order they run.
pub const ROWS: &[Scenario] = &[
    submit_wait,
    scope,
    roundtrip,
    map,
    stats_cost,
    chaos_off_cost,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_many_task_side_sums_every_task() {
        let count = 5_000;
        let want = tiny_sum(count);
        let ours = Pool::cpu().max_workers(2).build().unwrap();
        let rayon = rayon_pool(2);
        let threadpool = threadpool::ThreadPool::new(2);
        assert_eq!(ours_submit_wait(&ours, count), want);
        assert_eq!(ours_scope_sum(&ours, count), want);
        assert_eq!(chaos_points_twice(&ours, count), want);
        assert_eq!(rayon_submit_wait(&rayon, count), want);
        assert_eq!(rayon_scope_sum(&rayon, count), want);
        assert_eq!(threadpool_submit_wait(&threadpool, count), want);
    }
}
