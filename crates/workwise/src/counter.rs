//! What [`RealClock`](crate::RealClock) reads: the CPU's counter where the
//! kernel vouches for it, the OS monotonic clock elsewhere.
//!
//! # Why
//!
//! A limiter's decision is one compare-and-swap; reading the clock was
//! three quarters of its cost when [`RealClock`](crate::RealClock) read
//! [`Instant`](std::time::Instant)
//! (`clock_gettime(CLOCK_MONOTONIC)` through the vDSO, about 30 ns on these
//! VMs); `quanta` reads the counter itself (`rdtsc` on x86-64, `cntvct_el0`
//! on aarch64) and scales it with a calibration made once per process,
//! about 10 ns. That is what governor reads by default.
//!
//! A counter read directly is only as good as the counters are in step
//! across cores. `quanta` does not check that (quanta issue #111, governor
//! issue #299, both open): on machines whose cores' TSCs are out of step (some
//! Ryzen laptops), a thread that moves between cores sees time jump back and
//! forth, and governor then refuses permits it owes and grants ones it does
//! not. The kernel does check: at boot and with its clocksource watchdog it
//! tests the TSCs against each other and another timer, and drops the TSC
//! as its clocksource when they disagree. So `RealClock` reads the counter
//! only when the kernel's own monotonic clock is that counter
//! (`/sys/devices/system/clocksource/clocksource0/current_clocksource` is
//! `tsc` on x86-64, `arch_sys_counter` on aarch64, checked once per
//! process); then a direct read is in step across cores exactly as far as
//! [`Instant`] is. Anywhere else (another clocksource, another OS, the `tsc`
//! feature off) it reads [`Instant`], as [`RealClock`] does.
//!
//! The limiter stays safe if the counter steps back all the same: its state
//! only moves forward, so a reading that goes back makes it stricter, never
//! more generous (`tests/limit.rs`,
//! `a_clock_that_steps_back_never_grants_extra_permits`).
//!
//! Rejected: `CLOCK_MONOTONIC_COARSE` (about 5 ns) ticks once per scheduler
//! tick, 1-4 ms. A limiter of burst 1 then grants at most one permit a tick
//! (at most 250 a second for any asked rate above that, at 4 ms), and every
//! wait it reports is off by up to a tick.

use std::time::Duration;

/// The counter, and its reading at a clock's origin.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counter {
    clock: &'static quanta::Clock,
    origin: u64,
}

impl Counter {
    /// A counter whose origin is now, when the kernel's monotonic clock is
    /// that counter; the first call calibrates it.
    pub(crate) fn new() -> Option<Counter> {
        static CLOCK: std::sync::OnceLock<Option<quanta::Clock>> = std::sync::OnceLock::new();
        let clock = CLOCK
            .get_or_init(|| kernel_reads_the_counter().then(quanta::Clock::new))
            .as_ref()?;
        Some(Counter {
            clock,
            origin: clock.raw(),
        })
    }

    /// The time since the origin. `delta_as_nanos` is 0 for a reading behind
    /// the origin (a core out of step): time can stop, never wrap to the far
    /// future.
    #[inline]
    pub(crate) fn now(&self) -> Duration {
        Duration::from_nanos(self.now_nanos())
    }

    /// [`now`](Self::now) in nanoseconds.
    #[inline]
    pub(crate) fn now_nanos(&self) -> u64 {
        self.clock.delta_as_nanos(self.origin, self.clock.raw())
    }
}

/// Whether the kernel's clocksource is the counter `quanta` reads: then the
/// kernel has checked that it is in step across cores.
fn kernel_reads_the_counter() -> bool {
    let want = if cfg!(target_arch = "x86_64") {
        "tsc"
    } else if cfg!(target_arch = "aarch64") {
        "arch_sys_counter"
    } else {
        return false;
    };
    // Miri runs isolated from the file system (and has no counter).
    cfg!(target_os = "linux")
        && !cfg!(miri)
        && std::fs::read_to_string(
            "/sys/devices/system/clocksource/clocksource0/current_clocksource",
        )
        .is_ok_and(|source| source.trim() == want)
}
