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
pub(crate) use std::sync::{atomic::fence, Arc, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::thread::{self, Thread};
#[cfg(not(loom))]
pub(crate) use wrapped::{AtomicBool, AtomicU64, AtomicUsize, Condvar, Mutex};

/// Thin wrappers over std's types, with loom's API, so that clippy's
/// `disallowed-types` (crates/workwise/clippy.toml) can tell a use through
/// this module from a direct use of std's type, which the engine denies.
#[cfg(not(loom))]
#[allow(clippy::disallowed_types)]
mod wrapped {
    use std::sync::atomic::Ordering;
    use std::sync::{LockResult, MutexGuard};

    macro_rules! atomic {
        ($name:ident, $t:ty) => {
            #[derive(Debug, Default)]
            #[repr(transparent)]
            pub(crate) struct $name(std::sync::atomic::$name);

            #[allow(dead_code)]
            impl $name {
                #[inline]
                pub(crate) const fn new(v: $t) -> Self {
                    Self(std::sync::atomic::$name::new(v))
                }
                #[inline]
                pub(crate) fn load(&self, o: Ordering) -> $t {
                    self.0.load(o)
                }
                #[inline]
                pub(crate) fn store(&self, v: $t, o: Ordering) {
                    self.0.store(v, o)
                }
                #[inline]
                pub(crate) fn swap(&self, v: $t, o: Ordering) -> $t {
                    self.0.swap(v, o)
                }
                #[inline]
                pub(crate) fn compare_exchange(
                    &self,
                    current: $t,
                    new: $t,
                    success: Ordering,
                    failure: Ordering,
                ) -> Result<$t, $t> {
                    self.0.compare_exchange(current, new, success, failure)
                }
                #[inline]
                pub(crate) fn compare_exchange_weak(
                    &self,
                    current: $t,
                    new: $t,
                    success: Ordering,
                    failure: Ordering,
                ) -> Result<$t, $t> {
                    self.0.compare_exchange_weak(current, new, success, failure)
                }
                #[inline]
                pub(crate) fn fetch_update(
                    &self,
                    set: Ordering,
                    fetch: Ordering,
                    f: impl FnMut($t) -> Option<$t>,
                ) -> Result<$t, $t> {
                    self.0.fetch_update(set, fetch, f)
                }
                #[inline]
                pub(crate) fn fetch_or(&self, v: $t, o: Ordering) -> $t {
                    self.0.fetch_or(v, o)
                }
                #[inline]
                pub(crate) fn fetch_and(&self, v: $t, o: Ordering) -> $t {
                    self.0.fetch_and(v, o)
                }
            }
        };
    }

    macro_rules! arithmetic {
        ($name:ident, $t:ty) => {
            #[allow(dead_code)]
            impl $name {
                #[inline]
                pub(crate) fn fetch_add(&self, v: $t, o: Ordering) -> $t {
                    self.0.fetch_add(v, o)
                }
                #[inline]
                pub(crate) fn fetch_sub(&self, v: $t, o: Ordering) -> $t {
                    self.0.fetch_sub(v, o)
                }
                #[inline]
                pub(crate) fn fetch_max(&self, v: $t, o: Ordering) -> $t {
                    self.0.fetch_max(v, o)
                }
                #[inline]
                pub(crate) fn fetch_min(&self, v: $t, o: Ordering) -> $t {
                    self.0.fetch_min(v, o)
                }
            }
        };
    }

    atomic!(AtomicBool, bool);
    atomic!(AtomicUsize, usize);
    atomic!(AtomicU64, u64);
    arithmetic!(AtomicUsize, usize);
    arithmetic!(AtomicU64, u64);

    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(std::sync::Mutex<T>);

    impl<T> Mutex<T> {
        #[inline]
        pub(crate) const fn new(v: T) -> Self {
            Mutex(std::sync::Mutex::new(v))
        }
        #[inline]
        pub(crate) fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
            self.0.lock()
        }
    }

    #[derive(Debug, Default)]
    pub(crate) struct Condvar(std::sync::Condvar);

    #[allow(dead_code)]
    impl Condvar {
        #[inline]
        pub(crate) const fn new() -> Self {
            Condvar(std::sync::Condvar::new())
        }
        #[inline]
        pub(crate) fn wait<'a, T>(&self, g: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
            self.0.wait(g)
        }
        #[inline]
        pub(crate) fn notify_one(&self) {
            self.0.notify_one()
        }
        #[inline]
        pub(crate) fn notify_all(&self) {
            self.0.notify_all()
        }
    }
}

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
