//! Black-box tests of `par_map`, `par_map_results`, `map_reduce`, `for_each`
//! and their inline-or-parallel decision.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use workwise::{Pool, TaskError};

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool::cpu().build().unwrap())
}

fn f(x: &i64) -> i64 {
    x.wrapping_mul(31).wrapping_add(7) ^ (x >> 3)
}

/// Busy work of about `d`, which no optimiser removes.
fn spin(d: Duration) -> u64 {
    let start = Instant::now();
    let mut x = 0u64;
    while start.elapsed() < d {
        x = std::hint::black_box(x.wrapping_add(1));
    }
    x
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn par_map_equals_the_sequential_map(items in prop::collection::vec(any::<i64>(), 0..5000)) {
        let want: Vec<i64> = items.iter().map(f).collect();
        prop_assert_eq!(pool().par_map(&items, f).unwrap(), want.clone());
        prop_assert_eq!(pool().par_map(items.clone(), |x| f(&x)).unwrap(), want);
    }

    #[test]
    fn any_chunk_size_gives_the_same_results(
        items in prop::collection::vec(any::<i64>(), 0..3000),
        chunk in 0usize..400,
    ) {
        let want: Vec<i64> = items.iter().map(f).collect();
        let par = pool().with_chunk_size(chunk);
        prop_assert_eq!(par.par_map(&items, f).unwrap(), want.clone());
        let sum = items.iter().map(f).fold(0i64, i64::wrapping_add);
        prop_assert_eq!(par.map_reduce(&items, f, 0i64, i64::wrapping_add).unwrap(), sum);
        let count = AtomicUsize::new(0);
        par.for_each(&items, |_| { count.fetch_add(1, Ordering::Relaxed); }).unwrap();
        prop_assert_eq!(count.into_inner(), items.len());
    }

    #[test]
    fn map_reduce_equals_the_sequential_fold(items in prop::collection::vec(any::<i64>(), 0..5000)) {
        let want = items.iter().map(f).fold(0i64, i64::wrapping_add);
        prop_assert_eq!(pool().map_reduce(&items, f, 0i64, i64::wrapping_add).unwrap(), want);
        // An order-sensitive but associative reduce: concatenation.
        let strings: Vec<String> = items.iter().take(300).map(|x| (x % 10).to_string()).collect();
        let joined = pool()
            .map_reduce(&strings, |s| s.clone(), String::new(), |a, b| a + &b)
            .unwrap();
        prop_assert_eq!(joined, strings.concat());
    }
}

#[test]
fn empty_and_single_inputs() {
    let empty: Vec<u8> = Vec::new();
    assert_eq!(pool().par_map(&empty, |x| *x).unwrap(), Vec::<u8>::new());
    assert_eq!(
        pool().map_reduce(&empty, |x| *x as u32, 7, |a, b| a + b),
        Ok(7)
    );
    assert_eq!(pool().for_each(empty, |_| panic!("no items")), Ok(()));
    assert!(pool().par_map_results(Vec::<u8>::new(), |x| x).is_empty());
    assert_eq!(pool().par_map(vec![41], |x| x + 1).unwrap(), [42]);
    assert_eq!(
        pool().with_chunk_size(5).par_map(&[3], |x| x * 2).unwrap(),
        [6]
    );
}

#[test]
fn a_panicking_item_is_named_by_its_index() {
    let items: Vec<u32> = (0..10_000).collect();
    let ran = AtomicUsize::new(0);
    let err = pool()
        .with_chunk_size(100)
        .par_map(&items, |&x| {
            ran.fetch_add(1, Ordering::Relaxed);
            assert!(x != 6_543, "bad value");
            x
        })
        .unwrap_err();
    match err {
        TaskError::Panicked { message } => {
            assert!(message.starts_with("item 6543 panicked"), "{message}");
            assert!(message.contains("bad value"), "{message}");
        }
        other => panic!("unexpected {other}"),
    }
    // Only the rest of the panicking chunk (items 6544..6600) was skipped.
    assert_eq!(ran.load(Ordering::Relaxed), 10_000 - 56);

    let out = pool().par_map_results(&items, |&x| {
        assert!(x % 1000 != 999, "no");
        x
    });
    assert_eq!(out.len(), 10_000);
    for (i, r) in out.iter().enumerate() {
        if i % 1000 == 999 {
            assert!(
                matches!(r, Err(TaskError::Panicked { message }) if message.starts_with(&format!("item {i} "))),
                "{r:?}"
            );
        } else {
            assert_eq!(*r, Ok(i as u32));
        }
    }

    let err = pool()
        .map_reduce(
            &items,
            |&x| {
                if x == 17 {
                    panic!("seventeen")
                } else {
                    x as u64
                }
            },
            0,
            |a, b| a + b,
        )
        .unwrap_err();
    assert!(matches!(err, TaskError::Panicked { message } if message.starts_with("item 17 ")));

    let seen = AtomicUsize::new(0);
    let err = pool().with_chunk_size(1).for_each(&items[..100], |&x| {
        seen.fetch_add(1, Ordering::Relaxed);
        assert!(x != 50);
    });
    assert!(matches!(err, Err(TaskError::Panicked { .. })));
    assert_eq!(
        seen.load(Ordering::Relaxed),
        100,
        "every other item still ran"
    );
}

#[test]
fn a_tiny_input_of_trivial_work_runs_inline() {
    let pool = Pool::cpu().build().unwrap();
    let items: Vec<u64> = (0..10).collect();
    let call = || assert_eq!(pool.par_map(&items, |x| x * 2).unwrap()[9], 18);
    // The first calls measure; a sample slowed by preemption (this machine
    // is shared) may send a call or two to the pool, whose run then shows
    // the estimate was too high.
    for _ in 0..5 {
        call();
    }
    let first = pool.stats();
    assert!(first.inline_runs >= 3, "{first:?}");
    // From then on every call runs inline and submits nothing.
    for _ in 0..5 {
        call();
    }
    let s = pool.stats();
    assert_eq!(
        (
            s.inline_runs - first.inline_runs,
            s.parallel_runs - first.parallel_runs
        ),
        (5, 0),
        "{s:?}"
    );
    assert_eq!(s.submitted, first.submitted, "{s:?}");
}

#[test]
fn a_heavy_input_goes_parallel() {
    if workwise::available_cores() < 2 {
        return; // one core: the decision is always inline
    }
    let pool = Pool::cpu().build().unwrap();
    let items: Vec<u64> = (0..64).collect();
    let out = pool
        .par_map(&items, |&x| {
            spin(Duration::from_micros(500));
            x
        })
        .unwrap();
    assert_eq!(out, items);
    let s = pool.stats();
    assert_eq!((s.inline_runs, s.parallel_runs), (0, 1), "{s:?}");
    assert!(s.completed >= 2, "work was split into tasks: {s:?}");
}

#[test]
fn chunk_size_overrides_the_split() {
    let pool = Pool::cpu().build().unwrap();
    let items: Vec<u32> = (0..100).collect();
    let before = pool.stats().submitted;
    let out = pool.with_chunk_size(7).par_map(&items, |x| x + 1).unwrap();
    assert_eq!(out, (1..=100).collect::<Vec<_>>());
    assert_eq!(pool.stats().submitted - before, 15, "ceil(100 / 7) chunks");
    assert_eq!(pool.stats().parallel_runs, 1);
}

#[test]
fn nested_use_does_not_deadlock() {
    let pool = Arc::new(Pool::cpu().max_workers(2).build().unwrap());
    let rows: Vec<Vec<u64>> = (0..16)
        .map(|r| (0..2000).map(|c| r * c).collect())
        .collect();
    // par_map inside par_map, on the same pool, with forced chunking.
    let sums = pool
        .with_chunk_size(1)
        .par_map(&rows, |row| {
            pool.with_chunk_size(100)
                .map_reduce(row, |&x| x, 0u64, |a, b| a + b)
                .unwrap()
        })
        .unwrap();
    let want: Vec<u64> = rows.iter().map(|r| r.iter().sum()).collect();
    assert_eq!(sums, want);
    // And inside a plain task of the same pool.
    let p = pool.clone();
    let total = pool
        .submit(move || {
            let v: Vec<u64> = (0..10_000).collect();
            p.with_chunk_size(64)
                .map_reduce(&v, |&x| x, 0, |a, b| a + b)
        })
        .wait();
    assert_eq!(total, Ok(Ok(49_995_000)));
}

#[test]
fn borrowed_results_are_allowed() {
    let words = vec![String::from("alpha"), String::from("beta")];
    let firsts: Vec<&str> = pool()
        .with_chunk_size(1)
        .par_map(&words, |w| &w[..1])
        .unwrap();
    assert_eq!(firsts, ["a", "b"]);
}

/// 40 ms of busy work for a non-zero item, nothing for zero; gives the thread
/// that ran it.
fn heavy_or_nothing(x: u64) -> std::thread::ThreadId {
    if x > 0 {
        spin(Duration::from_millis(40));
    }
    std::thread::current().id()
}

fn distinct(ids: impl IntoIterator<Item = std::thread::ThreadId>) -> usize {
    ids.into_iter()
        .collect::<std::collections::HashSet<_>>()
        .len()
}

/// Runs `call` on cheap items, then (same call site) on eight heavy ones,
/// and checks that the heavy ones did not all run on one thread and that the
/// pool counted a parallel run.
fn cheap_then_heavy(call: impl Fn(&Pool, &[u64]) -> Vec<std::thread::ThreadId>) {
    let pool = Pool::cpu().max_workers(2).build().unwrap();
    // Cheap calls until one runs inline: a sample of one item that was
    // preempted can make the first look heavy, until the next resample.
    let cheap_inline = (0..200).any(|_| {
        let before = pool.stats().inline_runs;
        call(&pool, &[0; 10]);
        pool.stats().inline_runs > before
    });
    assert!(
        cheap_inline,
        "cheap calls never ran inline: {:?}",
        pool.stats()
    );
    let before = pool.stats();
    let ids = call(&pool, &[1; 8]);
    assert_eq!(ids.len(), 8);
    let after = pool.stats();
    assert!(
        distinct(ids) > 1,
        "the heavy items all ran on one thread: {after:?}"
    );
    assert_eq!(
        after.parallel_runs - before.parallel_runs,
        1,
        "handed to the pool: {after:?}"
    );
    assert!(after.completed > before.completed, "{after:?}");
}

#[test]
fn par_map_hands_heavy_items_to_the_pool_after_cheap_ones_at_the_same_site() {
    cheap_then_heavy(|pool, items| pool.par_map(items, |&x| heavy_or_nothing(x)).unwrap());
}

#[test]
fn par_map_results_hands_heavy_items_to_the_pool_after_cheap_ones_at_the_same_site() {
    cheap_then_heavy(|pool, items| {
        pool.par_map_results(items, |&x| heavy_or_nothing(x))
            .into_iter()
            .map(Result::unwrap)
            .collect()
    });
}

#[test]
fn map_reduce_hands_heavy_items_to_the_pool_after_cheap_ones_at_the_same_site() {
    cheap_then_heavy(|pool, items| {
        pool.map_reduce(
            items,
            |&x| vec![heavy_or_nothing(x)],
            Vec::new(),
            |mut a, b| {
                a.extend(b);
                a
            },
        )
        .unwrap()
    });
}

#[test]
fn for_each_hands_heavy_items_to_the_pool_after_cheap_ones_at_the_same_site() {
    cheap_then_heavy(|pool, items| {
        let ids = std::sync::Mutex::new(Vec::new());
        pool.for_each(items, |&x| ids.lock().unwrap().push(heavy_or_nothing(x)))
            .unwrap();
        ids.into_inner().unwrap()
    });
}

/// Every data-parallel entry point on `pool` over `n` items, each counting
/// the items it ran into `ran`; gives each entry point's name and whether it
/// said Closed. The first six decide inline or parallel by themselves; the
/// last four are forced parallel.
fn every_entry_point(pool: &Pool, n: u64, ran: &AtomicUsize) -> Vec<(&'static str, bool)> {
    let items: Vec<u64> = (0..n).collect();
    let f = |x: &u64| {
        ran.fetch_add(1, Ordering::Relaxed);
        *x
    };
    let closed = |r: Result<(), TaskError>| r == Err(TaskError::Closed);
    let all_closed =
        |v: Vec<Result<u64, TaskError>>| v.iter().all(|r| *r == Err(TaskError::Closed));
    let mut out = vec![
        ("par_map", closed(pool.par_map(&items, f).map(drop))),
        (
            "par_map owned",
            closed(pool.par_map(items.clone(), |x| f(&x)).map(drop)),
        ),
        (
            "par_map empty",
            closed(pool.par_map(Vec::<u64>::new(), |x| x).map(drop)),
        ),
        (
            "par_map_results",
            all_closed(pool.par_map_results(&items, f)),
        ),
        (
            "map_reduce",
            closed(pool.map_reduce(&items, f, 0, |a, b| a + b).map(drop)),
        ),
        (
            "for_each",
            closed(pool.for_each(&items, |x| {
                f(x);
            })),
        ),
    ];
    let par = pool.with_chunk_size(7);
    out.extend([
        ("chunked par_map", closed(par.par_map(&items, f).map(drop))),
        (
            "chunked par_map_results",
            all_closed(par.par_map_results(&items, f)),
        ),
        (
            "chunked map_reduce",
            closed(par.map_reduce(&items, f, 0, |a, b| a + b).map(drop)),
        ),
        (
            "chunked for_each",
            closed(par.for_each(&items, |x| {
                f(x);
            })),
        ),
    ]);
    out
}

#[test]
fn every_entry_point_refuses_work_on_a_pool_shut_down_before_first_use() {
    let pool = Pool::cpu().max_workers(2).build().unwrap();
    pool.shutdown();
    let ran = AtomicUsize::new(0);
    for n in [3, 5000] {
        for (name, closed) in every_entry_point(&pool, n, &ran) {
            assert!(closed, "{name} over {n} items did not give Closed");
        }
    }
    assert_eq!(ran.into_inner(), 0, "no item ran on the shut-down pool");
}

#[test]
fn every_entry_point_refuses_work_on_a_pool_shut_down_after_use() {
    let pool = Pool::cpu().max_workers(2).build().unwrap();
    let ran = AtomicUsize::new(0);
    // Warm every call site up on three trivial items, until the six that
    // decide for themselves run inline from their cached estimates.
    for _ in 0..3 {
        let before = pool.stats();
        for (name, closed) in every_entry_point(&pool, 3, &ran) {
            assert!(!closed, "{name} gave Closed on an open pool");
        }
        let after = pool.stats();
        assert_eq!(after.inline_runs - before.inline_runs, 6, "{after:?}");
        assert_eq!(after.parallel_runs - before.parallel_runs, 4, "{after:?}");
    }
    pool.shutdown();
    ran.store(0, Ordering::Relaxed);
    for (name, closed) in every_entry_point(&pool, 3, &ran) {
        assert!(closed, "{name} did not give Closed");
    }
    assert_eq!(ran.into_inner(), 0, "no item ran on the shut-down pool");
}

#[test]
fn every_entry_point_refuses_work_on_a_shut_down_single_worker_pool() {
    // One worker: the pool can never share the work, so no probe task is
    // ever submitted, and only the pool itself can say it was shut down.
    let pool = Pool::io().max_workers(1).build().unwrap();
    pool.shutdown();
    let ran = AtomicUsize::new(0);
    for (name, closed) in every_entry_point(&pool, 3, &ran) {
        assert!(closed, "{name} did not give Closed");
    }
    assert_eq!(ran.into_inner(), 0, "no item ran on the shut-down pool");
}

/// One call site: `n` items of 10 ms busy work when `heavy` (over any
/// plausible inline budget), nothing otherwise; gives the threads that ran
/// them.
fn trusted_site(pool: &Pool, n: usize, heavy: bool) -> Vec<std::thread::ThreadId> {
    let items = vec![u64::from(heavy); n];
    pool.par_map(&items, |&x| {
        if x > 0 {
            spin(Duration::from_millis(10));
        }
        std::thread::current().id()
    })
    .unwrap()
}

#[test]
fn a_trusted_call_site_that_turns_heavy_is_caught_within_a_spot_check_period() {
    let pool = Pool::cpu().max_workers(2).build().unwrap();
    // Enough cheap calls for the site's estimate to be trusted (unwatched).
    for _ in 0..10 {
        trusted_site(&pool, 10, false);
    }
    // Whether some item ran on a pool worker rather than the calling thread
    // (how many workers took part depends on the scheduler).
    let on_pool =
        |ids: Vec<std::thread::ThreadId>| ids.iter().any(|&t| t != std::thread::current().id());
    let caught = (0..40)
        .position(|_| on_pool(trusted_site(&pool, 4, true)))
        .expect("no heavy call ever went to the pool");
    assert!(caught < 32, "the stale estimate held for {caught} calls");
    // Two runs in a row past the budget (the spot check, or a first watched
    // run, and the one caught) replace the estimate: from the next call at
    // the latest, calls go parallel without running an item inline.
    assert!(on_pool(trusted_site(&pool, 4, true)));
    let before = pool.stats();
    let ids = trusted_site(&pool, 4, true);
    let after = pool.stats();
    assert!(!ids.contains(&std::thread::current().id()), "{after:?}");
    assert_eq!(after.parallel_runs - before.parallel_runs, 1, "{after:?}");
    assert_eq!(after.inline_runs, before.inline_runs, "{after:?}");
}

/// One call site, first given slow items, then cheap ones.
fn maybe_slow_site(pool: &Pool, items: &[u64], slow: bool) -> Vec<u64> {
    pool.par_map(items, |&x| {
        if slow {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        x * 2
    })
    .unwrap()
}

#[test]
fn a_site_whose_items_turn_cheap_goes_back_inline_after_one_parallel_run() {
    // The same shape as an estimate spoiled by one preempted sample: the
    // site's cached cost is far too high for its items now.
    let pool = Pool::cpu().max_workers(2).build().unwrap();
    let items: Vec<u64> = (0..10).collect();
    assert_eq!(maybe_slow_site(&pool, &items, true)[9], 18);
    let before = pool.stats();
    for _ in 0..5 {
        assert_eq!(maybe_slow_site(&pool, &items, false)[9], 18);
    }
    let after = pool.stats();
    let inline = after.inline_runs - before.inline_runs;
    let parallel = after.parallel_runs - before.parallel_runs;
    assert!(
        parallel <= 2 && inline >= 3,
        "cheap calls after slow ones: {inline} inline, {parallel} parallel"
    );
}

#[test]
fn every_chunk_is_counted_when_par_map_returns() {
    // Each chunk's count, time and running mark land before the chunk's
    // result is handed back, so the figures are whole the moment
    // `par_map` returns (they once trailed its last chunk).
    for round in 0..20 {
        let pool = Pool::cpu().build().unwrap();
        let items: Vec<u64> = (0..256).collect();
        let out = pool
            .par_map(&items, |&x| spin(Duration::from_micros(200)) % 2 + x)
            .unwrap();
        assert_eq!(out.len(), 256);
        let s = pool.stats();
        assert!(s.parallel_runs >= 1, "round {round}: {s:?}");
        assert_eq!(s.completed, s.task_times.count(), "round {round}: {s:?}");
        assert_eq!(s.running, 0, "round {round}: {s:?}");
        assert!(s.busy >= Duration::from_millis(20), "round {round}: {s:?}");
    }
}

/// The range's items through `par_map`, automatic and with small chunks,
/// against the sequential map.
fn check_range<T>(range: std::ops::Range<T>)
where
    std::ops::Range<T>: workwise::IntoParSource + Iterator<Item = T> + Clone,
    <std::ops::Range<T> as workwise::IntoParSource>::Source: workwise::ParSource<Item = T>,
    T: Copy + Send + Sync + PartialEq + std::fmt::Debug,
{
    let expected: Vec<(T, u8)> = range.clone().map(|x| (x, 1)).collect();
    let auto = pool().par_map(range.clone(), |x| (x, 1)).unwrap();
    assert_eq!(auto, expected);
    let chunked = pool()
        .with_chunk_size(7)
        .par_map(range.clone(), |x| (x, 1))
        .unwrap();
    assert_eq!(chunked, expected);
    let results: Vec<(T, u8)> = pool()
        .par_map_results(range, |x| (x, 1))
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(results, expected);
}

#[test]
fn par_map_over_ranges_equals_the_sequential_map() {
    check_range(0..0usize);
    // A reversed range is empty, as for a sequential iterator.
    #[allow(clippy::reversed_empty_ranges)]
    check_range(5..2usize);
    check_range(std::hint::black_box(5)..std::hint::black_box(-3i64));
    check_range(3..4usize);
    check_range(0..200_000usize);
    check_range(-100_000..50_000i64);
    check_range(i64::MAX - 3..i64::MAX);
    check_range(i64::MIN..i64::MIN + 1000);
    check_range(u64::MAX - 1000..u64::MAX);
    check_range(-5000..5000i32);
    check_range(i32::MIN..i32::MIN + 3);
    check_range(0..10_000u32);
}

#[test]
fn par_map_over_a_collected_iterator_equals_the_sequential_map() {
    let iter = (0..50_000u32).map(|x| i64::from(x) * 3);
    assert_eq!(iter.len(), 50_000);
    let expected: Vec<i64> = iter.clone().map(|x| f(&x)).collect();
    let out = pool()
        .par_map(workwise::collected(iter.clone()), |x| f(&x))
        .unwrap();
    assert_eq!(out, expected);
    let chunked = pool()
        .with_chunk_size(100)
        .par_map(workwise::collected(iter), |x| f(&x))
        .unwrap();
    assert_eq!(chunked, expected);
    let none = pool()
        .par_map(workwise::collected(std::iter::empty::<u8>()), |x| x)
        .unwrap();
    assert!(none.is_empty());
}

#[test]
fn map_reduce_and_for_each_over_a_range() {
    let n = 300_000u64;
    let total = pool()
        .map_reduce(0..n, |i| i * 2, 0u64, |a, b| a + b)
        .unwrap();
    assert_eq!(total, n * (n - 1));
    let total = pool()
        .with_chunk_size(1000)
        .map_reduce(-1000..1000i64, |i| i, 0i64, |a, b| a + b)
        .unwrap();
    assert_eq!(total, -1000);
    let seen: Vec<AtomicUsize> = (0..10_000).map(|_| AtomicUsize::new(0)).collect();
    pool()
        .with_chunk_size(64)
        .for_each(0..10_000usize, |i| {
            seen[i].fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
    pool()
        .for_each(0..10_000usize, |i| {
            seen[i].fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
    assert!(seen.iter().all(|c| c.load(Ordering::Relaxed) == 2));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn par_map_over_any_range_equals_the_sequential_map(
        start in any::<i64>(),
        len in 0u64..5000,
        chunk in 0usize..300,
    ) {
        let end = start.saturating_add_unsigned(len);
        let expected: Vec<i64> = (start..end).map(|x| f(&x)).collect();
        let out = pool().with_chunk_size(chunk).par_map(start..end, |x| f(&x)).unwrap();
        prop_assert_eq!(out, expected);
        // Reversed bounds are an empty range.
        let reversed = pool().par_map(end..start, |x| f(&x)).unwrap();
        prop_assert_eq!(reversed.len(), (end..start).count());
    }
}

/// Runs `body` on its own thread and waits for it at most 60 s, so that a
/// call that would run (nearly) forever fails the test instead of hanging it.
fn within_a_minute<T: Send + 'static>(body: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(body());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the call panicked (Disconnected) or ran past 60 s (Timeout)")
}

/// The inclusive range's items through `par_map`, automatic and with small
/// chunks, and through `par_map_results`, against the sequential map.
fn check_inclusive<T>(range: std::ops::RangeInclusive<T>)
where
    std::ops::RangeInclusive<T>: workwise::IntoParSource + Iterator<Item = T> + Clone + Send,
    <std::ops::RangeInclusive<T> as workwise::IntoParSource>::Source: workwise::ParSource<Item = T>,
    T: Copy + Send + Sync + PartialEq + std::fmt::Debug + 'static,
{
    let (expected, auto, chunked, results) = within_a_minute(move || {
        let expected: Vec<(T, u8)> = range.clone().map(|x| (x, 1)).collect();
        let auto = pool().par_map(range.clone(), |x| (x, 1)).unwrap();
        let chunked = pool()
            .with_chunk_size(7)
            .par_map(range.clone(), |x| (x, 1))
            .unwrap();
        let results: Vec<(T, u8)> = pool()
            .par_map_results(range, |x| (x, 1))
            .into_iter()
            .map(Result::unwrap)
            .collect();
        (expected, auto, chunked, results)
    });
    assert_eq!(auto, expected);
    assert_eq!(chunked, expected);
    assert_eq!(results, expected);
}

#[test]
fn par_map_over_inclusive_ranges_equals_the_sequential_map() {
    check_inclusive(0..=0usize);
    check_inclusive(3..=3u32);
    // A reversed inclusive range is empty, as for a sequential iterator.
    #[allow(clippy::reversed_empty_ranges)]
    check_inclusive(5..=3usize);
    check_inclusive(std::hint::black_box(5)..=std::hint::black_box(-3i64));
    check_inclusive(0..=200_000usize);
    check_inclusive(-100_000..=50_000i64);
    // Ranges that end at the type's last value: the end is an item.
    check_inclusive(usize::MAX..=usize::MAX);
    check_inclusive(usize::MAX - 1000..=usize::MAX);
    check_inclusive(u64::MAX - 1000..=u64::MAX);
    check_inclusive(i64::MAX - 3..=i64::MAX);
    check_inclusive(u32::MAX - 5000..=u32::MAX);
    check_inclusive(i32::MAX - 5..=i32::MAX);
    check_inclusive(i32::MIN..=i32::MIN + 3);
    check_inclusive(i64::MIN..=i64::MIN + 1000);
    check_inclusive(0..=0u64);
}

#[test]
fn an_exhausted_or_partly_used_inclusive_range_gives_what_is_left() {
    let mut spent = 0..=0u32;
    assert_eq!(spent.next(), Some(0));
    // Bounds 0..=0, but no item left: it must not give 0 again, nor count it.
    check_inclusive(spent.clone());
    let source = workwise::IntoParSource::into_par_source(spent.clone());
    assert_eq!(workwise::ParSource::len(&source), 0);
    assert_eq!(workwise::ParSource::checked_len(&source), Some(0));
    let mut last = usize::MAX..=usize::MAX;
    assert_eq!(last.next(), Some(usize::MAX));
    check_inclusive(last.clone());
    let source = workwise::IntoParSource::into_par_source(last.clone());
    assert_eq!(workwise::ParSource::len(&source), 0);
    let mut drained = -3..=3i64;
    drained.by_ref().for_each(drop);
    check_inclusive(drained.clone());
    let mut started = 0..=10i32;
    started.next();
    check_inclusive(started.clone());
    let mut from_back = 0..=10u64;
    from_back.next_back();
    check_inclusive(from_back.clone());
    // The same through the other entry points.
    for range in [spent, std::hint::black_box(5)..=4] {
        let ran = AtomicUsize::new(0);
        let total = pool()
            .map_reduce(range.clone(), u64::from, 0u64, |a, b| a + b)
            .unwrap();
        assert_eq!(total, 0);
        pool()
            .for_each(range, |_| {
                ran.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap();
        assert_eq!(ran.into_inner(), 0);
    }
}

#[test]
fn the_whole_of_a_32_bit_type_as_an_inclusive_range_counts_every_value() {
    use workwise::ParSource;

    // Running 2^32 items is too slow for a test; what can go wrong is the
    // count and the cuts, so check those, then run the cut pieces' ends.
    let mut all = (0..=u32::MAX).into_par_source_for_test();
    let mut signed = (i32::MIN..=i32::MAX).into_par_source_for_test();
    if usize::BITS > 32 {
        assert_eq!(ParSource::len(&all), 1 << 32);
        assert_eq!(ParSource::len(&signed), 1 << 32);
        let quarter = 1usize << 30;
        let mut cuts = Vec::new();
        let mut signed_cuts = Vec::new();
        while !ParSource::is_empty(&all) {
            cuts.push(all.split_tail(quarter));
            signed_cuts.push(signed.split_tail(quarter));
        }
        assert!(ParSource::is_empty(&signed));
        let bounds: Vec<(u32, u32)> = cuts.iter().map(|c| (*c.start(), *c.end())).collect();
        assert_eq!(
            bounds,
            [
                (3 << 30, u32::MAX),
                (2 << 30, (3 << 30) - 1),
                (1 << 30, (2 << 30) - 1),
                (0, (1 << 30) - 1)
            ]
        );
        let signed_bounds: Vec<(i32, i32)> =
            signed_cuts.iter().map(|c| (*c.start(), *c.end())).collect();
        assert_eq!(
            signed_bounds,
            [
                (1 << 30, i32::MAX),
                (0, (1 << 30) - 1),
                (-(1 << 30), -1),
                (i32::MIN, -(1 << 30) - 1)
            ]
        );
    }
    // The last values of the whole range, through the pool, split by it.
    let mut whole = (0..=u32::MAX).into_par_source_for_test();
    let tail = whole.split_tail(10_000);
    check_inclusive(tail);
    let mut whole = (i32::MIN..=i32::MAX).into_par_source_for_test();
    let tail = whole.split_tail(10_000);
    check_inclusive(tail);
}

/// `into_par_source`, spelled so that the range's own methods stay apart.
trait IntoParSourceForTest: workwise::IntoParSource + Sized {
    fn into_par_source_for_test(self) -> Self::Source {
        workwise::IntoParSource::into_par_source(self)
    }
}
impl<T: workwise::IntoParSource> IntoParSourceForTest for T {}

#[test]
fn an_inclusive_range_too_long_for_a_usize_is_refused_and_runs_nothing() {
    fn refused<T>(range: std::ops::RangeInclusive<T>)
    where
        std::ops::RangeInclusive<T>: workwise::IntoParSource + Clone + Send + 'static,
        <std::ops::RangeInclusive<T> as workwise::IntoParSource>::Source:
            workwise::ParSource<Item = T>,
        T: Send + 'static,
    {
        let ran = within_a_minute(move || {
            let ran = AtomicUsize::new(0);
            let count = |_: T| {
                ran.fetch_add(1, Ordering::Relaxed);
            };
            for chunk in [0, 1_000_000] {
                let par = pool().with_chunk_size(chunk);
                assert_eq!(
                    par.par_map(range.clone(), count).unwrap_err(),
                    TaskError::TooManyItems
                );
                assert_eq!(
                    par.par_map_results(range.clone(), count),
                    [Err(TaskError::TooManyItems)]
                );
                assert_eq!(
                    par.map_reduce(range.clone(), count, (), |(), ()| ())
                        .unwrap_err(),
                    TaskError::TooManyItems
                );
                assert_eq!(
                    par.for_each(range.clone(), count).unwrap_err(),
                    TaskError::TooManyItems
                );
            }
            assert_eq!(
                pool().par_map(range.clone(), count).unwrap_err(),
                TaskError::TooManyItems
            );
            assert_eq!(
                pool().for_each(range, count).unwrap_err(),
                TaskError::TooManyItems
            );
            ran.into_inner()
        });
        assert_eq!(ran, 0, "no item may run");
    }
    refused(0..=usize::MAX);
    #[cfg(target_pointer_width = "64")]
    {
        refused(0..=u64::MAX);
        refused(i64::MIN..=i64::MAX);
    }
    #[cfg(target_pointer_width = "32")]
    {
        refused(0..=u32::MAX);
        refused(i32::MIN..=i32::MAX);
    }
    // One item fewer is countable: its length is usize::MAX.
    use workwise::ParSource;
    let src = workwise::IntoParSource::into_par_source(1..=usize::MAX);
    assert_eq!(ParSource::len(&src), usize::MAX);
    assert_eq!(src.checked_len(), Some(usize::MAX));
    let src = workwise::IntoParSource::into_par_source(0..=usize::MAX);
    assert_eq!(src.checked_len(), None);
    assert!(TaskError::TooManyItems.to_string().contains("split"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn par_map_over_any_inclusive_range_equals_the_sequential_map(
        start in any::<i64>(),
        len in 0u64..5000,
        chunk in 0usize..300,
    ) {
        let end = start.saturating_add_unsigned(len);
        let expected: Vec<i64> = (start..=end).map(|x| f(&x)).collect();
        let out = pool().with_chunk_size(chunk).par_map(start..=end, |x| f(&x)).unwrap();
        prop_assert_eq!(out, expected);
        let sum = pool()
            .with_chunk_size(chunk)
            .map_reduce(start..=end, |x| f(&x), 0i64, i64::wrapping_add)
            .unwrap();
        prop_assert_eq!(sum, (start..=end).map(|x| f(&x)).fold(0i64, i64::wrapping_add));
        // Reversed bounds are an empty range.
        let reversed = pool().par_map(end..=start, |x| f(&x)).unwrap();
        prop_assert_eq!(reversed.len(), (end..=start).count());
    }

    #[test]
    fn par_map_over_any_u32_inclusive_range_near_the_top_equals_the_sequential_map(
        back in 0u32..5000,
        len in 0u32..5000,
        chunk in 0usize..300,
    ) {
        let end = u32::MAX - back;
        let start = end.saturating_sub(len);
        let expected: Vec<u32> = (start..=end).collect();
        let out = pool().with_chunk_size(chunk).par_map(start..=end, |x| x).unwrap();
        prop_assert_eq!(out, expected);
    }
}

#[test]
#[cfg(target_pointer_width = "64")]
fn a_range_whose_results_no_vec_can_hold_is_refused_and_leaves_the_pool_usable() {
    let (maps, results, after) = within_a_minute(|| {
        let pool = Pool::cpu().max_workers(2).build().unwrap();
        // 2^64 - 1 results of 8 bytes: more than any Vec can hold.
        let maps = [
            pool.par_map(0..u64::MAX, |x| x).map(|v| v.len()),
            pool.with_chunk_size(1 << 40)
                .par_map(0..u64::MAX, |x| x)
                .map(|v| v.len()),
        ];
        let results = pool.par_map_results(0..u64::MAX, |x| x).len();
        let after = pool.par_map(vec![1, 2, 3], |x| x * 2);
        (maps, results, after)
    });
    assert_eq!(
        maps,
        [Err(TaskError::TooManyItems), Err(TaskError::TooManyItems)]
    );
    assert_eq!(results, 1);
    assert_eq!(after, Ok(vec![2, 4, 6]));
}
