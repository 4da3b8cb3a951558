//! Loom models of the pool's protocols, over the real `Capacity`, `Sleep`,
//! task cell and `Drain` (crossbeam-deque is not loom-aware, so a
//! `Mutex<VecDeque>` stands in for the queues):
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p workwise --release --lib loom_`.
//!
//! Each model has a broken twin: built with `--cfg workwise_broken_pool`,
//! every protocol loses its key step (see the `workwise_broken_pool` lines in
//! `capacity.rs`, `sleep.rs`, `task.rs` and `registry.rs`), and
//! `loom_broken_pool_is_caught` checks, in child processes, that each model
//! then fails. Loom aborts after a deadlock, hence the child processes.

use std::collections::VecDeque;
use std::sync::atomic::Ordering::SeqCst;

use loom::sync::atomic::AtomicUsize;
use loom::sync::{Arc, Mutex};
use loom::thread;

use super::capacity::{Capacity, Refused};
use super::registry::Drain;
use super::sleep::{Sleep, Woke};
use super::stats::WorkerStats;
use super::task::{Job, TaskCell, TaskError, TaskHandle};

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.max_branches = 100_000;
    builder.check(f);
}

/// A worker as `worker.rs` runs one, over a stand-in queue: it takes one
/// job, announcing what it finds and sleeping when it finds nothing.
fn take_one(cap: &Capacity, sleep: &Sleep, q: &Mutex<VecDeque<u32>>) -> u32 {
    loop {
        if let Some(job) = q.lock().unwrap().pop_front() {
            cap.release(); // rule 9: before the search ends
            if sleep.work_found(|| cap.queued() > 0) {
                sleep.wake_one();
            }
            return job;
        }
        let woke = sleep.no_work_found(0, || cap.is_idle(), None, || {}, || false);
        assert_eq!(woke, Woke::ToLook);
        // A job reserved but not yet pushed keeps the worker looking, as
        // the real worker's spin does; let the submitter run.
        thread::yield_now();
    }
}

/// Rules 3 and 4: a submit racing a worker on its way to sleep is never
/// lost (a lost wake-up leaves the worker parked: loom reports a deadlock).
pub(super) fn submit_vs_sleep() {
    model(|| {
        let cap = Arc::new(Capacity::new(4));
        let sleep = Arc::new(Sleep::new());
        let q = Arc::new(Mutex::new(VecDeque::new()));
        sleep.start_looking(); // the spawner counts a new worker as searching
        let worker = {
            let (cap, sleep, q) = (cap.clone(), sleep.clone(), q.clone());
            thread::spawn(move || take_one(&cap, &sleep, &q))
        };
        cap.reserve(false, false).unwrap();
        q.lock().unwrap().push_back(7);
        sleep.new_jobs(); // a fixed pool: nothing to start
        assert_eq!(worker.join().unwrap(), 7);
    });
}

/// Rules 1 and 2: a reservation racing the close either is refused or its
/// job is seen by the drain, which ends only at "closed and empty".
pub(super) fn reserve_vs_close() {
    model(|| {
        let cap = Arc::new(Capacity::new(4));
        let q = Arc::new(Mutex::new(VecDeque::new()));
        let submitter = {
            let (cap, q) = (cap.clone(), q.clone());
            thread::spawn(move || match cap.reserve(false, false) {
                Ok(()) => {
                    q.lock().unwrap().push_back(1u32);
                    true
                }
                Err(Refused::Closed) => false,
                Err(Refused::Full) => unreachable!("capacity 4"),
            })
        };
        cap.close();
        let mut drained = 0;
        while !cap.is_closed_and_empty() {
            if q.lock().unwrap().pop_front().is_some() {
                cap.release();
                drained += 1;
            } else {
                thread::yield_now();
            }
        }
        let accepted = submitter.join().unwrap();
        assert_eq!(drained, usize::from(accepted), "an accepted job was lost");
    });
}

/// The task cell's rules 1-3: a run, a cancel and a waiter race; exactly
/// one of "ran" and "cancelled" wins, and the waiter always wakes.
pub(super) fn complete_vs_cancel_vs_wait() {
    model(|| {
        let runs = Arc::new(AtomicUsize::new(0));
        let cell = {
            let runs = runs.clone();
            std::sync::Arc::new(TaskCell::new(
                move || {
                    runs.fetch_add(1, SeqCst);
                    5
                },
                None,
                0,
            ))
        };
        let job: std::sync::Arc<dyn Job> = cell.clone();
        let handle = TaskHandle::from_cell(cell);
        let runner = thread::spawn(move || {
            job.run(&WorkerStats::default());
        });
        let cancelled = handle.cancel();
        let result = handle.wait();
        runner.join().unwrap();
        match result {
            Ok(5) => assert!(!cancelled && runs.load(SeqCst) == 1),
            Err(TaskError::Cancelled) => assert!(cancelled && runs.load(SeqCst) == 0),
            other => panic!("unexpected {other:?}"),
        }
    });
}

/// Rule 11: two shutdowns at once; each returns only after the drain ran,
/// and the drain runs once.
pub(super) fn concurrent_drains() {
    model(|| {
        let drain = Arc::new(Drain::new());
        let drained = Arc::new(AtomicUsize::new(0));
        let other = {
            let (drain, drained) = (drain.clone(), drained.clone());
            thread::spawn(move || {
                drain.once(|| {
                    drained.fetch_add(1, SeqCst);
                });
                drained.load(SeqCst)
            })
        };
        drain.once(|| {
            drained.fetch_add(1, SeqCst);
        });
        assert_eq!(drained.load(SeqCst), 1, "returned before the drain ended");
        assert_eq!(other.join().unwrap(), 1, "returned before the drain ended");
    });
}

#[cfg(workwise_broken_pool)]
const MODELS: [(&str, fn()); 4] = [
    ("submit_vs_sleep", submit_vs_sleep),
    ("reserve_vs_close", reserve_vs_close),
    ("complete_vs_cancel_vs_wait", complete_vs_cancel_vs_wait),
    ("concurrent_drains", concurrent_drains),
];

#[test]
#[cfg(not(workwise_broken_pool))]
fn loom_pool_submit_vs_sleep() {
    submit_vs_sleep();
}

#[test]
#[cfg(not(workwise_broken_pool))]
fn loom_pool_reserve_vs_close() {
    reserve_vs_close();
}

#[test]
#[cfg(not(workwise_broken_pool))]
fn loom_pool_complete_vs_cancel_vs_wait() {
    complete_vs_cancel_vs_wait();
}

#[test]
#[cfg(not(workwise_broken_pool))]
fn loom_pool_concurrent_drains() {
    concurrent_drains();
}

/// With the broken protocols, every model must fail: each runs in a child
/// process (`WORKWISE_LOOM_MODEL` names it) and must exit unsuccessfully.
#[test]
#[cfg(workwise_broken_pool)]
fn loom_broken_pool_is_caught() {
    const CHILD: &str = "WORKWISE_LOOM_MODEL";
    if let Some(name) = std::env::var_os(CHILD) {
        let (_, run) = MODELS
            .iter()
            .find(|(n, _)| name == *n)
            .expect("a known model");
        run();
        return;
    }
    for (name, _) in MODELS {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "pool::loom_tests::loom_broken_pool_is_caught",
                "--nocapture",
            ])
            .env(CHILD, name)
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "the broken {name} passed its model:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("broken {name}: caught");
    }
}
