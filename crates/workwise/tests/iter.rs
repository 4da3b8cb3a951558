//! Black-box tests of `Pool::map`, `Pool::map_unordered`, `as_completed`
//! (and its timeout) and `wait` (after Python's `concurrent.futures.wait`):
//! how slow items spread over the pool, what dropping an iterator early
//! does, and the edges (an empty input, a shut-down pool, a panicking item).
//!
//! Real-time waits use `wait_for` with a generous deadline, never a fixed
//! sleep followed by an assertion, and bodies that could hang run under
//! `within_deadline`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, RwLock};
use std::thread::{self, ThreadId};
use std::time::Duration;

use workwise::{as_completed, as_completed_timeout, wait, Pool, ReturnWhen, TaskError, TaskHandle};

const DEADLINE: Duration = Duration::from_secs(60);

/// Polls `cond` until it holds; fails the test after `DEADLINE`.
fn wait_for(what: &str, cond: impl FnMut() -> bool) {
    if let Err(e) = workwise::testing::wait_for(cond, DEADLINE) {
        panic!("timed out waiting for {what}: {e}");
    }
}

/// Runs `body` on its own thread and fails the test if it has not finished
/// within `DEADLINE` (a hang becomes a failure, not a stuck test run).
fn within_deadline<T: Send + 'static>(body: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let runner = thread::spawn(move || {
        let _ = tx.send(body());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(v) => {
            runner.join().unwrap();
            v
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("the test body hung past {DEADLINE:?}"),
        // The body panicked: re-raise its panic here.
        Err(mpsc::RecvTimeoutError::Disconnected) => match runner.join() {
            Err(payload) => std::panic::resume_unwind(payload),
            Ok(()) => unreachable!("the body returned without sending"),
        },
    }
}

/// The threads that ran the slow items of a 540-instant + 60-slow input.
type Seen = Arc<Mutex<Vec<(u32, ThreadId)>>>;

/// 540 instant items, then 60 that each sleep 20 ms and record their thread.
fn instant_then_slow(seen: &Seen) -> impl Fn(u32) -> u32 + Send + Sync + 'static {
    let seen = seen.clone();
    move |x| {
        if x >= 540 {
            thread::sleep(Duration::from_millis(20));
            seen.lock().unwrap().push((x, thread::current().id()));
        }
        x
    }
}

fn distinct_threads(seen: &Seen) -> usize {
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 60, "every slow item ran exactly once");
    seen.iter().map(|&(_, t)| t).collect::<HashSet<_>>().len()
}

#[test]
fn map_spreads_slow_items_after_instant_ones_over_the_io_pool() {
    let seen: Seen = Arc::default();
    let f = instant_then_slow(&seen);
    let out: Vec<Result<u32, TaskError>> = within_deadline(move || {
        let pool = Pool::io().max_workers(6).build().unwrap();
        pool.map(0..600u32, f).collect()
    });
    let want: Vec<Result<u32, TaskError>> = (0..600).map(Ok).collect();
    assert_eq!(out, want, "input order, each item exactly once");
    let threads = distinct_threads(&seen);
    assert!(threads >= 3, "60 slow items ran on {threads} thread(s)");
}

#[test]
fn map_unordered_spreads_slow_items_after_instant_ones_over_the_io_pool() {
    let seen: Seen = Arc::default();
    let f = instant_then_slow(&seen);
    let mut out: Vec<u32> = within_deadline(move || {
        let pool = Pool::io().max_workers(6).build().unwrap();
        pool.map_unordered(0..600u32, f)
            .map(Result::unwrap)
            .collect()
    });
    out.sort_unstable();
    assert_eq!(out, (0..600).collect::<Vec<_>>(), "each item exactly once");
    let threads = distinct_threads(&seen);
    assert!(threads >= 3, "60 slow items ran on {threads} thread(s)");
}

/// Builds the early-drop scenario: on a 2-worker pool, item 0 is instant and
/// every other item waits on a gate. After the first result, items 1 and 2
/// hold both workers and at least one more chunk is queued behind them.
/// Returns how many items ever started.
fn drop_after_first_result(unordered: bool) -> (usize, u64) {
    let pool = Pool::io().max_workers(2).build().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(RwLock::new(()));
    let closed = gate.write().unwrap();
    let f = {
        let (ran, gate) = (ran.clone(), gate.clone());
        move |x: u32| {
            ran.fetch_add(1, Ordering::SeqCst);
            if x > 0 {
                drop(gate.read().unwrap());
            }
            x
        }
    };
    let mut first = None;
    let mut it: Box<dyn Iterator<Item = Result<u32, TaskError>>> = if unordered {
        Box::new(pool.map_unordered(0..100u32, f))
    } else {
        Box::new(pool.map(0..100u32, f))
    };
    if let Some(r) = it.next() {
        first = Some(r);
    }
    assert_eq!(first, Some(Ok(0)));
    wait_for("both workers to block on the gate", || {
        ran.load(Ordering::SeqCst) >= 3
    });
    wait_for("a chunk queued behind them", || pool.stats().queued >= 1);
    drop(it);
    drop(closed);
    pool.shutdown();
    (ran.load(Ordering::SeqCst), pool.stats().cancelled)
}

#[test]
fn dropping_a_map_early_cancels_its_unstarted_chunks() {
    let (ran, cancelled) = within_deadline(|| drop_after_first_result(false));
    assert_eq!(ran, 3, "only items 0, 1 and 2 ever started");
    assert!(cancelled >= 1, "the queued chunks were cancelled");
}

#[test]
fn dropping_a_map_unordered_early_cancels_its_unstarted_chunks() {
    let (ran, cancelled) = within_deadline(|| drop_after_first_result(true));
    assert_eq!(ran, 3, "only items 0, 1 and 2 ever started");
    assert!(cancelled >= 1, "the queued chunks were cancelled");
}

#[test]
fn map_over_an_empty_input_yields_nothing_and_submits_nothing() {
    let pool = Pool::io().build().unwrap();
    assert_eq!(pool.map(Vec::<u8>::new(), |x| x).count(), 0);
    assert_eq!(pool.map_unordered(0..0, |x: u8| x).count(), 0);
    assert_eq!(pool.stats().submitted, 0);
    pool.shutdown();
    assert_eq!(pool.map(0..0, |x: u8| x).count(), 0);
}

#[test]
fn a_panicking_item_gives_its_error_in_place_and_the_rest_go_on() {
    let out: Vec<Result<u32, TaskError>> = within_deadline(|| {
        let pool = Pool::io().max_workers(4).build().unwrap();
        // Slow items mixed in make chunks hand items back; the panic must
        // still land at its own index.
        pool.map(0..2000u32, |x| {
            if x % 97 == 0 {
                thread::sleep(Duration::from_millis(1));
            }
            assert!(x != 1234, "bad item");
            x
        })
        .collect()
    });
    assert_eq!(out.len(), 2000);
    for (i, r) in out.into_iter().enumerate() {
        if i == 1234 {
            assert_eq!(
                r,
                Err(TaskError::Panicked {
                    message: "bad item".into()
                })
            );
        } else {
            assert_eq!(r, Ok(i as u32));
        }
    }
}

#[test]
fn map_on_a_shut_down_pool_says_closed_for_every_item_of_either_order() {
    let pool = Pool::io().build().unwrap();
    pool.shutdown();
    let out: Vec<_> = pool.map(0..5, |x: i32| x).collect();
    assert_eq!(out, vec![Err(TaskError::Closed); 5]);
    let out: Vec<_> = pool.map_unordered(0..5, |x: i32| x).collect();
    assert_eq!(out, vec![Err(TaskError::Closed); 5]);
}

#[test]
fn as_completed_over_handles_from_a_shut_down_pool_yields_closed_for_each() {
    let pool = Pool::io().build().unwrap();
    pool.shutdown();
    let handles: Vec<_> = (0..3).map(|i| pool.submit(move || i)).collect();
    let mut got: Vec<_> = as_completed(handles).collect();
    got.sort_by_key(|&(i, _)| i);
    assert_eq!(
        got,
        [
            (0, Err(TaskError::Closed)),
            (1, Err(TaskError::Closed)),
            (2, Err(TaskError::Closed))
        ]
    );
    assert_eq!(
        as_completed(Vec::<workwise::TaskHandle<u8>>::new()).count(),
        0
    );
}

#[test]
fn map_iterators_can_move_to_another_thread() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    let pool = Pool::io().build().unwrap();
    let ordered = pool.map(0..10u32, |x| x + 1);
    let unordered = pool.map_unordered(vec![String::from("a")], |s| s.len());
    send_sync(&ordered);
    send_sync(&unordered);
    let total: u32 = thread::scope(|s| {
        s.spawn(move || ordered.map(Result::unwrap).sum())
            .join()
            .unwrap()
    });
    assert_eq!(total, 55);
    assert_eq!(unordered.map(Result::unwrap).sum::<usize>(), 1);
}

/// `n` tasks that each wait for their own gate, then return their index;
/// the senders open the gates.
fn gated(pool: &Pool, n: usize) -> (Vec<mpsc::Sender<()>>, Vec<TaskHandle<usize>>) {
    (0..n)
        .map(|i| {
            let (tx, rx) = mpsc::channel::<()>();
            let h = pool.submit(move || {
                let _ = rx.recv();
                i
            });
            (tx, h)
        })
        .unzip()
}

fn results(handles: Vec<TaskHandle<usize>>) -> Vec<Result<usize, TaskError>> {
    handles
        .into_iter()
        .map(|mut h| h.wait_timeout(DEADLINE))
        .collect()
}

#[test]
fn wait_first_completed_returns_once_one_is_done_and_the_rest_pending() {
    let pool = Pool::io().build().unwrap();
    let (gates, handles) = gated(&pool, 3);
    gates[1].send(()).unwrap();
    let waited = within_deadline(move || wait(handles, None, ReturnWhen::FirstCompleted));
    assert_eq!(waited.done.len(), 1);
    assert_eq!(waited.pending.len(), 2);
    for g in &gates {
        let _ = g.send(());
    }
    assert_eq!(results(waited.done), [Ok(1)]);
    assert_eq!(results(waited.pending), [Ok(0), Ok(2)], "input order kept");
}

#[test]
fn wait_all_completed_with_a_timeout_returns_the_unfinished_ones_pending() {
    let pool = Pool::io().build().unwrap();
    let (gates, handles) = gated(&pool, 3);
    gates[0].send(()).unwrap();
    gates[2].send(()).unwrap();
    wait_for("tasks 0 and 2 to finish", || {
        handles[0].is_finished() && handles[2].is_finished()
    });
    let waited = within_deadline(move || {
        wait(
            handles,
            Some(Duration::from_millis(20)),
            ReturnWhen::AllCompleted,
        )
    });
    assert_eq!(waited.pending.len(), 1);
    gates[1].send(()).unwrap();
    assert_eq!(results(waited.done), [Ok(0), Ok(2)]);
    assert_eq!(results(waited.pending), [Ok(1)]);
}

#[test]
fn wait_all_completed_waits_for_every_task_even_with_duration_max() {
    let pool = Pool::io().build().unwrap();
    let (gates, handles) = gated(&pool, 4);
    let opener = thread::spawn(move || {
        for g in gates.iter().rev() {
            g.send(()).unwrap();
        }
    });
    let waited =
        within_deadline(move || wait(handles, Some(Duration::MAX), ReturnWhen::AllCompleted));
    opener.join().unwrap();
    assert!(waited.pending.is_empty());
    assert_eq!(results(waited.done), [Ok(0), Ok(1), Ok(2), Ok(3)]);
}

#[test]
fn wait_first_error_returns_on_a_failure_with_the_rest_pending() {
    let pool = Pool::io().build().unwrap();
    let (gates, mut handles) = gated(&pool, 2);
    handles.insert(1, pool.submit(|| -> usize { panic!("bad item") }));
    let waited = within_deadline(move || wait(handles, Some(DEADLINE), ReturnWhen::FirstError));
    assert_eq!(waited.done.len(), 1);
    assert_eq!(waited.pending.len(), 2);
    for g in &gates {
        g.send(()).unwrap();
    }
    assert!(matches!(
        &results(waited.done)[..],
        [Err(TaskError::Panicked { message })] if message.contains("bad item")
    ));
    assert_eq!(results(waited.pending), [Ok(0), Ok(1)]);
}

#[test]
fn wait_first_error_without_errors_waits_for_all() {
    let pool = Pool::io().build().unwrap();
    let (gates, handles) = gated(&pool, 3);
    let opener = thread::spawn(move || {
        for g in &gates {
            g.send(()).unwrap();
        }
    });
    let waited = within_deadline(move || wait(handles, None, ReturnWhen::FirstError));
    opener.join().unwrap();
    assert!(waited.pending.is_empty());
    assert_eq!(results(waited.done), [Ok(0), Ok(1), Ok(2)]);
}

#[test]
fn wait_on_no_handles_returns_at_once_whatever_it_waits_for() {
    for when in [
        ReturnWhen::FirstCompleted,
        ReturnWhen::FirstError,
        ReturnWhen::AllCompleted,
    ] {
        for timeout in [None, Some(Duration::ZERO), Some(Duration::MAX)] {
            let waited = within_deadline(move || wait(Vec::<TaskHandle<u8>>::new(), timeout, when));
            assert!(waited.done.is_empty() && waited.pending.is_empty());
        }
    }
}

#[test]
fn as_completed_timeout_stops_at_the_deadline_and_gives_the_rest_back() {
    let pool = Pool::io().build().unwrap();
    let (gates, handles) = gated(&pool, 3);
    gates[1].send(()).unwrap();
    let (yielded, pending) = within_deadline(move || {
        let mut it = as_completed_timeout(handles, Duration::from_millis(20));
        let yielded: Vec<_> = it.by_ref().collect();
        (yielded, it.into_pending())
    });
    assert_eq!(yielded, [(1, Ok(1))]);
    let indices: Vec<usize> = pending.iter().map(|(i, _)| *i).collect();
    assert_eq!(indices, [0, 2], "the unfinished ones, in input order");
    for g in &gates {
        let _ = g.send(());
    }
    let rest = results(pending.into_iter().map(|(_, h)| h).collect());
    assert_eq!(rest, [Ok(0), Ok(2)], "their results were not lost");
}

#[test]
fn as_completed_timeout_of_duration_max_yields_everything() {
    let pool = Pool::io().build().unwrap();
    let (gates, handles) = gated(&pool, 3);
    let opener = thread::spawn(move || {
        for g in &gates {
            g.send(()).unwrap();
        }
    });
    let (mut yielded, pending) = within_deadline(move || {
        let mut it = as_completed_timeout(handles, Duration::MAX);
        let yielded: Vec<_> = it.by_ref().collect();
        (yielded, it.into_pending())
    });
    opener.join().unwrap();
    yielded.sort_by_key(|(i, _)| *i);
    assert_eq!(yielded, [(0, Ok(0)), (1, Ok(1)), (2, Ok(2))]);
    assert!(pending.is_empty());
}

#[test]
fn as_completed_into_pending_after_a_break_gives_the_unread_handles() {
    let pool = Pool::io().build().unwrap();
    let (gates, handles) = gated(&pool, 3);
    gates[2].send(()).unwrap();
    let (first, it) = within_deadline(move || {
        let mut it = as_completed(handles);
        (it.next(), it)
    });
    assert_eq!(first, Some((2, Ok(2))));
    let pending = it.into_pending();
    let indices: Vec<usize> = pending.iter().map(|(i, _)| *i).collect();
    assert_eq!(indices, [0, 1]);
    for g in &gates {
        let _ = g.send(());
    }
    let rest = results(pending.into_iter().map(|(_, h)| h).collect());
    assert_eq!(rest, [Ok(0), Ok(1)]);
}

// ---- Moved from tests/pool.rs: map, map_unordered and as_completed ----

/// A gate that tasks wait on until the test opens it.
fn gate() -> (mpsc::Sender<()>, impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel::<()>();
    (tx, move || {
        let _ = rx.recv();
    })
}

#[test]
fn map_keeps_input_order_and_turns_panics_into_item_errors() {
    let pool = Pool::cpu().build().unwrap();
    let out: Vec<Result<u64, TaskError>> = pool
        .map(0..10_000u64, |x| {
            if x == 777 {
                panic!("no 777");
            }
            x * 3
        })
        .collect();
    assert_eq!(out.len(), 10_000);
    for (i, r) in out.into_iter().enumerate() {
        if i == 777 {
            assert_eq!(
                r,
                Err(TaskError::Panicked {
                    message: "no 777".into()
                })
            );
        } else {
            assert_eq!(r, Ok(i as u64 * 3));
        }
    }
}

#[test]
fn map_over_an_endless_iterator_is_lazy() {
    let pool = Pool::cpu().build().unwrap();
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = pulled.clone();
    let input = (0u64..).inspect(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    });
    let first: Vec<u64> = pool
        .map(input, |x| x + 1)
        .take(1000)
        .map(Result::unwrap)
        .collect();
    assert_eq!(first, (1..=1000).collect::<Vec<_>>());
    // At most two chunks per worker of at most 4096 items are in flight.
    let bound = 1000 + 2 * pool.max_workers() * 4096;
    assert!(pulled.load(Ordering::Relaxed) <= bound, "pulled {pulled:?}");
}

#[test]
fn map_unordered_yields_every_result_once() {
    let pool = Pool::io().build().unwrap();
    let mut out: Vec<u32> = pool
        .map_unordered(0..5000u32, |x| x ^ 0x55)
        .map(Result::unwrap)
        .collect();
    out.sort_unstable();
    let mut want: Vec<u32> = (0..5000u32).map(|x| x ^ 0x55).collect();
    want.sort_unstable();
    assert_eq!(out, want);
}

#[test]
fn map_on_a_shut_down_pool_says_closed_for_every_item() {
    let pool = Pool::io().build().unwrap();
    pool.shutdown();
    let out: Vec<_> = pool.map(0..3, |x: i32| x).collect();
    assert_eq!(out, vec![Err(TaskError::Closed); 3]);
}

#[test]
fn as_completed_yields_in_completion_order() {
    let pool = Pool::io().max_workers(3).build().unwrap();
    let mut gates = Vec::new();
    let handles: Vec<_> = (0..3)
        .map(|i| {
            let (open, wait) = gate();
            gates.push(open);
            pool.submit(move || {
                wait();
                i * 10
            })
        })
        .collect();
    let mut it = as_completed(handles);
    // Release in the order 2, 0, 1 and read each one before the next.
    for i in [2usize, 0, 1] {
        gates[i].send(()).unwrap();
        assert_eq!(it.next(), Some((i, Ok(i as i32 * 10))));
    }
    assert_eq!(it.next(), None);
}
