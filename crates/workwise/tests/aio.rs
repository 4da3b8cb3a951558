//! Black-box tests of `workwise::aio`: gather and the limited streams,
//! `TaskGroup`, `timeout`, `run_blocking`, `BlockingDetector`, and the
//! cancel safety of each future.
//!
//! Time-dependent logic runs on tokio's paused clock (`start_paused`);
//! real-time waits use `wait_for` with a generous deadline, never a fixed
//! sleep followed by an assertion. Every test body that could hang runs
//! under `guard`, a real-time deadline.
#![cfg(feature = "tokio")]

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use workwise::advice::Code;
use workwise::aio::{self, BlockingDetector, GatherBuildError, TaskGroup};
use workwise::{Pool, TaskError};

const DEADLINE: Duration = Duration::from_secs(60);

/// Runs `fut` with a deadline, failing the test if it does not finish.
async fn guard<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(DEADLINE, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what} did not finish within {DEADLINE:?}"),
    }
}

/// Polls `cond` until it holds; fails the test after `DEADLINE`.
async fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Counts how many were made and how many dropped.
#[derive(Clone, Default)]
struct Census {
    made: Arc<AtomicUsize>,
    dropped: Arc<AtomicUsize>,
}

struct Member(Arc<AtomicUsize>);

impl Drop for Member {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Census {
    fn member(&self) -> Member {
        self.made.fetch_add(1, Ordering::SeqCst);
        Member(self.dropped.clone())
    }
    fn made(&self) -> usize {
        self.made.load(Ordering::SeqCst)
    }
    fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }
}

/// Counts how many are in flight now and the most ever at once.
#[derive(Clone, Default)]
struct InFlight {
    now: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

impl InFlight {
    async fn run<T>(&self, fut: impl Future<Output = T>) -> T {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(n, Ordering::SeqCst);
        let v = fut.await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        v
    }
    fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

// ---------------------------------------------------------------- gather

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gather_limited_runs_100k_futures_with_at_most_1000_in_flight() {
    let flight = InFlight::default();
    let f = flight.clone();
    let futures = (0..100_000u64).map(move |i| {
        let f = f.clone();
        async move {
            f.run(async {
                tokio::time::sleep(Duration::from_millis(1)).await;
                i * 3
            })
            .await
        }
    });
    let out = guard(
        "100,000 futures",
        aio::gather_limited(futures, 1000).unwrap().collect(),
    )
    .await;
    assert_eq!(out.len(), 100_000);
    for (i, v) in out.iter().enumerate() {
        assert_eq!(*v, i as u64 * 3, "output {i} is wrong or out of order");
    }
    let peak = flight.peak();
    assert!(
        peak <= 1000,
        "peak in flight {peak} is above the limit 1000"
    );
    assert!(
        peak > 1,
        "peak in flight {peak}: the futures did not overlap"
    );
}

#[tokio::test]
async fn gather_limited_pulls_lazily_from_an_endless_iterator() {
    let census = Census::default();
    let c = census.clone();
    let endless = (0u64..).map(move |i| {
        let m = c.member();
        async move {
            tokio::task::yield_now().await;
            drop(m);
            i
        }
    });
    let mut s = aio::gather_limited(endless, 10).unwrap();
    let mut got = Vec::new();
    guard("50 outputs", async {
        while got.len() < 50 {
            got.push(s.next().await.unwrap());
        }
    })
    .await;
    assert_eq!(got, (0..50).collect::<Vec<_>>());
    assert!(
        census.made() <= 50 + 10,
        "made {} futures for 50 outputs with a limit of 10: not lazy",
        census.made()
    );
    assert!(s.in_flight() <= 10);
}

#[tokio::test(start_paused = true)]
async fn gather_keeps_input_order_whatever_the_finishing_order() {
    let futs = [30u64, 10, 20].map(|ms| async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        ms
    });
    assert_eq!(aio::gather(futs).await, [30, 10, 20]);
}

#[tokio::test(start_paused = true)]
async fn map_keeps_input_order_and_map_unordered_gives_completion_order() {
    let delays = vec![30u64, 10, 20];
    let sleep = |ms: u64| async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        ms
    };
    let ordered = aio::map(delays.clone(), 3, sleep).unwrap().collect().await;
    assert_eq!(ordered, [30, 10, 20]);
    let unordered = aio::map_unordered(delays, 3, sleep)
        .unwrap()
        .collect()
        .await;
    assert_eq!(unordered, [10, 20, 30]);
}

#[tokio::test(start_paused = true)]
async fn gather_unordered_keeps_at_most_limit_in_flight() {
    let flight = InFlight::default();
    let f = flight.clone();
    let futs = (0..200u64).map(move |i| {
        let f = f.clone();
        async move {
            f.run(tokio::time::sleep(Duration::from_millis(i % 7)))
                .await;
            i
        }
    });
    let mut out = aio::gather_unordered(futs, 8).unwrap().collect().await;
    out.sort_unstable();
    assert_eq!(out, (0..200).collect::<Vec<_>>());
    assert!(flight.peak() <= 8, "peak {} above limit 8", flight.peak());
}

#[test]
fn a_zero_limit_is_an_error_that_says_what_to_do() {
    let futs = || (0..3).map(|i| async move { i });
    assert_eq!(
        aio::gather_limited(futs(), 0).unwrap_err(),
        GatherBuildError::ZeroLimit
    );
    assert_eq!(
        aio::gather_unordered(futs(), 0).unwrap_err(),
        GatherBuildError::ZeroLimit
    );
    assert!(aio::map(0..3, 0, |i| async move { i }).is_err());
    assert!(aio::map_unordered(0..3, 0, |i| async move { i }).is_err());
    assert!(TaskGroup::<()>::with_limit(0).is_err());
    assert!(GatherBuildError::ZeroLimit
        .to_string()
        .contains("pass at least 1"));
}

#[tokio::test]
async fn empty_inputs_give_empty_outputs() {
    let none = std::iter::empty::<std::future::Ready<u8>>();
    assert!(aio::gather(std::iter::empty::<std::future::Ready<u8>>())
        .await
        .is_empty());
    assert!(aio::gather_limited(none, 4)
        .unwrap()
        .collect()
        .await
        .is_empty());
    assert!(TaskGroup::<u8>::new().join_all().await.is_empty());
}

// ---------------------------------------------------------------- timeout

#[tokio::test(start_paused = true)]
async fn timeout_gives_timed_out_when_the_future_is_too_slow() {
    let slow = async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        1
    };
    assert_eq!(
        aio::timeout(Duration::from_secs(1), slow).await,
        Err(TaskError::TimedOut)
    );
}

#[tokio::test(start_paused = true)]
async fn timeout_gives_the_output_when_in_time() {
    let quick = async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        "ok"
    };
    assert_eq!(aio::timeout(Duration::from_secs(1), quick).await, Ok("ok"));
}

#[tokio::test(start_paused = true)]
async fn timeout_of_duration_max_means_no_limit_not_an_overflow() {
    let fut = async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        7
    };
    assert_eq!(aio::timeout(Duration::MAX, fut).await, Ok(7));
}

#[tokio::test(start_paused = true)]
async fn timeouts_compose_with_gather_limited() {
    let futs = (0..10u64).map(|i| {
        aio::timeout(Duration::from_millis(50), async move {
            tokio::time::sleep(Duration::from_millis(i * 10)).await;
            i
        })
    });
    let out = aio::gather_limited(futs, 3).unwrap().collect().await;
    for (i, r) in out.iter().enumerate() {
        if i < 5 {
            assert_eq!(*r, Ok(i as u64));
        } else {
            assert_eq!(*r, Err(TaskError::TimedOut), "item {i}");
        }
    }
}

#[test]
fn timeout_outside_a_runtime_is_an_error_not_a_panic() {
    let mut fut = pin!(aio::timeout(Duration::from_secs(1), async { 1 }));
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(Err(TaskError::NoWorker { message })) => {
            assert!(message.contains("tokio runtime"), "{message}")
        }
        other => panic!("expected a NoWorker error, got {other:?}"),
    }
}

#[test]
fn timeout_in_a_runtime_without_a_timer_is_an_error_not_a_panic() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let r = rt.block_on(async { aio::timeout(Duration::from_secs(1), async { 1 }).await });
    match r {
        Err(TaskError::NoWorker { message }) => {
            assert!(message.contains("enable_time"), "{message}")
        }
        other => panic!("expected a NoWorker error, got {other:?}"),
    }
}

// ---------------------------------------------------------------- TaskGroup

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_group_gives_results_in_spawn_order() {
    let mut g = TaskGroup::new();
    for i in 0..100u64 {
        g.spawn(async move {
            tokio::time::sleep(Duration::from_millis(100 - i)).await;
            i
        });
    }
    let out = guard("join_all", g.join_all()).await;
    assert_eq!(out, (0..100).map(Ok).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_panicking_task_becomes_panicked_with_its_message() {
    let mut g = TaskGroup::<u8>::new();
    g.spawn(async { panic!("unnamed boom") });
    g.spawn_named("parser", async { panic!("bad header {}", 7) });
    g.spawn(async { 3 });
    let out = guard("join_all", g.join_all()).await;
    assert_eq!(
        out[0],
        Err(TaskError::Panicked {
            message: "unnamed boom".into()
        })
    );
    assert_eq!(
        out[1],
        Err(TaskError::Panicked {
            message: "bad header 7 (in task `parser`)".into()
        })
    );
    assert_eq!(out[2], Ok(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_task_group_stops_its_tasks() {
    let census = Census::default();
    let ticks = Arc::new(AtomicUsize::new(0));
    let mut g = TaskGroup::new();
    for _ in 0..10 {
        let m = census.member();
        let ticks = ticks.clone();
        g.spawn(async move {
            let _m = m;
            loop {
                ticks.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
    }
    wait_for("every task to tick", || ticks.load(Ordering::SeqCst) >= 10).await;
    drop(g);
    wait_for("every task to be dropped", || census.dropped() == 10).await;
    // Their futures are gone, so nothing can tick any more.
    let after = ticks.load(Ordering::SeqCst);
    tokio::task::yield_now().await;
    assert_eq!(census.dropped(), census.made());
    assert_eq!(ticks.load(Ordering::SeqCst), after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_fast_cancels_the_rest_on_the_first_error() {
    let census = Census::default();
    let mut g = TaskGroup::new().fail_fast();
    for i in 0..5u32 {
        let m = census.member();
        g.spawn(async move {
            let _m = m;
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(i)
        });
    }
    g.spawn(async { Err("refused") });
    let out = guard("a fail-fast join", g.join_all()).await;
    for r in &out[..5] {
        assert_eq!(*r, Err(TaskError::Cancelled));
    }
    assert_eq!(out[5], Ok(Err("refused")));
    wait_for("the cancelled tasks to be dropped", || {
        census.dropped() == 5
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_fast_cancels_the_rest_on_a_panic_and_later_spawns_never_run() {
    let ran = Arc::new(AtomicBool::new(false));
    let mut g = TaskGroup::<Result<(), ()>>::new().fail_fast();
    g.spawn(async { panic!("boom") });
    g.spawn(async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(())
    });
    // Wait until the panic has been seen, then spawn once more.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let r = ran.clone();
    g.spawn(async move {
        r.store(true, Ordering::SeqCst);
        Ok(())
    });
    let out = guard("a fail-fast join", g.join_all()).await;
    assert!(matches!(&out[0], Err(TaskError::Panicked { message }) if message == "boom"));
    assert_eq!(out[1], Err(TaskError::Cancelled));
    // The third was spawned after the failure: either never spawned or
    // aborted with the rest; it must not have been left running.
    assert!(out[2] == Err(TaskError::Cancelled) || out[2] == Ok(Ok(())));
    if out[2] == Err(TaskError::Cancelled) {
        assert!(!ran.load(Ordering::SeqCst));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_fail_fast_an_error_does_not_cancel_the_rest() {
    let mut g = TaskGroup::new();
    g.spawn(async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(1)
    });
    g.spawn(async { Err("refused") });
    let out = guard("join", g.join_all()).await;
    assert_eq!(out, [Ok(Ok(1)), Ok(Err("refused"))]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_group_limit_bounds_how_many_run_at_once() {
    let flight = InFlight::default();
    let mut g = TaskGroup::with_limit(5).unwrap();
    for i in 0..50u64 {
        let f = flight.clone();
        g.spawn(async move {
            f.run(tokio::time::sleep(Duration::from_millis(2))).await;
            i
        });
    }
    let out = guard("join", g.join_all()).await;
    assert_eq!(out, (0..50).map(Ok).collect::<Vec<_>>());
    assert!(
        flight.peak() <= 5,
        "peak {} above the limit 5",
        flight.peak()
    );
}

#[test]
fn spawning_outside_a_runtime_is_an_error_value_not_a_panic() {
    let mut g = TaskGroup::new();
    g.spawn(async { 1 });
    let task = aio::spawn_named("orphan", async { 2 });
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (out, t) = rt.block_on(async { (g.join_all().await, task.await) });
    for r in [&out[0], &t] {
        match r {
            Err(TaskError::NoWorker { message }) => assert!(message.contains("tokio runtime")),
            other => panic!("expected NoWorker, got {other:?}"),
        }
    }
}

// ---------------------------------------------------------------- run_blocking

#[tokio::test]
async fn run_blocking_runs_on_the_pool_and_returns_the_result() {
    let pool = Pool::io().name("aio-test").build().unwrap();
    let name = guard(
        "run_blocking",
        aio::run_blocking(&pool, || std::thread::current().name().map(str::to_owned)),
    )
    .await
    .unwrap();
    assert!(name.unwrap().starts_with("aio-test"));
    let panicked = guard(
        "run_blocking",
        aio::run_blocking(&pool, || -> u8 { panic!("io") }),
    )
    .await;
    assert!(matches!(panicked, Err(TaskError::Panicked { .. })));
}

// ---------------------------------------------------------------- detector

#[tokio::test]
async fn the_detector_names_a_task_that_blocks_and_not_one_that_awaits() {
    // 25 ms, not the default 10, so that the awaiting task's microsecond
    // polls cannot be reported because this shared machine preempted the
    // thread mid-poll; 50 ms of blocking is still well above it.
    let detector = BlockingDetector::with_threshold(Duration::from_millis(25));
    let mut g = TaskGroup::new().detector(&detector);
    g.spawn_named("blocker", async {
        std::thread::sleep(Duration::from_millis(50));
    });
    g.spawn_named("sleeper", async {
        tokio::time::sleep(Duration::from_millis(50)).await;
    });
    guard("join", g.join_all()).await;
    let reports = detector.reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].task, "blocker");
    assert!(reports[0].duration >= Duration::from_millis(50));
    let text = reports[0].to_string();
    assert!(
        text.contains("tokio::time::sleep") && text.contains("aio::run_blocking"),
        "{text}"
    );
    assert_eq!(detector.blocked_polls(), 1);
}

#[tokio::test]
async fn an_installed_detector_watches_spawn_named_and_task_groups() {
    let detector = BlockingDetector::new();
    detector.install();
    let t = aio::spawn_named("installed-blocker", async {
        std::thread::sleep(Duration::from_millis(30));
    });
    let mut g = TaskGroup::new();
    g.spawn_named("installed-group-blocker", async {
        std::thread::sleep(Duration::from_millis(30));
    });
    BlockingDetector::uninstall();
    guard("join", async {
        t.await.unwrap();
        g.join_all().await;
    })
    .await;
    // Other tests run in this process while it is installed; look for ours.
    let names: Vec<String> = detector.reports().into_iter().map(|r| r.task).collect();
    assert!(names.iter().any(|n| n == "installed-blocker"), "{names:?}");
    assert!(
        names.iter().any(|n| n == "installed-group-blocker"),
        "{names:?}"
    );
}

#[tokio::test]
async fn the_detector_keeps_at_most_1024_reports_and_counts_the_rest() {
    let detector = BlockingDetector::with_threshold(Duration::ZERO);
    let looper = async {
        for _ in 0..1100 {
            std::thread::sleep(Duration::from_micros(1));
            tokio::task::yield_now().await;
        }
    };
    detector.watch("looper", looper).await;
    assert_eq!(detector.reports().len(), 1024);
    assert!(detector.blocked_polls() > 1024);
    assert_eq!(detector.take_reports().len(), 1024);
    assert!(detector.reports().is_empty());
}

#[tokio::test]
async fn a_task_caught_blocking_gives_w03_naming_it_in_advice_and_the_report() {
    // The threshold of the detector test above, for the same reason.
    let detector = BlockingDetector::with_threshold(Duration::from_millis(25));
    let mut g = TaskGroup::new().detector(&detector);
    g.spawn_named("w03-blocker", async {
        // Blocks in three polls: three catches are a blocking task, where
        // one alone could be a preempted thread.
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(50));
            tokio::task::yield_now().await;
        }
    });
    guard("join", g.join_all()).await;
    let advice = detector.advice();
    assert_eq!(advice.len(), 1, "{advice:?}");
    let a = &advice[0];
    assert_eq!(a.code, Code::W03);
    assert_eq!(a.source, "task 'w03-blocker'");
    assert!(a.summary.contains("w03-blocker"), "{a}");
    assert!(a.figure("blocked_polls").is_some_and(|n| n >= 3.0), "{a}");
    assert!(a.figure("longest_poll").is_some_and(|ms| ms >= 50.0), "{a}");
    assert_eq!(a.figure("threshold"), Some(25.0), "{a}");
    assert!(
        a.fix.contains("aio::run_blocking") && a.fix.contains("spawn_blocking"),
        "{a}"
    );
    // The process-wide report asks the detector while it lives.
    let reported = workwise::advice::report();
    assert!(
        reported
            .iter()
            .any(|r| r.code == Code::W03 && r.source == "task 'w03-blocker'"),
        "{reported:?}"
    );
    drop(detector);
    let reported = workwise::advice::report();
    assert!(
        !reported.iter().any(|r| r.source == "task 'w03-blocker'"),
        "a dropped detector is no longer asked: {reported:?}"
    );
}

#[tokio::test]
async fn a_task_that_awaits_its_sleep_gives_no_w03() {
    let detector = BlockingDetector::with_threshold(Duration::from_millis(25));
    let mut g = TaskGroup::new().detector(&detector);
    g.spawn_named("w03-sleeper", async {
        tokio::time::sleep(Duration::from_millis(50)).await;
    });
    guard("join", g.join_all()).await;
    assert_eq!(detector.advice(), vec![]);
    let reported = workwise::advice::report();
    assert!(
        !reported.iter().any(|r| r.source == "task 'w03-sleeper'"),
        "{reported:?}"
    );
}

#[tokio::test]
async fn w03_counts_each_task_once_with_its_longest_poll() {
    let detector = BlockingDetector::with_threshold(Duration::ZERO);
    let looper = async {
        for ms in [1, 3, 2] {
            std::thread::sleep(Duration::from_millis(ms));
            tokio::task::yield_now().await;
        }
    };
    detector.watch("w03-looper", looper).await;
    detector
        .watch("w03-other", async {
            for _ in 0..3 {
                std::thread::sleep(Duration::from_millis(1));
                tokio::task::yield_now().await;
            }
        })
        .await;
    // Caught once, for a poll far under 100 ms: a preempted thread, maybe;
    // not a finding.
    detector
        .watch("w03-once", async {
            std::thread::sleep(Duration::from_millis(1))
        })
        .await;
    let advice = detector.advice();
    let sources: Vec<&str> = advice.iter().map(|a| a.source.as_str()).collect();
    assert_eq!(sources, ["task 'w03-looper'", "task 'w03-other'"]);
    // Three polls that slept (and perhaps the final one that returns Ready).
    assert!(
        advice[0].figure("blocked_polls").is_some_and(|n| n >= 3.0),
        "{}",
        advice[0]
    );
    assert!(
        advice[0].figure("longest_poll").is_some_and(|ms| ms >= 3.0),
        "{}",
        advice[0]
    );
    // Taking the reports does not forget what the advisor found.
    detector.take_reports();
    assert_eq!(detector.advice().len(), 2);
}

// ---------------------------------------------------------------- cancel safety

#[tokio::test]
async fn dropping_gather_limited_midway_drops_its_futures_and_pulls_no_more() {
    let census = Census::default();
    let c = census.clone();
    let futs = (0u64..).map(move |i| {
        let m = c.member();
        async move {
            if i >= 5 {
                std::future::pending::<()>().await;
            }
            drop(m);
            i
        }
    });
    let mut s = aio::gather_limited(futs, 3).unwrap();
    for want in 0..5 {
        assert_eq!(guard("next", s.next()).await, Some(want));
    }
    let made = census.made();
    drop(s);
    assert_eq!(census.dropped(), made, "a future in flight was not dropped");
    assert!(made <= 5 + 3, "made {made}: pulled past the limit");
}

#[tokio::test]
async fn dropping_gather_midway_drops_every_future() {
    let census = Census::default();
    let futs: Vec<_> = (0..10)
        .map(|_| {
            let m = census.member();
            async move {
                let _m = m;
                std::future::pending::<()>().await;
            }
        })
        .collect();
    let mut all = Box::pin(aio::gather(futs));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(all.as_mut().poll(&mut cx).is_pending());
    drop(all);
    assert_eq!(census.dropped(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_join_all_midway_aborts_the_tasks() {
    let census = Census::default();
    let mut g = TaskGroup::new();
    for _ in 0..4 {
        let m = census.member();
        g.spawn(async move {
            let _m = m;
            std::future::pending::<()>().await;
        });
    }
    let r = aio::timeout(Duration::from_millis(20), g.join_all()).await;
    assert_eq!(r, Err(TaskError::TimedOut));
    wait_for("the tasks to be dropped", || census.dropped() == 4).await;
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_future_is_dropped() {
    let census = Census::default();
    let m = census.member();
    let r = aio::timeout(Duration::from_millis(5), async move {
        let _m = m;
        std::future::pending::<()>().await;
    })
    .await;
    assert_eq!(r, Err(TaskError::TimedOut));
    assert_eq!(census.dropped(), 1);
}

#[tokio::test]
async fn dropping_run_blocking_before_it_starts_cancels_it() {
    let pool = Pool::io().max_workers(1).build().unwrap();
    let (open, gate) = mpsc::channel::<()>();
    let busy = aio::run_blocking(&pool, move || {
        let _ = gate.recv();
    });
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let queued = aio::run_blocking(&pool, move || r.store(true, Ordering::SeqCst));
    drop(queued);
    open.send(()).unwrap();
    guard("the busy task", busy).await.unwrap();
    let after = guard("a later task", aio::run_blocking(&pool, || 1)).await;
    assert_eq!(after, Ok(1));
    assert!(
        !ran.load(Ordering::SeqCst),
        "a dropped, unstarted run_blocking ran"
    );
}

#[tokio::test]
async fn dropping_a_spawn_named_task_detaches_it() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    drop(aio::spawn_named("detached", async move {
        let _ = tx.send(5);
    }));
    assert_eq!(guard("the detached task", rx).await, Ok(5));
}

// ---------------------------------------------------------------- auto traits

#[test]
fn aio_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    type Fut = std::future::Ready<u8>;
    type Futs = std::vec::IntoIter<Fut>;
    send_sync::<BlockingDetector>();
    send_sync::<aio::BlockingReport>();
    send_sync::<GatherBuildError>();
    send_sync::<TaskGroup<u8>>();
    send_sync::<aio::Task<u8>>();
    send_sync::<aio::RunBlocking<u8>>();
    send_sync::<aio::Timeout<Fut>>();
    send_sync::<aio::Watched<Fut>>();
    send_sync::<aio::Gather<Fut>>();
    send_sync::<aio::GatherLimited<Futs>>();
    send_sync::<aio::GatherUnordered<Futs>>();
}
