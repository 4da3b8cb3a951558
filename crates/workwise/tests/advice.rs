//! The advisor's pool rules, each triggered by a real workload with the
//! wrong model or use, and silent on the right one.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use workwise::advice::{self, Code};
use workwise::{available_cores, Pool};

/// The rules read CPU shares: the tests of this file take turns, so that
/// none measures another's work.
static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    TURN.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Computes for about `d` on the calling thread.
fn compute(d: Duration) -> u64 {
    let end = Instant::now() + d;
    let mut x = 1u64;
    while Instant::now() < end {
        for _ in 0..64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
        }
    }
    x
}

fn run_all<T: Send + 'static>(
    pool: &Pool,
    n: usize,
    f: impl Fn(usize) -> T + Send + Sync + Copy + 'static,
) {
    let handles: Vec<_> = (0..n).map(|i| pool.submit(move || f(i))).collect();
    for h in handles {
        h.wait().expect("the task runs");
    }
}

fn codes(pool: &Pool) -> Vec<Code> {
    let found = pool.advice();
    println!("{:?}", pool.stats());
    for a in &found {
        println!("{a}");
    }
    found.iter().map(|a| a.code).collect()
}

fn model_codes(pool: &Pool) -> Vec<Code> {
    codes(pool).into_iter().filter(|c| c.is_model()).collect()
}

#[test]
fn w01_cpu_bound_work_on_the_io_pool_is_flagged() {
    let _turn = turn();
    let pool = Pool::io().max_workers(8).build().unwrap();
    run_all(&pool, 64, |_| compute(Duration::from_millis(3)));
    assert!(codes(&pool).contains(&Code::W01));
}

#[test]
fn w01_w02_w04_the_cpu_pool_with_cpu_work_raises_no_model_advice() {
    let _turn = turn();
    let pool = Pool::cpu().build().unwrap();
    run_all(&pool, 64, |_| compute(Duration::from_millis(3)));
    assert_eq!(model_codes(&pool), vec![]);
}

#[test]
fn w02_waiting_work_on_the_cpu_pool_is_flagged() {
    let _turn = turn();
    let pool = Pool::cpu().build().unwrap();
    run_all(&pool, 32, |_| std::thread::sleep(Duration::from_millis(3)));
    assert!(codes(&pool).contains(&Code::W02));
}

#[test]
fn w01_w02_w04_the_io_pool_with_waiting_work_raises_no_model_advice() {
    let _turn = turn();
    let pool = Pool::io().max_workers(32).build().unwrap();
    run_all(&pool, 64, |_| std::thread::sleep(Duration::from_millis(3)));
    assert_eq!(model_codes(&pool), vec![]);
}

#[test]
fn w04_many_more_computing_threads_than_cores_are_flagged() {
    let _turn = turn();
    let cores = available_cores();
    let pool = Pool::io().max_workers(4 * cores + 2).build().unwrap();
    run_all(&pool, 16 * cores, |_| compute(Duration::from_millis(4)));
    assert!(codes(&pool).contains(&Code::W04));
}

#[test]
fn w04_a_pool_sized_far_above_its_use_is_flagged_and_a_fitting_one_is_not() {
    let _turn = turn();
    let big = Pool::io().max_workers(256).build().unwrap();
    let fit = Pool::io().max_workers(8).build().unwrap();
    for pool in [&big, &fit] {
        // Four at a time, sixteen times.
        for _ in 0..16 {
            run_all(pool, 4, |_| std::thread::sleep(Duration::from_millis(1)));
        }
    }
    assert!(codes(&big).contains(&Code::W04));
    assert!(!codes(&fit).contains(&Code::W04));
}

#[test]
fn w05_tiny_tasks_are_flagged() {
    let _turn = turn();
    let pool = Pool::cpu().build().unwrap();
    run_all(&pool, 5_000, |i| i.wrapping_mul(31));
    assert!(codes(&pool).contains(&Code::W05));
}

#[test]
fn w05_tasks_well_above_the_pool_cost_are_not() {
    let _turn = turn();
    let pool = Pool::cpu().build().unwrap();
    run_all(&pool, 100, |_| compute(Duration::from_millis(2)));
    assert!(!codes(&pool).contains(&Code::W05));
}

#[test]
fn w06_a_small_io_pool_that_queues_waiting_tasks_is_told_its_size() {
    let _turn = turn();
    let pool = Pool::io().max_workers(2).build().unwrap();
    run_all(&pool, 40, |_| std::thread::sleep(Duration::from_millis(5)));
    let found = pool.advice();
    let w06 = found
        .iter()
        .find(|a| a.code == Code::W06)
        .unwrap_or_else(|| panic!("no W06 in {found:?}"));
    assert!(w06.fix.contains("max_workers("), "{w06}");
}

#[test]
fn w06_a_pool_large_enough_for_its_waits_is_not() {
    let _turn = turn();
    let pool = Pool::io().max_workers(64).build().unwrap();
    run_all(&pool, 40, |_| std::thread::sleep(Duration::from_millis(5)));
    assert!(!codes(&pool).contains(&Code::W06));
}

#[test]
fn w08_panics_in_dropped_handles_are_counted_whether_dropped_before_or_after() {
    let _turn = turn();
    let pool = Pool::io().build().unwrap();
    // Dropped after it panicked.
    let mut early = pool.submit(|| -> u8 { panic!("nobody reads this") });
    while !early.is_finished() {
        std::thread::yield_now();
    }
    // Dropped before it ran: the task waits on a channel first.
    let (tx, rx) = mpsc::channel::<()>();
    drop(pool.submit(move || -> u8 {
        rx.recv().ok();
        panic!("nor this")
    }));
    tx.send(()).unwrap();
    // Read: not lost.
    assert!(pool.submit(|| -> u8 { panic!("read") }).wait().is_err());
    assert!(early.try_result().is_some_and(|r| r.is_err()));
    drop(early);
    pool.shutdown();
    let s = pool.stats();
    assert_eq!((s.panicked, s.lost_panics), (3, 1));
    let found = pool.advice();
    let w08 = found.iter().find(|a| a.code == Code::W08).expect("W08");
    assert_eq!(w08.figure("lost_panics"), Some(1.0));
}

#[test]
fn w08_read_panics_are_not_flagged() {
    let _turn = turn();
    let pool = Pool::io().build().unwrap();
    for _ in 0..4 {
        assert!(pool.submit(|| -> u8 { panic!("read") }).wait().is_err());
    }
    pool.shutdown();
    assert!(!codes(&pool).contains(&Code::W08));
}

#[test]
fn w09_a_chain_of_tasks_one_at_a_time_is_flagged() {
    let _turn = turn();
    let pool = Pool::io().max_workers(8).build().unwrap();
    for i in 0..20u64 {
        assert_eq!(pool.submit(move || i + 1).wait(), Ok(i + 1));
    }
    let s = pool.stats();
    assert_eq!(s.peak_running, 1);
    assert!(codes(&pool).contains(&Code::W09));
}

#[test]
fn w09_a_whole_input_smaller_than_the_pools_cost_is_flagged() {
    let _turn = turn();
    let pool = Pool::io().build().unwrap();
    // Measure the pool's cost first, so the rule can compare with it.
    assert!(pool.advice().is_empty());
    run_all(&pool, 50, |i| compute(Duration::from_micros(2)) + i as u64);
    assert!(codes(&pool).contains(&Code::W09));
}

#[test]
fn w09_overlapping_tasks_with_real_work_are_not() {
    let _turn = turn();
    let pool = Pool::io().max_workers(8).build().unwrap();
    run_all(&pool, 16, |_| std::thread::sleep(Duration::from_millis(5)));
    assert!(pool.stats().peak_running > 1);
    assert!(!codes(&pool).contains(&Code::W09));
}

#[test]
fn w10_a_task_running_far_longer_than_the_rest_is_suspected() {
    let _turn = turn();
    let pool = Pool::io().max_workers(4).build().unwrap();
    run_all(&pool, 20, |_| std::thread::sleep(Duration::from_millis(1)));
    let (tx, rx) = mpsc::channel::<()>();
    let stuck = pool.submit(move || rx.recv().ok());
    workwise::testing::wait_for(
        || pool.advice().iter().any(|a| a.code == Code::W10),
        Duration::from_secs(60),
    )
    .expect("W10 once the task has run for a second");
    tx.send(()).unwrap();
    stuck.wait().unwrap();
    assert!(!codes(&pool).contains(&Code::W10), "no task runs any more");
}

#[test]
fn w10_a_task_a_few_times_longer_than_the_rest_is_not() {
    let _turn = turn();
    let pool = Pool::io().max_workers(4).build().unwrap();
    run_all(&pool, 20, |_| std::thread::sleep(Duration::from_millis(20)));
    let (tx, rx) = mpsc::channel::<()>();
    let slow = pool.submit(move || rx.recv().ok());
    // Wait on the figure the rule reads, not on a sleep: the task has run
    // five times the others' 20 ms, far from the rule's 20x p99 and 1 s.
    workwise::testing::wait_for(
        || pool.stats().longest_running >= Some(Duration::from_millis(100)),
        Duration::from_secs(30),
    )
    .unwrap();
    assert!(!codes(&pool).contains(&Code::W10));
    tx.send(()).unwrap();
    slow.wait().unwrap();
}

#[test]
fn the_report_covers_every_live_pool_and_forgets_dropped_ones() {
    let _turn = turn();
    let pool = Pool::io()
        .name("report-chain")
        .max_workers(4)
        .build()
        .unwrap();
    for _ in 0..10 {
        pool.submit(|| ()).wait().unwrap();
    }
    // The report does not measure the pool's cost; the chain rule needs none.
    let mine = || {
        advice::report()
            .into_iter()
            .filter(|a| a.source == "pool 'report-chain'")
            .count()
    };
    assert!(mine() >= 1);
    drop(pool);
    assert_eq!(mine(), 0);
}

#[test]
fn figures_are_current_when_a_short_run_ends() {
    let _turn = turn();
    let pool = Pool::cpu().build().unwrap();
    run_all(&pool, 8, |_| compute(Duration::from_millis(5)));
    // No shutdown, no pause: the CPU time is read from the kernel now.
    let s = pool.stats();
    assert!(s.cpu > Duration::ZERO, "{s:?}");
    assert_eq!(s.task_times.count(), 8);
    assert_eq!(s.running, 0);
}

#[cfg(feature = "serde")]
#[test]
fn a_finding_serializes_with_its_code_as_text() {
    let a = workwise::advice::Advice::new(
        Code::W05,
        "pool 'p'",
        "tiny",
        vec![workwise::advice::Figure::new("tasks", 64.0, "")],
        "batch",
    );
    let json = serde_json::to_string(&a).unwrap();
    assert!(json.contains("\"code\":\"W05\""), "{json}");
    assert!(json.contains("\"severity\":\"Warning\""), "{json}");
}

/// `LoopWatch` on real loops: one that waits is W02, one that computes is
/// W06 where there are other cores to spread over, a short one is nothing.
#[test]
fn loop_watch_tells_a_waiting_loop_from_a_computing_one() {
    let _turn = turn();
    let watch = advice::LoopWatch::start();
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let found = watch.finish("fetch loop", 10);
    if watch.figures().measured {
        let codes: Vec<Code> = found.iter().map(|a| a.code).collect();
        assert_eq!(codes, [Code::W02], "{found:?}");
        assert!(found[0].fix.contains("Pool::io()"), "{}", found[0]);
        assert_eq!(found[0].source, "loop 'fetch loop'");
    }

    let watch = advice::LoopWatch::start();
    std::hint::black_box(compute(Duration::from_millis(60)));
    let found = watch.finish("crunch", 8);
    if watch.figures().measured {
        let codes: Vec<Code> = found.iter().map(|a| a.code).collect();
        if available_cores() > 1 {
            assert_eq!(codes, [Code::W06], "{found:?}");
            assert!(found[0].fix.contains("par_map"), "{}", found[0]);
        } else {
            assert!(
                codes.is_empty(),
                "one core has nothing to spread over: {found:?}"
            );
        }
    }

    let watch = advice::LoopWatch::start();
    std::hint::black_box(compute(Duration::from_millis(1)));
    assert!(
        watch.finish("tiny", 8).is_empty(),
        "a 1 ms loop is too short to advise on"
    );
}
