//! [`Chaos`]: seeded pauses at a pool's chaos points.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use super::{parse_seed, splitmix64, GAMMA};

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
/// check and the act that depends on it. Combine it with [`stress`](super::stress): a new
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
    fn chaos_from_env_once_agrees_with_from_env() {
        assert_eq!(
            chaos_from_env_once().map(|c| c.seed()),
            Chaos::from_env().map(|c| c.seed())
        );
    }
}
