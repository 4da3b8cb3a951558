//! An `event_listener::Event` with a count of its waiters, so that a notify
//! with nobody waiting costs a fence and a load instead of the event's lock.
//!
//! # Protocol
//!
//! 1. A waiter counts itself (SeqCst), fences, then registers its listener,
//!    then re-checks its condition before it waits; it uncounts itself when
//!    the listener is dropped.
//! 2. A notifier changes the condition, fences (SeqCst), and notifies only if
//!    the count is not zero.
//! 3. By 1 and 2 (the two fences), either the notifier sees the waiter's
//!    count and notifies, or the waiter's re-check sees the change. A notify
//!    that comes between the count and the registration is ordered by the
//!    event's own lock: if it takes the lock first, the registration that
//!    follows sees the change in its re-check.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::task::{Context, Poll};
use std::time::Instant;

use crossbeam_utils::CachePadded;
use event_listener::{Event, EventListener, Listener};

use crate::sync::{fence, AtomicUsize};

#[derive(Debug)]
pub(super) struct Signal {
    event: Event,
    waiters: CachePadded<AtomicUsize>,
}

impl Signal {
    pub(super) fn new() -> Self {
        Signal {
            event: Event::new(),
            waiters: CachePadded::new(AtomicUsize::new(0)),
        }
    }

    /// Rule 2, waking one more waiter.
    #[inline]
    pub(super) fn notify_one(&self) {
        fence(SeqCst);
        if self.waiters.load(Relaxed) != 0 {
            self.event.notify_additional_relaxed(1);
        }
    }

    /// Rule 2, waking every waiter.
    #[inline]
    pub(super) fn notify_all(&self) {
        fence(SeqCst);
        if self.waiters.load(Relaxed) != 0 {
            self.event.notify_relaxed(usize::MAX);
        }
    }

    /// Whether anyone waits; the caller fenced (SeqCst) after its change
    /// (rule 2), and a `true` is followed by a notify, which fences again.
    #[inline]
    pub(super) fn waiting(&self) -> bool {
        self.waiters.load(Relaxed) != 0
    }

    /// Rule 1: the caller must re-check its condition after this returns.
    pub(super) fn listen(&self) -> Waiter<'_> {
        self.waiters.fetch_add(1, SeqCst);
        let counted = Counted(self);
        fence(SeqCst);
        Waiter {
            listener: self.event.listen(),
            _counted: counted,
        }
    }
}

/// Uncounts a waiter when it goes, however it goes (rule 1).
struct Counted<'a>(&'a Signal);

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.waiters.fetch_sub(1, Relaxed);
    }
}

/// A counted listener; see [`Signal::listen`].
pub(super) struct Waiter<'a> {
    listener: EventListener,
    _counted: Counted<'a>,
}

impl Waiter<'_> {
    pub(super) fn wait(self) {
        self.listener.wait();
    }

    /// Whether it was notified before the deadline.
    pub(super) fn wait_deadline(self, deadline: Instant) -> bool {
        self.listener.wait_deadline(deadline).is_some()
    }
}

impl Future for Waiter<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.listener).poll(cx)
    }
}
