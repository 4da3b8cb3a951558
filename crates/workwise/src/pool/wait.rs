//! How a thread waits for a task, a scope or a map to finish: in one place,
//! for pool workers and other threads alike.
//!
//! # Protocol
//!
//! 10. A worker that waits without a deadline may run work inside the wait,
//!     but only work that cannot recurse without bound: the task it waits
//!     for, if no one started it ([`help_with`]), and jobs from its own LIFO
//!     deque, and only while at most [`MAX_HELP_DEPTH`](crate::MAX_HELP_DEPTH) jobs are nested on
//!     its stack. A wait with a deadline never runs other work (a job picked
//!     up could run past the deadline). A worker of an elastic pool that
//!     parks counts itself in `blocked`, and the pool may then start that
//!     many workers beyond its maximum (a managed blocker, as in Java's
//!     ForkJoinPool), so queued work goes on while it waits.
//!
//! The waiter itself is woken by rule 3 of the task cell (`task.rs`): it is
//! registered under the cell's lock while the task is not done, and taken
//! and woken by whoever stores the result.

use std::rc::Rc;
use std::time::{Duration, Instant};

use super::registry::Flavor;
use super::stats::WorkerStats;
use super::task::Outcome;
use super::worker::{current_worker, WorkerCtx};
use crate::sync::{spin_until, thread, Thread};

/// Runs `work` (a task the caller waits for, which nobody has started) on
/// the calling thread if it is a worker of the pool whose id is `pool` and
/// may nest one more job (rule 10); returns whether it ran.
pub(crate) fn help_with(pool: usize, work: impl FnOnce(&WorkerStats) -> Outcome) -> bool {
    let Some(ctx) = current_worker() else {
        return false;
    };
    if ctx.registry.id() != pool || !ctx.may_help() {
        return false;
    }
    // The task's queue entry stays behind; a worker that reaches it later
    // finds it started (`Outcome::RanElsewhere`) and gives its place back.
    ctx.run_nested(None, work);
    true
}

/// Counts a worker of an elastic pool as blocked while it lives, so the
/// pool may start a worker in its place (rule 10).
struct Blocked(Rc<WorkerCtx>);

impl Blocked {
    fn enter(ctx: Rc<WorkerCtx>) -> Blocked {
        ctx.registry.block();
        Blocked(ctx)
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        self.0.registry.unblock();
    }
}

/// Waits until `done()` returns true or the deadline passes; returns whether
/// it is done. Without a deadline, on a pool worker, it runs jobs from the
/// worker's own LIFO deque while it waits, up to [`MAX_HELP_DEPTH`](crate::MAX_HELP_DEPTH) nested
/// jobs (rule 10); with a deadline it never does. Then it spins briefly, and
/// parks after `register`ing the thread to be unparked; a worker of an
/// elastic pool that parks lets the pool start another in its place.
pub(crate) fn wait_until(
    done: impl Fn() -> bool,
    deadline: Option<Instant>,
    register: impl FnOnce(Thread) -> bool,
) -> bool {
    wait_with(done, deadline, deadline.is_none(), register)
}

/// [`wait_until`] without a deadline whose parks each last at most
/// `recheck`, after which `done()` is read again, so a wake-up that went
/// missing costs at most `recheck`, never a hang. It helps as a wait
/// without a deadline does (the rechecks are not a caller's deadline). For
/// waits whose wakers are not the task cell's: `iter`'s ready queue.
pub(crate) fn wait_until_rechecking(
    done: impl Fn() -> bool,
    recheck: Duration,
    register: impl Fn(Thread) -> bool,
) {
    while !wait_with(
        &done,
        Some(crate::clock::deadline_after(recheck).unwrap_or_else(far_future)),
        true,
        &register,
    ) {}
}

fn wait_with(
    done: impl Fn() -> bool,
    deadline: Option<Instant>,
    help: bool,
    register: impl FnOnce(Thread) -> bool,
) -> bool {
    if done() {
        return true;
    }
    let past = |d: Option<Instant>| d.is_some_and(|d| Instant::now() >= d);
    let worker = current_worker();
    if let Some(ctx) = worker.as_ref().filter(|_| help) {
        while ctx.may_help() && ctx.help_locally() {
            if done() {
                return true;
            }
        }
    }
    if spin_until(|| done() || past(deadline)) {
        return done();
    }
    let _blocked = worker
        .filter(|ctx| ctx.registry.cfg.flavor == Flavor::Elastic)
        .map(Blocked::enter);
    park_until(done, deadline, register)
}

/// Parks the current thread until `done()` or the deadline; the thread is
/// registered with `register` (which returns false when already done).
pub(crate) fn park_until(
    done: impl Fn() -> bool,
    deadline: Option<Instant>,
    register: impl FnOnce(Thread) -> bool,
) -> bool {
    if !register(thread::current()) {
        return true;
    }
    loop {
        if done() {
            return true;
        }
        match deadline {
            None => thread::park(),
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    return done();
                }
                #[cfg(not(loom))]
                thread::park_timeout(d - now);
                // Loom has no time: a deadline is modelled as never coming.
                #[cfg(loom)]
                thread::park();
            }
        }
    }
}

/// An instant so far away that no wait reaches it (about 30 years on), for
/// a `Duration` too long to add to now.
pub(crate) fn far_future() -> Instant {
    let now = Instant::now();
    let mut step = Duration::from_secs(1 << 30);
    loop {
        if let Some(t) = now.checked_add(step) {
            return t;
        }
        step /= 2;
    }
}
