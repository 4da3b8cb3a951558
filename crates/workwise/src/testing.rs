//! Tools for testing concurrent code: wait on a condition instead of
//! sleeping, run a test many times with a seed per run and replay the one
//! that failed, count calls across threads, and inject seeded delays that
//! expose race conditions.
//!
//! | The guide's advice | Here |
//! |---|---|
//! | Never sleep and then assert; wait for the condition, with a deadline | [`wait_for`] |
//! | Run concurrent tests many times; a race shows up only sometimes | [`stress`], [`replay`] |
//! | Check how often a mock was called (`mock.call_count`) | [`CallCounter`] |
//! | Add delays to expose race conditions | [`Chaos`] |
//!
//! Time-dependent logic (limiters, breakers, retries) is better tested on a
//! [`ManualClock`](crate::ManualClock), which needs no waiting at all; these
//! tools are for what really runs on threads.
//!
//! # Seeds
//!
//! [`stress`] and [`Chaos`] draw their numbers with splitmix64 from a
//! seed, so the same seed makes the same draws. [`stress`] takes its base
//! seed from `WORKWISE_STRESS_SEED` when set, else from the clock, and gives
//! run `k` the seed `splitmix64(base + k·γ)`; a failure names the run, its
//! seed and the base, and says how to replay it. A seed makes the *draws*
//! repeat; how the OS interleaves threads does not repeat, so a replay
//! re-creates the conditions of a failure, not necessarily the failure.

use std::any::Any;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use crate::clock::deadline_from;

/// splitmix64's increment, the golden ratio in 64 bits.
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// One splitmix64 output for `state`: nearby states give unrelated numbers.
fn splitmix64(state: u64) -> u64 {
    let mut z = state.wrapping_add(GAMMA);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seed as written in an environment variable: decimal, or hexadecimal
/// after `0x`, with spaces around allowed.
fn parse_seed(text: &str) -> Option<u64> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

// ---- wait_for ----

/// Polls `condition` until it returns `true` or `within` has passed.
///
/// It spins and yields for the first few polls, so a condition that turns
/// true at once costs microseconds, then backs off to sleeps of at most
/// 1 ms. Once the deadline has passed it checks one last time, so a
/// condition that turned true exactly at the deadline still counts.
/// `within` saturates: `Duration::MAX` waits for ever.
///
/// Use it in tests instead of a sleep followed by an assertion: the test
/// waits only as long as it must, and a generous `within` (say 30 s) guards
/// against a hang without making a slow machine fail.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use workwise::testing::wait_for;
///
/// let done = Arc::new(AtomicBool::new(false));
/// let d = done.clone();
/// std::thread::spawn(move || d.store(true, Ordering::Release));
/// wait_for(|| done.load(Ordering::Acquire), Duration::from_secs(30))
///     .expect("the thread sets the flag");
///
/// let err = wait_for(|| false, Duration::from_millis(5)).unwrap_err();
/// assert!(err.waited >= Duration::from_millis(5));
/// ```
///
/// # Errors
///
/// [`WaitTimedOut`], with how long it waited, when `condition` was still
/// false at the deadline.
pub fn wait_for(mut condition: impl FnMut() -> bool, within: Duration) -> Result<(), WaitTimedOut> {
    let start = Instant::now();
    let deadline = deadline_from(start, within);
    let mut backoff = Backoff::default();
    loop {
        // Read the time before the check, so that when it says the deadline
        // has passed, this check was made at or after the deadline.
        let now = Instant::now();
        let left = deadline.map(|d| d.saturating_duration_since(now));
        if condition() {
            return Ok(());
        }
        if left == Some(Duration::ZERO) {
            return Err(WaitTimedOut {
                waited: start.elapsed(),
            });
        }
        backoff.pause(left);
    }
}

/// How [`wait_for`] waits between polls: spin, then yield, then sleep for
/// doubling times up to [`Backoff::MAX_SLEEP`].
#[derive(Debug, Default)]
struct Backoff {
    step: u32,
}

impl Backoff {
    /// Polls that spin (2, 4, … 64 spin-loop hints) before any yield.
    const SPIN_STEPS: u32 = 6;
    /// Polls that yield the thread before the first sleep.
    const YIELD_STEPS: u32 = 4;
    const FIRST_SLEEP: Duration = Duration::from_micros(10);
    const MAX_SLEEP: Duration = Duration::from_millis(1);

    /// Waits before the next poll, never longer than `left` (`None`: no
    /// deadline).
    fn pause(&mut self, left: Option<Duration>) {
        let step = self.step;
        self.step = self.step.saturating_add(1);
        if step < Self::SPIN_STEPS {
            for _ in 0..(2u32 << step) {
                std::hint::spin_loop();
            }
        } else if step < Self::SPIN_STEPS + Self::YIELD_STEPS {
            thread::yield_now();
        } else {
            let doublings = (step - Self::SPIN_STEPS - Self::YIELD_STEPS).min(16);
            let sleep = Self::FIRST_SLEEP
                .saturating_mul(1 << doublings)
                .min(Self::MAX_SLEEP);
            thread::sleep(left.map_or(sleep, |left| sleep.min(left)));
        }
    }
}

/// [`wait_for`]'s condition was still false when its time was up.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::testing::{wait_for, WaitTimedOut};
///
/// let err: WaitTimedOut = wait_for(|| false, Duration::from_millis(1)).unwrap_err();
/// assert!(err.waited >= Duration::from_millis(1));
/// println!("{err}");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WaitTimedOut {
    /// How long it waited, from the call to the last check: at least the
    /// `within` it was given.
    pub waited: Duration,
}

impl fmt::Display for WaitTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the condition was still false after waiting {:?}: if it is only slow \
             (a loaded machine), give it a longer `within`; otherwise check that \
             something makes it true (a missed wake-up, a lost task, a deadlock)",
            self.waited
        )
    }
}

impl std::error::Error for WaitTimedOut {}

// ---- stress and replay ----

/// The environment variable that fixes [`stress`]'s base seed.
const STRESS_SEED_ENV: &str = "WORKWISE_STRESS_SEED";

/// Runs `f` `runs` times, each with its own seed, and stops at the first
/// run that returns an error or panics.
///
/// The seeds derive from a base seed: `WORKWISE_STRESS_SEED` when it is set
/// (decimal, or hexadecimal after `0x`), otherwise one taken from the clock;
/// run `k` (counted from 1) gets `splitmix64(base + k·γ)`, so the same base
/// gives the same seeds in the same order. `f` should draw everything it
/// randomizes (sizes, orders, a [`Chaos`]) from its seed, so that
/// [`replay`] can run a failing seed again.
///
/// Runs are sequential; `f` starts whatever threads it tests. A panic in
/// `f` is caught and reported as that run's failure (the panic hook still
/// prints it, as it does for any panic).
///
/// # Examples
///
/// ```
/// use workwise::testing::{replay, stress, Chaos, ChaosPoint};
///
/// // A check that fails for one seed in seven.
/// let check = |seed: u64| -> Result<(), String> {
///     let chaos = Chaos::new(seed);
///     chaos.pause(ChaosPoint::Submit);
///     if seed % 7 == 3 { Err(format!("bad seed {seed}")) } else { Ok(()) }
/// };
/// match stress(100, check) {
///     Ok(report) => assert_eq!(report.runs, 100),
///     Err(failure) => {
///         println!("{failure}"); // says how to replay it
///         assert!(replay(failure.seed, check).is_err());
///     }
/// }
/// ```
///
/// # Errors
///
/// [`StressFailure`] for the first run that failed, with its run number,
/// seed, base seed and message. When `WORKWISE_STRESS_SEED` is set but is
/// not a seed, nothing runs and the failure's `run` is 0, its message says
/// what to set.
pub fn stress<F, E>(runs: u64, mut f: F) -> Result<StressReport, StressFailure>
where
    F: FnMut(u64) -> Result<(), E>,
    E: fmt::Display,
{
    let base_seed = match std::env::var(STRESS_SEED_ENV) {
        Ok(text) => match parse_seed(&text) {
            Some(seed) => seed,
            None => return Err(StressFailure::bad_seed_env(&text)),
        },
        Err(std::env::VarError::NotPresent) => seed_from_clock(),
        Err(std::env::VarError::NotUnicode(raw)) => {
            return Err(StressFailure::bad_seed_env(&raw.to_string_lossy()))
        }
    };
    for run in 1..=runs {
        let seed = run_seed(base_seed, run);
        if let Err(message) = run_once(&mut f, seed) {
            return Err(StressFailure {
                run,
                seed,
                base_seed: Some(base_seed),
                message,
            });
        }
    }
    Ok(StressReport { runs, base_seed })
}

/// Runs `f` once with `seed`: the seed a [`StressFailure`] named.
///
/// # Examples
///
/// ```
/// use workwise::testing::replay;
///
/// let check = |seed: u64| if seed % 7 == 3 { Err("bad seed") } else { Ok(()) };
/// let failure = replay(10, check).unwrap_err();
/// assert_eq!(failure.seed, 10);
/// assert_eq!(failure.message, "bad seed");
/// assert!(replay(11, check).is_ok());
/// ```
///
/// # Errors
///
/// [`StressFailure`] (run 1, no base seed) when `f` returns an error or
/// panics.
pub fn replay<F, E>(seed: u64, mut f: F) -> Result<(), StressFailure>
where
    F: FnMut(u64) -> Result<(), E>,
    E: fmt::Display,
{
    run_once(&mut f, seed).map_err(|message| StressFailure {
        run: 1,
        seed,
        base_seed: None,
        message,
    })
}

/// The seed of run `run` (from 1) under `base`.
fn run_seed(base: u64, run: u64) -> u64 {
    splitmix64(base.wrapping_add(run.wrapping_mul(GAMMA)))
}

/// A base seed for a run nobody fixed: the time, the process and a counter,
/// mixed.
fn seed_from_clock() -> u64 {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    splitmix64(nanos ^ splitmix64(u64::from(std::process::id()) ^ call.wrapping_mul(GAMMA)))
}

/// Runs `f(seed)`, turning its error or its panic into a message. All user
/// code (the call, the error's `Display` and drop, the panic payload's
/// drop) runs under `catch_unwind`.
fn run_once<F, E>(f: &mut F, seed: u64) -> Result<(), String>
where
    F: FnMut(u64) -> Result<(), E>,
    E: fmt::Display,
{
    match catch_unwind(AssertUnwindSafe(|| f(seed).map_err(|e| e.to_string()))) {
        Ok(result) => result,
        Err(payload) => {
            let message = format!("panicked: {}", panic_message(&*payload));
            drop_payload(payload);
            Err(message)
        }
    }
}

/// The text of a panic payload, when it is a string.
fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(a payload that is not a string)"
    }
}

/// Drops a panic payload whose `Drop` may itself panic; a payload that
/// panics again is leaked rather than allowed to unwind out of here.
fn drop_payload(payload: Box<dyn Any + Send>) {
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(again);
    }
}

/// What a [`stress`] call that found no failure ran.
///
/// # Examples
///
/// ```
/// use workwise::testing::stress;
///
/// let report = stress(10, |_seed| Ok::<(), String>(())).unwrap();
/// assert_eq!(report.runs, 10);
/// println!("base seed {}", report.base_seed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StressReport {
    /// How many runs passed: all of them.
    pub runs: u64,
    /// The base seed the runs' seeds derive from.
    pub base_seed: u64,
}

/// The first run of [`stress`] (or the [`replay`]) that failed, and how to
/// run it again.
///
/// Its `Display` names the seed and says how to replay it.
///
/// # Examples
///
/// ```
/// use workwise::testing::{replay, stress};
///
/// let check = |seed: u64| if seed % 2 == 0 { Err("even") } else { Ok(()) };
/// let failure = stress(1000, check).unwrap_err();
/// assert_eq!(failure.seed % 2, 0);
/// assert!(failure.to_string().contains("WORKWISE_STRESS_SEED="));
/// assert!(replay(failure.seed, check).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StressFailure {
    /// Which run failed, counted from 1; 0 when no run started (a
    /// `WORKWISE_STRESS_SEED` that is not a seed: see `message`).
    pub run: u64,
    /// The seed that run was given: pass it to [`replay`].
    pub seed: u64,
    /// The base seed of the [`stress`] call (`None` from [`replay`]):
    /// `WORKWISE_STRESS_SEED` set to it runs the same seeds again.
    pub base_seed: Option<u64>,
    /// The error's `Display`, or `panicked: ` and the panic's message.
    pub message: String,
}

impl StressFailure {
    fn bad_seed_env(text: &str) -> Self {
        StressFailure {
            run: 0,
            seed: 0,
            base_seed: None,
            message: format!(
                "{STRESS_SEED_ENV}={text:?} is not a seed: set it to a u64 (decimal, \
                 or hexadecimal after 0x), such as the base seed a failure printed, \
                 or unset it for a seed from the clock"
            ),
        }
    }
}

impl fmt::Display for StressFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.run == 0 {
            return f.write_str(&self.message);
        }
        write!(
            f,
            "run {} failed with seed {}: {}; replay it with \
             `workwise::testing::replay({}, f)`",
            self.run, self.seed, self.message, self.seed
        )?;
        if let Some(base) = self.base_seed {
            write!(f, ", or rerun the same seeds with {STRESS_SEED_ENV}={base}")?;
        }
        Ok(())
    }
}

impl std::error::Error for StressFailure {}

// ---- CallCounter ----

/// Counts calls from any number of threads: the guide's `mock.call_count`.
///
/// Clones share one count, so a clone can move into each thread or closure
/// while the test keeps one to read.
///
/// # Examples
///
/// ```
/// use workwise::testing::CallCounter;
///
/// let calls = CallCounter::new();
/// let c = calls.clone();
/// std::thread::spawn(move || { c.hit(); }).join().unwrap();
/// assert_eq!(calls.hit(), 2);
/// assert_eq!(calls.count(), 2);
/// calls.reset();
/// assert_eq!(calls.count(), 0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    count: Arc<AtomicU64>,
}

impl CallCounter {
    /// A counter at zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::testing::CallCounter;
    ///
    /// assert_eq!(CallCounter::new().count(), 0);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one call and returns the count including it.
    ///
    /// Everything a thread did before `hit` is visible to a thread that
    /// then reads the count that includes it.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::testing::CallCounter;
    ///
    /// let calls = CallCounter::new();
    /// assert_eq!(calls.hit(), 1);
    /// assert_eq!(calls.hit(), 2);
    /// ```
    pub fn hit(&self) -> u64 {
        self.count.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// The calls counted so far, from all clones.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::testing::CallCounter;
    ///
    /// let calls = CallCounter::new();
    /// calls.clone().hit();
    /// assert_eq!(calls.count(), 1);
    /// ```
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }

    /// Sets the count back to zero, for all clones.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::testing::CallCounter;
    ///
    /// let calls = CallCounter::new();
    /// calls.hit();
    /// calls.reset();
    /// assert_eq!(calls.count(), 0);
    /// ```
    pub fn reset(&self) {
        self.count.store(0, Ordering::Release);
    }

    /// `f`, counting each call on this counter before it runs.
    ///
    /// For a function of no arguments, count in the closure itself
    /// (`move || { calls.hit(); … }`); for several, take a tuple.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::testing::CallCounter;
    /// use workwise::Pool;
    ///
    /// let calls = CallCounter::new();
    /// let square = calls.wrap(|x: u64| x * x);
    /// let pool = Pool::cpu().build()?;
    /// let squares = pool.par_map((0..100u64).collect::<Vec<_>>(), square).expect("no call panics");
    /// assert_eq!(squares.iter().sum::<u64>(), 328_350);
    /// assert_eq!(calls.count(), 100);
    /// # Ok::<(), workwise::PoolBuildError>(())
    /// ```
    pub fn wrap<A, R>(&self, f: impl Fn(A) -> R) -> impl Fn(A) -> R {
        let counter = self.clone();
        move |arg| {
            counter.hit();
            f(arg)
        }
    }
}

// ---- Chaos ----

/// The environment variable that turns chaos on in pools: `WORKWISE_CHAOS=<seed>`.
const CHAOS_ENV: &str = "WORKWISE_CHAOS";

/// Where a pool calls [`Chaos::pause`].
///
/// # Examples
///
/// ```
/// use workwise::testing::{Chaos, ChaosPoint};
///
/// let chaos = Chaos::new(1);
/// for point in [ChaosPoint::Submit, ChaosPoint::Dequeue, ChaosPoint::Complete] {
///     chaos.pause(point);
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChaosPoint {
    /// A task is being handed to the pool.
    Submit,
    /// A worker has taken a task and is about to run it.
    Dequeue,
    /// A task has finished and its result is being handed back.
    Complete,
}

impl ChaosPoint {
    /// A number mixed into the draw, so that the points draw differently.
    fn tag(self) -> u64 {
        match self {
            ChaosPoint::Submit => 1,
            ChaosPoint::Dequeue => 2,
            ChaosPoint::Complete => 3,
        }
    }
}

/// What one [`Chaos::pause`] did.
///
/// # Examples
///
/// ```
/// use workwise::testing::{Chaos, ChaosPause, ChaosPoint};
///
/// let chaos = Chaos::new(3);
/// match chaos.pause(ChaosPoint::Dequeue) {
///     ChaosPause::None => println!("went straight on"),
///     other => println!("paused: {other:?}"),
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChaosPause {
    /// No delay (three draws in four).
    None,
    /// Yielded the thread this many times (1 to 4).
    Yield(u32),
    /// Spun for this long (up to 200 µs), holding the core.
    Spin(Duration),
    /// Slept for this long (50 µs to 1 ms), giving the core away.
    Sleep(Duration),
}

impl ChaosPause {
    /// The pause that draw `r` decides: one draw in four pauses; of those,
    /// half yield, three in eight spin, one in eight sleeps.
    fn from_draw(r: u64) -> Self {
        if r & 3 != 0 {
            return ChaosPause::None;
        }
        let kind = (r >> 2) & 15;
        let v = r >> 8;
        if kind < 8 {
            ChaosPause::Yield(1 + (v % 4) as u32)
        } else if kind < 14 {
            ChaosPause::Spin(Duration::from_nanos(v % 200_001))
        } else {
            ChaosPause::Sleep(Duration::from_micros(50 + v % 951))
        }
    }

    /// Does the pause. Under `--cfg loom` it does nothing: loom explores
    /// the interleavings itself, and a real sleep would only slow it.
    fn perform(self) {
        if cfg!(loom) {
            return;
        }
        match self {
            ChaosPause::None => {}
            ChaosPause::Yield(times) => {
                for _ in 0..times {
                    thread::yield_now();
                }
            }
            ChaosPause::Spin(d) => {
                let start = Instant::now();
                while start.elapsed() < d {
                    std::hint::spin_loop();
                }
            }
            ChaosPause::Sleep(d) => thread::sleep(d),
        }
    }
}

/// Seeded delays at the points where races hide: the guide's "add delays
/// to expose race conditions".
///
/// Each [`pause`](Chaos::pause) draws a number and, one time in four,
/// yields, spins (up to 200 µs) or sleeps (up to 1 ms) before going on, so
/// that threads interleave in ways they rarely do on an idle machine. The
/// draws come from splitmix64 over the seed and a shared atomic draw
/// counter, so the same seed makes the same sequence of decisions; clones
/// share the counter and so continue one sequence. Across threads, which
/// thread gets which draw depends on the OS, so a seed repeats the
/// decisions, not the exact interleaving.
///
/// Chaos is off by default. A pool built with `PoolBuilder::chaos(seed)`,
/// or any pool while `WORKWISE_CHAOS=<seed>` is set, calls `pause` when a
/// task is submitted ([`ChaosPoint::Submit`]), when a worker takes it
/// ([`ChaosPoint::Dequeue`]) and when it completes
/// ([`ChaosPoint::Complete`]). Your own code can call it too, between a
/// check and the act that depends on it. Combine it with [`stress`]: a new
/// seed each run, and the failing one replayed.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use workwise::testing::{stress, Chaos, ChaosPoint};
///
/// // A counter updated with a separate read and write: a race.
/// let racy = |seed: u64| -> Result<(), String> {
///     let chaos = Chaos::new(seed);
///     let n = AtomicU64::new(0);
///     std::thread::scope(|s| {
///         for _ in 0..2 {
///             s.spawn(|| {
///                 for _ in 0..50 {
///                     let seen = n.load(Ordering::SeqCst);
///                     chaos.pause(ChaosPoint::Complete);
///                     n.store(seen + 1, Ordering::SeqCst);
///                 }
///             });
///         }
///     });
///     match n.into_inner() {
///         100 => Ok(()),
///         got => Err(format!("lost {} updates", 100 - got)),
///     }
/// };
/// // Chaos makes the lost update show within a few runs.
/// if let Err(failure) = stress(200, racy) {
///     println!("{failure}");
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Chaos {
    seed: u64,
    draws: Arc<AtomicU64>,
}

impl Chaos {
    /// Chaos drawing from `seed`.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::testing::{Chaos, ChaosPoint};
    ///
    /// let (a, b) = (Chaos::new(9), Chaos::new(9));
    /// for _ in 0..20 {
    ///     assert_eq!(a.pause(ChaosPoint::Submit), b.pause(ChaosPoint::Submit));
    /// }
    /// ```
    pub fn new(seed: u64) -> Self {
        Chaos {
            seed,
            draws: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Chaos seeded from `WORKWISE_CHAOS`, or `None` when it is unset or not
    /// a seed (decimal, or hexadecimal after `0x`).
    ///
    /// A value that is not a seed turns chaos off rather than failing: it
    /// is a testing aid, and a typo must not break a program. With the
    /// `tracing` feature, such a value is logged at WARN.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::testing::Chaos;
    ///
    /// match Chaos::from_env() {
    ///     Some(chaos) => println!("chaos on, seed {}", chaos.seed()),
    ///     None => println!("chaos off"),
    /// }
    /// ```
    pub fn from_env() -> Option<Chaos> {
        let text = std::env::var_os(CHAOS_ENV)?;
        let seed = text.to_str().and_then(parse_seed);
        #[cfg(feature = "tracing")]
        if seed.is_none() {
            tracing::warn!(
                target: "workwise::testing",
                "{CHAOS_ENV}={text:?} is not a seed (a u64, decimal or 0x-hex): chaos stays off"
            );
        }
        seed.map(Chaos::new)
    }

    /// The seed this chaos draws from.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::testing::Chaos;
    ///
    /// assert_eq!(Chaos::new(5).seed(), 5);
    /// ```
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Draws the next decision and, one time in four, delays the calling
    /// thread a little (see [`ChaosPause`]); returns what it did.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::testing::{Chaos, ChaosPause, ChaosPoint};
    ///
    /// let chaos = Chaos::new(1);
    /// let pauses = (0..100).filter(|_| chaos.pause(ChaosPoint::Submit) != ChaosPause::None);
    /// assert!(pauses.count() < 100);
    /// ```
    pub fn pause(&self, point: ChaosPoint) -> ChaosPause {
        let pause = self.decide(point);
        pause.perform();
        pause
    }

    /// The next decision, without acting on it.
    fn decide(&self, point: ChaosPoint) -> ChaosPause {
        let n = self.draws.fetch_add(1, Ordering::Relaxed);
        let r =
            splitmix64(splitmix64(self.seed ^ point.tag().rotate_right(8)) ^ n.wrapping_mul(GAMMA));
        ChaosPause::from_draw(r)
    }
}

/// Pauses at `point` if `chaos` is on; one branch when it is off. This is
/// what a pool runs at its chaos points, and what the bench row
/// `pool.chaos_off_cost` measures.
///
/// # Examples
///
/// ```
/// use workwise::testing::{chaos_point, Chaos, ChaosPoint};
///
/// chaos_point(None, ChaosPoint::Submit); // off: nothing happens
/// chaos_point(Some(&Chaos::new(7)), ChaosPoint::Submit);
/// ```
#[inline]
pub fn chaos_point(chaos: Option<&Chaos>, point: ChaosPoint) {
    if let Some(chaos) = chaos {
        chaos.pause(point);
    }
}

/// [`Chaos::from_env`], read once per process: what a pool calls when it
/// starts, so that `WORKWISE_CHAOS` costs one environment read.
pub(crate) fn chaos_from_env_once() -> Option<Chaos> {
    static CHAOS: OnceLock<Option<Chaos>> = OnceLock::new();
    CHAOS.get_or_init(Chaos::from_env).clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decisions(seed: u64, n: usize) -> Vec<ChaosPause> {
        let chaos = Chaos::new(seed);
        let points = [
            ChaosPoint::Submit,
            ChaosPoint::Dequeue,
            ChaosPoint::Complete,
        ];
        (0..n).map(|i| chaos.decide(points[i % 3])).collect()
    }

    #[test]
    fn the_same_seed_makes_the_same_decisions() {
        assert_eq!(decisions(1234, 1000), decisions(1234, 1000));
        assert_ne!(decisions(1234, 1000), decisions(1235, 1000));
    }

    #[test]
    fn about_one_draw_in_four_pauses_and_every_pause_is_short() {
        let all = decisions(99, 40_000);
        let paused: Vec<_> = all.iter().filter(|p| **p != ChaosPause::None).collect();
        // Expect 10 000; allow a wide margin.
        assert!((9_000..11_000).contains(&paused.len()), "{}", paused.len());
        let mut kinds = [0usize; 3];
        for p in paused {
            match *p {
                ChaosPause::Yield(n) => {
                    assert!((1..=4).contains(&n));
                    kinds[0] += 1;
                }
                ChaosPause::Spin(d) => {
                    assert!(d <= Duration::from_micros(200));
                    kinds[1] += 1;
                }
                ChaosPause::Sleep(d) => {
                    assert!(d >= Duration::from_micros(50) && d <= Duration::from_millis(1));
                    kinds[2] += 1;
                }
                ChaosPause::None => unreachable!(),
            }
        }
        // Mostly yields and spins, some sleeps.
        assert!(
            kinds[0] > kinds[1] && kinds[1] > kinds[2] && kinds[2] > 0,
            "{kinds:?}"
        );
    }

    #[test]
    fn stress_seeds_repeat_for_the_same_base_and_differ_between_runs() {
        let a: Vec<_> = (1..=100).map(|k| run_seed(7, k)).collect();
        let b: Vec<_> = (1..=100).map(|k| run_seed(7, k)).collect();
        assert_eq!(a, b);
        let mut unique = a.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), a.len());
        assert_ne!(a, (1..=100).map(|k| run_seed(8, k)).collect::<Vec<_>>());
    }

    #[test]
    fn seeds_parse_in_decimal_and_hex_and_nothing_else() {
        assert_eq!(parse_seed("42"), Some(42));
        assert_eq!(parse_seed(" 0x2A\n"), Some(42));
        assert_eq!(parse_seed("0X2a"), Some(42));
        assert_eq!(parse_seed(&u64::MAX.to_string()), Some(u64::MAX));
        for bad in ["", "x", "-1", "0x", "1.5", "18446744073709551616", "on"] {
            assert_eq!(parse_seed(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn chaos_from_env_once_agrees_with_from_env() {
        assert_eq!(
            chaos_from_env_once().map(|c| c.seed()),
            Chaos::from_env().map(|c| c.seed())
        );
    }
}
