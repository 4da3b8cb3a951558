//! The scenarios. Row names are read by outside scripts: keep them exactly.
//!
//! Every pool is sized `workwise::available_cores()` and built once, outside
//! the timed region, then reused across rounds.

use std::hint::black_box;
use std::sync::mpsc;

use rayon::prelude::*;
use workwise::{Pool, PoolBuildError};

use crate::harness::timed;
use crate::oneshot;
use crate::python;
use crate::Bench;

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

fn rayon_pool(n: usize) -> rayon::ThreadPool {
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

/// Row 1: per-task cost of submit + wait over many tiny tasks.
pub fn submit_wait(b: &mut Bench) -> Result<(), PoolBuildError> {
    const NAME: &str = "pool.submit_wait";
    if !["rayon", "rayon-scope", "threadpool", "python"]
        .iter()
        .any(|p| b.wants(NAME, p))
    {
        return Ok(());
    }
    let n = b.workers;
    let count = TINY_TASKS;
    let want = tiny_sum(count);
    let ours = Pool::cpu().max_workers(n).build()?;
    let run_ours = |count: u64, want: u64| {
        let ours = &ours;
        move || {
            timed(NAME, "workwise", count, want, || {
                ours_submit_wait(ours, count)
            })
        }
    };

    if b.wants(NAME, "rayon") {
        let peer = rayon_pool(n);
        b.run(
            NAME,
            "rayon",
            b.rounds.warmup,
            run_ours(count, want),
            || {
                timed(NAME, "rayon", count, want, || {
                    rayon_submit_wait(&peer, count)
                })
            },
        );
    }
    if b.wants(NAME, "rayon-scope") {
        let peer = rayon_pool(n);
        b.run(
            NAME,
            "rayon-scope",
            b.rounds.warmup,
            run_ours(count, want),
            || {
                timed(NAME, "rayon-scope", count, want, || {
                    rayon_scope_sum(&peer, count)
                })
            },
        );
    }
    if b.wants(NAME, "threadpool") {
        let peer = threadpool::ThreadPool::new(n);
        b.run(
            NAME,
            "threadpool",
            b.rounds.warmup,
            run_ours(count, want),
            || {
                timed(NAME, "threadpool", count, want, || {
                    threadpool_submit_wait(&peer, count)
                })
            },
        );
    }
    if b.wants(NAME, "python") {
        match python::available("concurrent.futures") {
            Err(why) => b.note(&format!("{NAME} vs python skipped: {why}")),
            Ok(()) => {
                let count = if b.quick {
                    b.note(&format!(
                        "{NAME} vs python: --quick uses {PYTHON_QUICK_TASKS} tasks per round \
                         on both sides (ns per task stays comparable)"
                    ));
                    PYTHON_QUICK_TASKS
                } else {
                    count
                };
                let want = tiny_sum(count);
                // Each Python round is its own process, so one warm-up is
                // enough (the script also warms its executor, untimed).
                b.run(NAME, "python", 1, run_ours(count, want), || {
                    python::round(count, n, want)
                });
            }
        }
    }
    Ok(())
}

/// Row 1b: many tiny tasks in a scope, each writing into a borrowed slot.
pub fn scope(b: &mut Bench) -> Result<(), PoolBuildError> {
    const NAME: &str = "pool.scope";
    if !b.wants(NAME, "rayon-scope") {
        return Ok(());
    }
    let n = b.workers;
    let count = TINY_TASKS;
    let want = tiny_sum(count);
    let ours = Pool::cpu().max_workers(n).build()?;
    let peer = rayon_pool(n);
    b.run(
        NAME,
        "rayon-scope",
        b.rounds.warmup,
        || {
            timed(NAME, "workwise", count, want, || {
                ours_scope_sum(&ours, count)
            })
        },
        || {
            timed(NAME, "rayon-scope", count, want, || {
                rayon_scope_sum(&peer, count)
            })
        },
    );
    Ok(())
}

/// Row 2: one task at a time, submit then wait, repeated.
///
/// The peers wait as ours does, on a one-shot slot that spins before it
/// parks ([`oneshot`]), not on `std::sync::mpsc`, whose `recv` parks at once.
pub fn roundtrip(b: &mut Bench) -> Result<(), PoolBuildError> {
    const NAME: &str = "pool.roundtrip";
    if !["rayon", "threadpool"].iter().any(|p| b.wants(NAME, p)) {
        return Ok(());
    }
    let n = b.workers;
    let count = if b.quick {
        ROUND_TRIPS.1
    } else {
        ROUND_TRIPS.0
    };
    let want = tiny_sum(count);
    let ours = Pool::cpu().max_workers(n).build()?;
    let run_ours = || {
        let ours = &ours;
        move || {
            timed(NAME, "workwise", count, want, || {
                (0..count)
                    .map(|i| {
                        ours.submit(move || tiny(i))
                            .wait()
                            .expect("a tiny task gives a value")
                    })
                    .fold(0, u64::wrapping_add)
            })
        }
    };

    if b.wants(NAME, "rayon") {
        let peer = rayon_pool(n);
        b.run(NAME, "rayon", b.rounds.warmup, run_ours(), || {
            timed(NAME, "rayon", count, want, || {
                (0..count)
                    .map(|i| {
                        let (tx, rx) = oneshot::channel();
                        peer.spawn(move || tx.send(tiny(i)));
                        rx.recv()
                    })
                    .fold(0, u64::wrapping_add)
            })
        });
    }
    if b.wants(NAME, "threadpool") {
        let peer = threadpool::ThreadPool::new(n);
        b.run(NAME, "threadpool", b.rounds.warmup, run_ours(), || {
            timed(NAME, "threadpool", count, want, || {
                (0..count)
                    .map(|i| {
                        let (tx, rx) = oneshot::channel();
                        peer.execute(move || tx.send(tiny(i)));
                        rx.recv()
                    })
                    .fold(0, u64::wrapping_add)
            })
        });
    }
    Ok(())
}

/// The per-item function of `pool.map`: a multiplicative hash.
fn mix(x: u64) -> u64 {
    x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 7
}

/// Row 3: a lazy ordered parallel map over a million cheap items.
///
/// The sums wrap (`u64::wrapping_add`): a plain `sum::<u64>()` of these
/// values overflows, which panics in a debug build. Wrapping addition is
/// associative and commutative, so every side must reach the same total.
pub fn map(b: &mut Bench) -> Result<(), PoolBuildError> {
    const NAME: &str = "pool.map";
    if !["rayon", "sequential"].iter().any(|p| b.wants(NAME, p)) {
        return Ok(());
    }
    let n = b.workers;
    let count = MAP_ITEMS;
    let sequential = || (0..black_box(count)).map(mix).fold(0, u64::wrapping_add);
    let want = sequential();
    let ours = Pool::cpu().max_workers(n).build()?;
    let run_ours = || {
        let ours = &ours;
        move || {
            timed(NAME, "workwise", count, want, || {
                ours.map(0..count, mix)
                    .map(|r| r.expect("mix does not panic"))
                    .fold(0, u64::wrapping_add)
            })
        }
    };

    if b.wants(NAME, "rayon") {
        let peer = rayon_pool(n);
        b.run(NAME, "rayon", b.rounds.warmup, run_ours(), || {
            timed(NAME, "rayon", count, want, || {
                peer.install(|| {
                    (0..count)
                        .into_par_iter()
                        .map(mix)
                        .reduce(|| 0, u64::wrapping_add)
                })
            })
        });
    }
    if b.wants(NAME, "sequential") {
        b.run(NAME, "sequential", b.rounds.warmup, run_ours(), || {
            timed(NAME, "sequential", count, want, sequential)
        });
    }
    Ok(())
}

/// Row 4: what per-task timing (`.timing(true)`, the default) costs on the
/// submit_wait workload.
pub fn stats_cost(b: &mut Bench) -> Result<(), PoolBuildError> {
    const NAME: &str = "pool.stats_cost";
    if !b.wants(NAME, "timing_off") {
        return Ok(());
    }
    let n = b.workers;
    let count = TINY_TASKS;
    let want = tiny_sum(count);
    let on = Pool::cpu().max_workers(n).timing(true).build()?;
    let off = Pool::cpu().max_workers(n).timing(false).build()?;
    b.run(
        NAME,
        "timing_off",
        b.rounds.warmup,
        || {
            timed(NAME, "timing_on", count, want, || {
                ours_submit_wait(&on, count)
            })
        },
        || {
            timed(NAME, "timing_off", count, want, || {
                ours_submit_wait(&off, count)
            })
        },
    );
    Ok(())
}

/// Row 5: what chaos mode costs when it is off (the default). Each task
/// round trip takes the pool's three chaos points (submit, dequeue,
/// completion) once; `ours` takes the very same points a second time per
/// task (inside the task, as `testing::chaos_point(None, ..)`, what the
/// pool runs), `hooks_once` is the plain pool. The ratio less one is what
/// the off hooks cost against a task round trip.
pub fn chaos_off_cost(b: &mut Bench) -> Result<(), PoolBuildError> {
    const NAME: &str = "pool.chaos_off_cost";
    if !b.wants(NAME, "hooks_once") {
        return Ok(());
    }
    let n = b.workers;
    let count = TINY_TASKS;
    let want = tiny_sum(count);
    let pool = Pool::cpu().max_workers(n).build()?;
    fn twice(pool: &Pool, count: u64) -> u64 {
        use workwise::testing::{chaos_point, ChaosPoint};
        let handles: Vec<_> = (0..count)
            .map(|i| {
                chaos_point(std::hint::black_box(None), ChaosPoint::Submit);
                pool.submit(move || {
                    chaos_point(std::hint::black_box(None), ChaosPoint::Dequeue);
                    let v = tiny(i);
                    chaos_point(std::hint::black_box(None), ChaosPoint::Complete);
                    v
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.wait().expect("a tiny task gives a value"))
            .fold(0, u64::wrapping_add)
    }
    b.run(
        NAME,
        "hooks_once",
        b.rounds.warmup,
        || timed(NAME, "hooks_twice", count, want, || twice(&pool, count)),
        || {
            timed(NAME, "hooks_once", count, want, || {
                ours_submit_wait(&pool, count)
            })
        },
    );
    Ok(())
}

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
        assert_eq!(rayon_submit_wait(&rayon, count), want);
        assert_eq!(rayon_scope_sum(&rayon, count), want);
        assert_eq!(threadpool_submit_wait(&threadpool, count), want);
    }
}
