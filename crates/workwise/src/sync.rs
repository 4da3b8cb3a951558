//! Atomics and `Arc` from std, or from loom when built with `--cfg loom`, so
//! that loom models run the real protocol code.

#[cfg(loom)]
pub(crate) use loom::sync::{
    atomic::{fence, AtomicUsize},
    Arc,
};
#[cfg(not(loom))]
pub(crate) use std::sync::{
    atomic::{fence, AtomicUsize},
    Arc,
};

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
