//! Atomics, locks, `Arc` and thread parking from std, or from loom when
//! built with `--cfg loom`, so that loom models run the real protocol code.
//! The pool engine takes every such type from here (clippy's
//! `disallowed-types` in `clippy.toml` keeps std's atomics out of the rest
//! of `pool/`).

#[cfg(loom)]
pub(crate) use loom::sync::{
    atomic::{fence, AtomicBool, AtomicU64, AtomicUsize},
    Arc, Condvar, Mutex, MutexGuard,
};
#[cfg(loom)]
pub(crate) use loom::thread::{self, Thread};
#[cfg(not(loom))]
pub(crate) use std::sync::{
    atomic::{fence, AtomicBool, AtomicU64, AtomicUsize},
    Arc, Condvar, Mutex, MutexGuard,
};
#[cfg(not(loom))]
pub(crate) use std::thread::{self, Thread};

/// Locks `m`, ignoring poisoning. Every lock taken through this holds state
/// that stays sound when a holder panics: no user code runs under it, or
/// the state is written whole before user code can run.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits on `cv`, ignoring poisoning as [`lock`] does.
pub(crate) fn wait<'a, T>(cv: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    cv.wait(guard).unwrap_or_else(|e| e.into_inner())
}

/// Spins briefly (a few microseconds at most) while `ready()` is false; the
/// caller then blocks. A spin hand-off costs ~0.1 µs here, waking a parked
/// thread ~27 µs. Under loom there is no spinning: the model explores the
/// blocking path.
#[inline]
pub(crate) fn spin_until(mut ready: impl FnMut() -> bool) -> bool {
    #[cfg(not(loom))]
    {
        let backoff = crossbeam_utils::Backoff::new();
        while !backoff.is_completed() {
            if ready() {
                return true;
            }
            backoff.snooze();
        }
    }
    ready()
}
