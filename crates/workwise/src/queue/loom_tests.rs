//! Loom models of the queue's protocol (module docs, rules 1-5, and 7 with
//! the `loom_counted_*` twins on linked blocks):
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p workwise --release --lib loom_`.
//!
//! `loom_broken_join_is_caught` builds with `--cfg workwise_broken_join`,
//! which drops, one at a time, the joiner's second sum of `unfinished` and
//! the done's fence (rule 3): the model must then find the lost wake-up
//! each time, which proves it can fail.
//!
//! The models use a capacity of 2: concurrent-queue special-cases a capacity
//! of 1 with a slot whose push and pop spin on each other, and loom's branch
//! limit stops such spins before the model ends.

use loom::thread;

use super::items::Items;
use super::Queue;

/// The array storage (capacity 2: see above).
fn array() -> Queue<u32> {
    Queue::bounded(2).unwrap()
}

/// Rule 7: linked blocks with the capacity counted by the queue.
fn counted() -> Queue<u32> {
    Queue::with(Items::counted(2), Some(2))
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.max_branches = 100_000;
    builder.check(f);
}

#[test]
fn loom_put_get_done_join() {
    put_get_done_join(array);
}

#[test]
fn loom_counted_put_get_done_join() {
    put_get_done_join(counted);
}

fn put_get_done_join(new: fn() -> Queue<u32>) {
    model(move || {
        let q = new();
        let consumer = {
            let q = q.clone();
            thread::spawn(move || {
                let mut sum = 0;
                for _ in 0..3 {
                    sum += q.get().map(|i| i.into_inner()).unwrap_or(0);
                }
                sum
            })
        };
        // The third put waits for room (capacity 2).
        q.put(1).unwrap();
        q.put(2).unwrap();
        q.put(3).unwrap();
        q.join();
        assert_eq!(q.unfinished(), 0);
        assert_eq!(consumer.join().unwrap(), 6);
    });
}

#[test]
fn loom_close_drains_then_refuses() {
    close_drains_then_refuses(array);
}

#[test]
fn loom_counted_close_drains_then_refuses() {
    close_drains_then_refuses(counted);
}

fn close_drains_then_refuses(new: fn() -> Queue<u32>) {
    model(move || {
        let q = new();
        q.put(1).unwrap();
        let consumer = {
            let q = q.clone();
            thread::spawn(move || {
                let mut got = 0;
                while let Ok(item) = q.get() {
                    got += *item;
                }
                got
            })
        };
        let refused = match q.put(2) {
            Ok(()) => 0,
            Err(e) => e.into_inner(),
        };
        q.close();
        let got = consumer.join().unwrap();
        // Every item was delivered once or handed back: nothing lost.
        assert_eq!(got + refused, 3);
        q.join();
    });
}

/// Rule 3 with the last two dones on two threads at once: one of them must
/// see the other's count and wake the joiner.
#[test]
fn loom_two_last_dones_wake_the_joiner() {
    model(|| {
        let q = array();
        q.put(1).unwrap();
        q.put(2).unwrap();
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let q = q.clone();
                thread::spawn(move || drop(q.get().unwrap()))
            })
            .collect();
        q.join();
        assert_eq!(q.unfinished(), 0);
        for c in consumers {
            c.join().unwrap();
        }
    });
}

fn join_after_one_get() {
    model(|| {
        let q = Queue::<u32>::bounded(2).unwrap();
        q.put(7).unwrap();
        let consumer = {
            let q = q.clone();
            thread::spawn(move || drop(q.get().unwrap()))
        };
        q.join();
        consumer.join().unwrap();
    });
}

/// With the real join, the model passes.
#[test]
#[cfg(not(workwise_broken_join))]
fn loom_broken_join_is_caught() {
    join_after_one_get();
}

/// With each broken join (`WORKWISE_BROKEN_JOIN=reread`: no second sum,
/// `=fence`: no fence after a done), the model must report a deadlock.
/// Loom aborts the process after a deadlock (its objects panic while
/// unwinding), so the model runs in a child process and this test reads how
/// it ended.
#[test]
#[cfg(workwise_broken_join)]
fn loom_broken_join_is_caught() {
    const CHILD: &str = "WORKWISE_LOOM_CHILD";
    if std::env::var_os(CHILD).is_some() {
        join_after_one_get();
        return;
    }
    for broken in ["reread", "fence"] {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "queue::loom_tests::loom_broken_join_is_caught",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .env("WORKWISE_BROKEN_JOIN", broken)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "the join broken by '{broken}' passed the model"
        );
        assert!(stderr.contains("deadlock"), "{broken}: {stderr}");
    }
}

/// Rules 2 and 3: an `OwnedItem` taken on one thread and dropped on
/// another (as in a pool task) counts its done in that thread's slot and
/// wakes the joiner.
#[test]
fn loom_owned_item_done_on_another_thread_wakes_join() {
    model(|| {
        let q = array();
        q.put(1).unwrap();
        let item = q.get_owned().unwrap();
        let worker = thread::spawn(move || drop(item));
        q.join();
        assert_eq!(q.unfinished(), 0);
        worker.join().unwrap();
    });
}
