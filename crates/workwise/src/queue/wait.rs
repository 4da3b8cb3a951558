//! The queue's two wait loops, one for threads and one for async code:
//! every put, get and join that waits runs one of them (rules 3 and 4 of
//! the [queue's protocol](super)), with its own attempt.
//!
//! An attempt takes the caller's state (the item a put still holds, `()`
//! for a get or a join) and either finishes, with the call's answer, or
//! hands the state back to try again. A loop tries, spins briefly while
//! the caller's `ready` is false, registers a listener on the signal that
//! the awaited change notifies, tries again (the re-check of rules 1-3 of
//! `signal.rs`), and only then sleeps. A blocking loop whose deadline
//! passes tries once more and hands the state back if that fails too.

use std::time::Instant;

use super::signal::Signal;
use crate::sync::spin_until;

/// Where in a wait loop an attempt is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// At the top of the loop, before any listener.
    Fresh,
    /// With a listener registered: the re-check that keeps a wake-up from
    /// being lost.
    Listening,
    /// After the deadline passed: the last try.
    Deadline,
}

/// The blocking wait loop (rule 4; rule 3 for joins).
///
/// Returns the first attempt that finishes, or `Err` with the state when
/// `deadline` passed and the last attempt did not finish. With no deadline
/// it returns only through an attempt.
#[inline]
pub(super) fn wait_until<S, R>(
    signal: &Signal,
    deadline: Option<Instant>,
    mut ready: impl FnMut() -> bool,
    mut state: S,
    mut attempt: impl FnMut(S, Phase) -> Result<R, S>,
) -> Result<R, S> {
    loop {
        state = match attempt(state, Phase::Fresh) {
            Ok(done) => return Ok(done),
            Err(state) => state,
        };
        if spin_until(&mut ready) {
            continue;
        }
        let listener = signal.listen();
        state = match attempt(state, Phase::Listening) {
            Ok(done) => return Ok(done),
            Err(state) => state,
        };
        match deadline {
            None => listener.wait(),
            Some(d) => {
                if !listener.wait_deadline(d) {
                    return attempt(state, Phase::Deadline);
                }
            }
        }
    }
}

/// The async wait loop (rule 4; rule 3 for joins): as
/// [`wait_until`], with no spin and no deadline.
///
/// Cancel safety: a dropped future drops its listener, whose notification
/// passes to another waiter (rule 4), and the state it held.
pub(super) async fn wait_async<S, R>(
    signal: &Signal,
    mut state: S,
    mut attempt: impl FnMut(S, Phase) -> Result<R, S>,
) -> R {
    loop {
        state = match attempt(state, Phase::Fresh) {
            Ok(done) => return done,
            Err(state) => state,
        };
        let listener = signal.listen();
        state = match attempt(state, Phase::Listening) {
            Ok(done) => return done,
            Err(state) => state,
        };
        listener.await;
    }
}
