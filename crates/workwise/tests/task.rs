//! Black-box tests of `TaskHandle`: cancelling, waiting (with and without a
//! timeout, from a worker, from async code), reading results, and panics in
//! a task, its result, its payload or its waker.
//!
//! Real-time waits use `wait_for` with a generous deadline, never a fixed
//! sleep followed by an assertion.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use workwise::{Pool, TaskError};

const DEADLINE: Duration = Duration::from_secs(60);

/// Polls `cond` until it holds; fails the test after `DEADLINE`.
fn wait_for(what: &str, cond: impl FnMut() -> bool) {
    if let Err(e) = workwise::testing::wait_for(cond, DEADLINE) {
        panic!("timed out waiting for {what}: {e}");
    }
}

/// A gate that tasks wait on until the test opens it.
fn gate() -> (mpsc::Sender<()>, impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel::<()>();
    (tx, move || {
        let _ = rx.recv();
    })
}

#[test]
fn one_panicking_task_among_ten_thousand_is_an_error_and_the_pool_keeps_its_size() {
    let pool = Pool::cpu().name("panicky").build().unwrap();
    let handles: Vec<_> = (0..10_000u32)
        .map(|i| {
            pool.submit(move || {
                if i == 4321 {
                    panic!("item {i} is bad");
                }
                i
            })
        })
        .collect();
    let mut ok = 0;
    for (i, h) in handles.into_iter().enumerate() {
        match h.wait() {
            Ok(v) => {
                assert_eq!(v as usize, i);
                ok += 1;
            }
            Err(TaskError::Panicked { message }) => {
                assert_eq!(i, 4321);
                assert_eq!(message, "item 4321 is bad");
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(ok, 9_999);
    let stats = pool.stats();
    assert_eq!(stats.panicked, 1);
    assert_eq!(stats.live_workers, pool.max_workers() as u64);
    // The pool still works after the panic.
    assert_eq!(pool.submit(|| 5).wait(), Ok(5));
}

#[test]
fn a_task_cancelled_before_it_starts_never_runs() {
    let pool = Pool::io().max_workers(1).build().unwrap();
    let (open, wait) = gate();
    let blocker = pool.submit(wait);
    let ran = Arc::new(AtomicBool::new(false));
    let ran2 = ran.clone();
    let queued = pool.submit(move || ran2.store(true, Ordering::SeqCst));
    assert!(queued.cancel());
    assert!(queued.is_finished());
    open.send(()).unwrap();
    blocker.wait().unwrap();
    assert_eq!(queued.wait(), Err(TaskError::Cancelled));
    pool.shutdown();
    assert!(!ran.load(Ordering::SeqCst));
    assert_eq!(pool.stats().cancelled, 1);
}

/// Python's `Future.cancel()` returns True for a future already cancelled:
/// so does a second `cancel`, before and after the result was read.
#[test]
fn cancel_on_a_cancelled_task_returns_true_again() {
    let pool = Pool::io().max_workers(1).build().unwrap();
    let (open, wait) = gate();
    let blocker = pool.submit(wait);
    let mut queued = pool.submit(|| "never");
    assert!(queued.cancel());
    assert!(queued.cancel(), "a cancelled task stays cancelled");
    assert_eq!(queued.try_result(), Some(Err(TaskError::Cancelled)));
    assert!(queued.cancel(), "still cancelled once the result was read");
    // A second read gives `ResultTaken`, as for any result already read.
    assert_eq!(queued.wait_timeout(DEADLINE), Err(TaskError::ResultTaken));
    open.send(()).unwrap();
    blocker.wait().unwrap();
    pool.shutdown();
    assert_eq!(pool.stats().cancelled, 1, "cancelled once, counted once");
}

#[test]
fn cancel_after_the_task_finished_returns_false() {
    let pool = Pool::io().build().unwrap();
    let mut h = pool.submit(|| 5);
    wait_for("the task to finish", || h.is_finished());
    assert!(!h.cancel());
    assert!(!h.cancel());
    assert_eq!(h.try_result(), Some(Ok(5)));
    assert!(
        !h.cancel(),
        "a finished task whose result was read is not cancelled"
    );
    let failed = pool.submit(|| -> u8 { panic!("boom") });
    wait_for("the panicking task to finish", || failed.is_finished());
    assert!(!failed.cancel(), "a task that failed is not cancelled");
}

#[test]
fn a_running_task_cannot_be_cancelled() {
    let pool = Pool::io().build().unwrap();
    let (started_tx, started) = mpsc::channel();
    let (open, wait) = gate();
    let h = pool.submit(move || {
        started_tx.send(()).unwrap();
        wait();
        "done"
    });
    started.recv().unwrap();
    assert!(!h.cancel());
    open.send(()).unwrap();
    assert_eq!(h.wait(), Ok("done"));
}

#[test]
fn wait_timeout_times_out_and_the_task_goes_on() {
    let pool = Pool::io().build().unwrap();
    let (open, wait) = gate();
    let mut h = pool.submit(move || {
        wait();
        7
    });
    assert_eq!(
        h.wait_timeout(Duration::from_millis(20)),
        Err(TaskError::TimedOut)
    );
    assert!(!h.is_finished());
    open.send(()).unwrap();
    assert_eq!(h.wait_timeout(DEADLINE), Ok(7));
    assert_eq!(h.wait_timeout(DEADLINE), Err(TaskError::ResultTaken));
}

#[test]
fn try_result_gives_none_then_the_result() {
    let pool = Pool::io().build().unwrap();
    let (open, wait) = gate();
    let mut h = pool.submit(move || {
        wait();
        3
    });
    assert_eq!(h.try_result(), None);
    open.send(()).unwrap();
    let mut got = None;
    wait_for("the task to finish", || {
        got = h.try_result();
        got.is_some()
    });
    assert_eq!(got, Some(Ok(3)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handles_are_futures_awaited_inside_tokio() {
    let pool = Pool::cpu().build().unwrap();
    let handles: Vec<_> = (0..100u64).map(|i| pool.submit(move || i * i)).collect();
    let mut total = 0;
    for h in handles {
        total += h.await.unwrap();
    }
    assert_eq!(total, (0..100u64).map(|i| i * i).sum::<u64>());
    let io = Pool::io().build().unwrap();
    let slow = io.submit(|| {
        thread::sleep(Duration::from_millis(10));
        "slept"
    });
    assert_eq!(
        tokio::time::timeout(DEADLINE, slow).await.unwrap(),
        Ok("slept")
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_handle_wakes_a_single_threaded_runtime() {
    let pool = Pool::io().build().unwrap();
    let (open, wait) = gate();
    let h = pool.submit(move || {
        wait();
        1
    });
    let opener = tokio::spawn(async move { open.send(()).unwrap() });
    assert_eq!(h.await, Ok(1));
    opener.await.unwrap();
}

#[test]
fn wait_timeout_on_a_worker_keeps_its_deadline() {
    // One worker: a task waits, with a deadline, on work queued behind it.
    // It must not pick up the queued `slow` task (blocked on a gate) while
    // it waits, or its 20 ms deadline would stretch until the gate opens.
    let pool = Arc::new(Pool::io().max_workers(1).build().unwrap());
    let (open, wait) = gate();
    let p = pool.clone();
    let mut outer = pool.submit(move || {
        let slow = p.submit(wait);
        let mut quick = p.submit(|| 1);
        let r = quick.wait_timeout(Duration::from_millis(20));
        (r, slow, quick)
    });
    let (r, slow, quick) = outer.wait_timeout(DEADLINE).unwrap();
    assert_eq!(r, Err(TaskError::TimedOut));
    open.send(()).unwrap();
    assert_eq!(slow.wait(), Ok(()));
    assert_eq!(quick.wait(), Ok(1));
}

/// A value whose `Drop` panics.
struct PanicsOnDrop;
impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("drop panicked");
    }
}

#[test]
fn a_result_whose_drop_panics_does_not_kill_the_worker() {
    let pool = Pool::io().max_workers(1).build().unwrap();
    // The handles are dropped while the tasks wait behind a gate, so each
    // result is dropped on the worker, after its task ran.
    let (open, blocker) = gate();
    let first = pool.submit(blocker);
    for _ in 0..3 {
        drop(pool.submit(|| PanicsOnDrop));
    }
    open.send(()).unwrap();
    assert!(first.wait().is_ok());
    let mut h = pool.submit(|| 7);
    assert_eq!(h.wait_timeout(DEADLINE), Ok(7));
    assert_eq!(pool.stats().live_workers, 1);
}

#[test]
fn a_panic_payload_whose_drop_panics_still_resolves_the_handle() {
    let pool = Pool::io().max_workers(1).build().unwrap();
    let mut h = pool.submit(|| -> u32 { std::panic::panic_any(PanicsOnDrop) });
    assert!(matches!(
        h.wait_timeout(DEADLINE),
        Err(TaskError::Panicked { .. })
    ));
    let mut h = pool.submit(|| 7);
    assert_eq!(h.wait_timeout(DEADLINE), Ok(7));
    assert_eq!(pool.stats().live_workers, 1);
}

#[test]
fn a_panicking_waker_does_not_kill_the_worker() {
    use std::future::Future;
    use std::task::{Context, Wake, Waker};
    struct Boom;
    impl Wake for Boom {
        fn wake(self: Arc<Self>) {
            panic!("waker panicked");
        }
    }
    let pool = Pool::io().max_workers(1).build().unwrap();
    let (open, blocker) = gate();
    let mut h = pool.submit(blocker);
    let waker = Waker::from(Arc::new(Boom));
    let mut cx = Context::from_waker(&waker);
    assert!(std::pin::Pin::new(&mut h).poll(&mut cx).is_pending());
    open.send(()).unwrap();
    wait_for("the task to finish", || h.is_finished());
    let mut next = pool.submit(|| 7);
    assert_eq!(next.wait_timeout(DEADLINE), Ok(7));
    assert_eq!(pool.stats().live_workers, 1);
}

#[test]
fn a_cancelled_closure_whose_drop_panics_does_not_kill_the_worker() {
    let pool = Pool::io().max_workers(1).build().unwrap();
    let (open, blocker) = gate();
    let first = pool.submit(blocker);
    let guard = PanicsOnDrop;
    let doomed = pool.submit(move || drop(guard));
    assert!(doomed.cancel() || doomed.is_finished());
    open.send(()).unwrap();
    assert!(first.wait().is_ok());
    let mut h = pool.submit(|| 7);
    assert_eq!(h.wait_timeout(DEADLINE), Ok(7));
    assert_eq!(pool.stats().live_workers, 1);
}
