//! Loom models of the protocol: no grant is lost or doubled when two threads
//! race on the TAT.
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p workwise --release --lib loom_limiter`.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Waker};
use std::time::Duration;

use loom::sync::Arc;
use loom::thread;

use super::{RateLimiter, RetryAfter};
use crate::clock::ManualClock;

fn limiter() -> Arc<RateLimiter<ManualClock>> {
    let built = RateLimiter::per_second(10)
        .clock(ManualClock::new())
        .build();
    Arc::new(built.unwrap_or_else(|e| panic!("{e}")))
}

/// Rule 2: with a burst of 1, exactly one of two racing callers wins.
#[test]
fn loom_limiter_grants_one_permit_once() {
    loom::model(|| {
        let l = limiter();
        let other = {
            let l = l.clone();
            thread::spawn(move || l.try_acquire().is_ok())
        };
        let mine = l.try_acquire().is_ok();
        let theirs = other.join().unwrap_or(false);
        assert!(mine ^ theirs, "granted {mine} and {theirs}");
    });
}

/// Rule 3: two racing reservations take the next two slots, one each.
#[test]
fn loom_limiter_reservations_take_distinct_slots() {
    fn reserve(l: &RateLimiter<ManualClock>) -> bool {
        let fut = pin!(l.acquire_async());
        fut.poll(&mut Context::from_waker(Waker::noop())).is_ready()
    }
    loom::model(|| {
        let l = limiter();
        let other = {
            let l = l.clone();
            thread::spawn(move || reserve(&l))
        };
        let mine = reserve(&l);
        let theirs = other.join().unwrap_or(false);
        assert!(mine ^ theirs, "ready: {mine} and {theirs}");
        assert_eq!(l.try_acquire(), Err(RetryAfter(Duration::from_millis(200))));
    });
}
