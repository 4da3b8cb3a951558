//! [`stress`] and [`replay`]: many seeded runs, and the one that failed again.

use std::any::Any;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{parse_seed, splitmix64, GAMMA};

/// The environment variable that fixes [`stress`]'s base seed.
const STRESS_SEED_ENV: &str = "WORKWISE_STRESS_SEED";

/// Runs `f` `runs` times, each with its own seed, and stops at the first
/// run that returns an error or panics.
///
/// The seeds derive from a base seed: `WORKWISE_STRESS_SEED` when it is set
/// (decimal, or hexadecimal after `0x`), otherwise one taken from the clock;
/// run `k` (counted from 1) gets `splitmix64(base + k·γ)`, so the same base
/// gives the same seeds in the same order. `f` should draw everything it
/// randomizes (sizes, orders, a [`Chaos`](super::Chaos)) from its seed, so that
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
