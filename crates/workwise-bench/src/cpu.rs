//! The data-parallel scenarios: `Pool::par_map` and `Pool::map_reduce`
//! against rayon and a plain sequential loop, on the shared workloads of
//! `workwise-workloads`. Row names are read by outside scripts: keep them
//! exactly.
//!
//! Every input is built once, before the row, and every side gets the same
//! one. Each pool is sized `workwise::available_cores()`, built once outside
//! the timed region and reused across rounds; each of our calls comes from a
//! single call site, so the inline-or-parallel decision is measured on the
//! first call (and every 64th) and cached for the rest.

use std::collections::HashMap;
use std::hint::black_box;

use rayon::prelude::*;
use workwise::{Pool, PoolBuildError};
use workwise_workloads::{cheap, heavy, text};

use crate::harness::{timed, timed_verify};
use crate::Bench;

/// Items per round in `cpu.par_map.cheap` (full, `--quick`).
const CHEAP_ITEMS: (u64, u64) = (10_000_000, 2_000_000);
/// Items per round in `cpu.par_map.heavy` (full, `--quick`).
const HEAVY_ITEMS: (u64, u64) = (100_000, 20_000);
/// Bytes of generated text in `cpu.map_reduce.wordcount` (full, `--quick`).
const TEXT_BYTES: (usize, usize) = (50 << 20, 10 << 20);
/// The seed of that text.
const TEXT_SEED: u64 = 42;
/// How many blocks the text is cut into.
const TEXT_BLOCKS: usize = 256;
/// Items in the input of `cpu.par_map.tiny`.
const TINY_ITEMS: u64 = 100;
/// `par_map` calls per round in `cpu.par_map.tiny`.
const TINY_CALLS: u64 = 20_000;

fn rayon_pool(n: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .expect("rayon builds a pool")
}

/// `count` for a full run, or the smaller `quick` one under `--quick` (said
/// on stderr).
fn size<T: Copy + std::fmt::Display>(
    b: &Bench,
    name: &str,
    (full, quick): (T, T),
    what: &str,
) -> T {
    if b.quick {
        b.note(&format!(
            "{name}: --quick uses {quick} {what} per round on every side (not {full})"
        ));
        quick
    } else {
        full
    }
}

/// With `--verbose`, how often our pool ran inline and in parallel so far.
fn decisions(b: &Bench, name: &str, pool: &Pool) {
    if b.rounds.verbose {
        let s = pool.stats();
        eprintln!(
            "  {name} workwise decisions so far: {} inline, {} parallel",
            s.inline_runs, s.parallel_runs
        );
    }
}

/// `Ok` when `got == want`, or where they first differ.
fn same_items(got: &[u64], want: &[u64]) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!("gave {} items, expected {}", got.len(), want.len()));
    }
    match got.iter().zip(want).position(|(g, w)| g != w) {
        None => Ok(()),
        Some(i) => Err(format!(
            "gave {} at index {i}, expected {} (results must be in input order)",
            got[i], want[i]
        )),
    }
}

/// Row 1: `map_reduce` of a cheap function over ten million items, summed.
///
/// The sum wraps: wrapping addition is associative and commutative, so every
/// side must reach the same total whatever its grouping.
pub fn par_map_cheap(b: &mut Bench) -> Result<(), PoolBuildError> {
    const NAME: &str = "cpu.par_map.cheap";
    if !["rayon", "sequential"].iter().any(|p| b.wants(NAME, p)) {
        return Ok(());
    }
    let n = b.workers;
    let count = size(b, NAME, CHEAP_ITEMS, "items");
    let v: Vec<u64> = (0..count).collect();
    let sequential = |v: &Vec<u64>| {
        black_box(v)
            .iter()
            .map(|&x| cheap(x))
            .fold(0, u64::wrapping_add)
    };
    let want = sequential(&v);
    let ours = Pool::cpu().max_workers(n).build()?;
    let run_ours = || {
        let (ours, v) = (&ours, &v);
        move || {
            timed(NAME, "workwise", count, want, || {
                ours.map_reduce(black_box(v), |&x| cheap(x), 0u64, u64::wrapping_add)
                    .expect("cheap does not panic")
            })
        }
    };

    if b.wants(NAME, "rayon") {
        let peer = rayon_pool(n);
        b.run(NAME, "rayon", b.rounds.warmup, run_ours(), || {
            timed(NAME, "rayon", count, want, || {
                peer.install(|| {
                    black_box(&v)
                        .par_iter()
                        .map(|&x| cheap(x))
                        .reduce(|| 0, u64::wrapping_add)
                })
            })
        });
    }
    if b.wants(NAME, "sequential") {
        b.run(NAME, "sequential", b.rounds.warmup, run_ours(), || {
            timed(NAME, "sequential", count, want, || sequential(&v))
        });
    }
    decisions(b, NAME, &ours);
    Ok(())
}

/// Row 2: `par_map` of a ~1 µs function, collected in input order.
pub fn par_map_heavy(b: &mut Bench) -> Result<(), PoolBuildError> {
    const NAME: &str = "cpu.par_map.heavy";
    if !["rayon", "sequential"].iter().any(|p| b.wants(NAME, p)) {
        return Ok(());
    }
    let n = b.workers;
    let count = size(b, NAME, HEAVY_ITEMS, "items");
    let v: Vec<u64> = (0..count).collect();
    let sequential = |v: &Vec<u64>| black_box(v).iter().map(|&x| heavy(x)).collect::<Vec<u64>>();
    let want = sequential(&v);
    let verify = |got: &Vec<u64>| same_items(got, &want);
    let ours = Pool::cpu().max_workers(n).build()?;
    let run_ours = || {
        let (ours, v) = (&ours, &v);
        move || {
            timed_verify(
                NAME,
                "workwise",
                count,
                || {
                    ours.par_map(black_box(v), |&x| heavy(x))
                        .expect("heavy does not panic")
                },
                verify,
            )
        }
    };

    if b.wants(NAME, "rayon") {
        let peer = rayon_pool(n);
        b.run(NAME, "rayon", b.rounds.warmup, run_ours(), || {
            timed_verify(
                NAME,
                "rayon",
                count,
                || {
                    peer.install(|| {
                        black_box(&v)
                            .par_iter()
                            .map(|&x| heavy(x))
                            .collect::<Vec<u64>>()
                    })
                },
                verify,
            )
        });
    }
    if b.wants(NAME, "sequential") {
        b.run(NAME, "sequential", b.rounds.warmup, run_ours(), || {
            timed_verify(NAME, "sequential", count, || sequential(&v), verify)
        });
    }
    decisions(b, NAME, &ours);
    Ok(())
}

type Counts<'a> = HashMap<&'a str, u64>;

/// `Ok` when `got` has the same words with the same counts as `want`.
fn same_counts(got: &Counts<'_>, want: &Counts<'_>) -> Result<(), String> {
    let (g, w) = (text::total(got), text::total(want));
    if g != w {
        return Err(format!("counted {g} words in all, expected {w}"));
    }
    if got != want {
        let wrong = want
            .iter()
            .filter(|(word, n)| got.get(*word) != Some(n))
            .count();
        return Err(format!(
            "counted {} distinct words, expected {}, with {wrong} counts differing",
            got.len(),
            want.len()
        ));
    }
    Ok(())
}

/// The sequential word count: one map per block, merged in order.
fn wordcount_sequential<'a>(blocks: &Vec<&'a str>) -> Counts<'a> {
    black_box(blocks)
        .iter()
        .map(|&b| text::count_words(b))
        .fold(HashMap::new(), text::merge)
}

/// Row 3: a word count over generated text cut into blocks, one map per
/// block, merged.
pub fn wordcount(b: &mut Bench) -> Result<(), PoolBuildError> {
    const NAME: &str = "cpu.map_reduce.wordcount";
    if !["rayon", "sequential"].iter().any(|p| b.wants(NAME, p)) {
        return Ok(());
    }
    let n = b.workers;
    let bytes = size(b, NAME, TEXT_BYTES, "bytes of text");
    let text = text::generate(bytes, TEXT_SEED);
    let blocks = text::blocks(&text, TEXT_BLOCKS);
    let units = text.len() as u64;
    let want = wordcount_sequential(&blocks);
    let verify = |got: &Counts<'_>| same_counts(got, &want);
    let ours = Pool::cpu().max_workers(n).build()?;
    let run_ours = || {
        let (ours, blocks) = (&ours, &blocks);
        move || {
            timed_verify(
                NAME,
                "workwise",
                units,
                || {
                    ours.map_reduce(
                        black_box(blocks),
                        |&b| text::count_words(b),
                        HashMap::new(),
                        text::merge,
                    )
                    .expect("count_words does not panic")
                },
                verify,
            )
        }
    };

    if b.wants(NAME, "rayon") {
        let peer = rayon_pool(n);
        b.run(NAME, "rayon", b.rounds.warmup, run_ours(), || {
            timed_verify(
                NAME,
                "rayon",
                units,
                || {
                    peer.install(|| {
                        black_box(&blocks)
                            .par_iter()
                            .map(|&b| text::count_words(b))
                            .reduce(HashMap::new, text::merge)
                    })
                },
                verify,
            )
        });
    }
    if b.wants(NAME, "sequential") {
        b.run(NAME, "sequential", b.rounds.warmup, run_ours(), || {
            timed_verify(
                NAME,
                "sequential",
                units,
                || wordcount_sequential(&blocks),
                verify,
            )
        });
    }
    decisions(b, NAME, &ours);
    Ok(())
}

/// The trivial per-item function of `cpu.par_map.tiny`.
fn tiny(x: &u64) -> u64 {
    x.wrapping_mul(3) + 1
}

/// `calls` calls of `op` on `v`; gives a fingerprint of every call's output
/// (its length plus one item, a different one each call), cheap enough not to
/// swamp the op. Every output goes through `black_box` whole, so none can be
/// skipped or computed only in part.
fn tiny_calls(v: &Vec<u64>, calls: u64, mut op: impl FnMut(&Vec<u64>) -> Vec<u64>) -> u64 {
    let mut fingerprint = 0u64;
    let mut at = 0usize;
    for _ in 0..calls {
        let out = black_box(op(black_box(v)));
        let item = out.get(at).copied().unwrap_or(u64::MAX);
        fingerprint = fingerprint
            .wrapping_add(out.len() as u64)
            .wrapping_add(item);
        at = if at + 1 < v.len() { at + 1 } else { 0 };
    }
    fingerprint
}

/// Row 4: `par_map` over 100 trivial items, called many times from one call
/// site: it should run inline, at about the cost of a plain loop.
pub fn par_map_tiny(b: &mut Bench) -> Result<(), PoolBuildError> {
    const NAME: &str = "cpu.par_map.tiny";
    if !b.wants(NAME, "sequential") {
        return Ok(());
    }
    let n = b.workers;
    let v: Vec<u64> = (0..TINY_ITEMS).collect();
    let sequential = |v: &Vec<u64>| v.iter().map(tiny).collect::<Vec<u64>>();
    let want = tiny_calls(&v, TINY_CALLS, sequential);
    let ours = Pool::cpu().max_workers(n).build()?;
    b.run(
        NAME,
        "sequential",
        b.rounds.warmup,
        || {
            timed(NAME, "workwise", TINY_CALLS, want, || {
                tiny_calls(&v, TINY_CALLS, |v| {
                    ours.par_map(v, tiny).expect("tiny does not panic")
                })
            })
        },
        || {
            timed(NAME, "sequential", TINY_CALLS, want, || {
                tiny_calls(&v, TINY_CALLS, sequential)
            })
        },
    );
    decisions(b, NAME, &ours);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_items_names_the_first_difference() {
        assert!(same_items(&[1, 2, 3], &[1, 2, 3]).is_ok());
        assert!(same_items(&[1, 2], &[1, 2, 3])
            .unwrap_err()
            .contains("2 items"));
        assert!(same_items(&[1, 5, 3], &[1, 2, 3])
            .unwrap_err()
            .contains("index 1"));
    }

    #[test]
    fn same_counts_catches_a_wrong_count() {
        let want: Counts<'_> = [("a", 2), ("b", 1)].into_iter().collect();
        assert!(same_counts(&want.clone(), &want).is_ok());
        let fewer: Counts<'_> = [("a", 1), ("b", 1)].into_iter().collect();
        assert!(same_counts(&fewer, &want).unwrap_err().contains("2 words"));
        let moved: Counts<'_> = [("a", 1), ("b", 2)].into_iter().collect();
        assert!(same_counts(&moved, &want).unwrap_err().contains("2 counts"));
    }

    #[test]
    fn tiny_fingerprint_matches_for_the_same_outputs() {
        let v: Vec<u64> = (0..TINY_ITEMS).collect();
        let seq = |v: &Vec<u64>| v.iter().map(tiny).collect::<Vec<u64>>();
        let a = tiny_calls(&v, 250, seq);
        let pool = Pool::cpu().max_workers(2).build().unwrap();
        let b = tiny_calls(&v, 250, |v| pool.par_map(v, tiny).unwrap());
        assert_eq!(a, b);
        let off_by_one = tiny_calls(&v, 250, |v| v.iter().map(|x| tiny(x) + 1).collect());
        assert_ne!(a, off_by_one);
    }
}
