//! The measured decision: a call site's cost per item, the inline budget,
//! and the inline runs that watch the clock (steps 1 to 4 of "How the work
//! is split" on [`Par`](super::Par)).

use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::*};
use std::time::{Duration, Instant};

use super::source::ParSource;
use super::Par;
use crate::pool::{Pool, TaskError};

const SITES: usize = 64;
const RESAMPLE_EVERY: u32 = 64;
const SAMPLE_TARGET: Duration = Duration::from_micros(2);
pub(super) const INLINE_BELOW_OVERHEADS: u64 = 4;
/// The most a measured task round trip is taken to be. A cold round trip
/// takes tens of µs; one measured at over a millisecond was a probe whose
/// worker was not scheduled, and kept as it is it would let every inline
/// run take four times that before it hands work to the pool.
const MAX_OVERHEAD_NS: u64 = 1_000_000;
/// Watched inline runs in a row that keep to a call site's estimate before
/// its inline runs go unwatched (but for spot checks).
const TRUSTED: u32 = 4;
/// At a trusted call site, one inline run in this many is still watched.
const SPOT_CHECK_EVERY: u32 = 32;
/// Watched runs in a row past the budget before the cost they saw replaces
/// the estimate outright (one alone may be a preempted thread).
const STRIKES: u32 = 2;

/// One call site's learned cost per item, and how far it is trusted.
#[derive(Debug, Default)]
struct Site {
    key: AtomicUsize,
    cost_ps: AtomicU64,
    calls: AtomicU32,
    /// Watched inline runs in a row that kept to the estimate, up to
    /// `TRUSTED`.
    trust: AtomicU32,
    /// Watched inline runs in a row that ran past the budget.
    strikes: AtomicU32,
}

/// What a call site knows before a call.
pub(super) struct Estimate {
    pub(super) cost_ps: u64,
    /// How an inline run reads the clock.
    pub(super) watch: Watch,
}

/// How an inline run reads the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Watch {
    /// Not at all: a trusted call site.
    Off,
    /// Before and after the run, which goes in one piece: a spot check at a
    /// trusted site. Over the budget, the site is watched from the next call.
    Timed,
    /// After each piece, to stop and hand the rest over once past the budget.
    Pieces,
}

/// Per-pool state of the inline-or-parallel decision, kept in the pool's
/// extension slot ([`Pool::extension`]): the pool knows nothing of it.
#[derive(Debug)]
pub(crate) struct ParState {
    /// Set once the pool is known to be shut down.
    closed: AtomicBool,
    sites: [Site; SITES],
}

impl ParState {
    pub(crate) fn new() -> Self {
        ParState {
            closed: AtomicBool::new(false),
            sites: std::array::from_fn(|_| Site::default()),
        }
    }

    /// Marks the pool shut down: every later data-parallel call on it gives
    /// [`TaskError::Closed`] without running an item. Called here when a
    /// probe or chunk task is refused.
    pub(super) fn close(&self) {
        self.closed.store(true, SeqCst);
    }

    /// Whether the pool is shut down: seen by a refused submit, or asked of
    /// the pool (a call decided inline from cached estimates submits
    /// nothing, so only the pool can tell it).
    pub(super) fn is_closed(&self, pool: &Pool) -> bool {
        self.closed.load(Relaxed) || pool.is_closed()
    }
}

/// The pool's data-parallel state, made on first use.
pub(super) fn par_state(pool: &Pool) -> &ParState {
    pool.extension(ParState::new)
}

impl Par<'_> {
    fn site(&self, site: &'static Location<'static>) -> &Site {
        &par_state(self.pool).sites[site_index(site)]
    }

    /// The call site's estimate, or `None` when it must be sampled: a new
    /// site, or every `RESAMPLE_EVERY`th call.
    pub(super) fn known_cost(&self, site: &'static Location<'static>) -> Option<Estimate> {
        let slot = self.site(site);
        if slot.key.load(Relaxed) != site_key(site) {
            return None;
        }
        // Plain loads and stores: a lost count under a race only shifts when
        // the next resample or spot check comes, and it keeps locked writes
        // off the path.
        let calls = slot.calls.load(Relaxed).wrapping_add(1);
        slot.calls.store(calls, Relaxed);
        if calls.is_multiple_of(RESAMPLE_EVERY) {
            return None;
        }
        let watch = if slot.trust.load(Relaxed) < TRUSTED {
            Watch::Pieces
        } else if calls.is_multiple_of(SPOT_CHECK_EVERY) {
            Watch::Timed
        } else {
            Watch::Off
        };
        Some(Estimate {
            cost_ps: slot.cost_ps.load(Relaxed),
            watch,
        })
    }

    /// How a call that just sampled watches its inline run: a spot check at
    /// a trusted site, pieces otherwise.
    pub(super) fn spot_check_or_pieces(&self, site: &'static Location<'static>) -> Watch {
        if self.site(site).trust.load(Relaxed) < TRUSTED {
            Watch::Pieces
        } else {
            Watch::Timed
        }
    }

    /// A parallel run showed the site's items cost at most `cost_ps`:
    /// keep that if it is lower than the estimate (never raises it).
    pub(super) fn lower(&self, site: &'static Location<'static>, cost_ps: u64) {
        let slot = self.site(site);
        if slot.key.load(Relaxed) == site_key(site) && cost_ps < slot.cost_ps.load(Relaxed) {
            slot.cost_ps.store(cost_ps.max(1), Relaxed);
        }
    }

    /// Keeps a sampled estimate. At a known site it may at most double the
    /// old one, so one sample slowed by preemption cannot flip the decision;
    /// a sample over twice the old estimate makes the site's inline runs
    /// watched again.
    pub(super) fn remember(&self, site: &'static Location<'static>, cost_ps: u64) {
        let slot = self.site(site);
        let cost_ps = if slot.key.load(Relaxed) == site_key(site) {
            let old = slot.cost_ps.load(Relaxed).saturating_mul(2);
            if cost_ps > old {
                slot.trust.store(0, Relaxed);
            }
            cost_ps.min(old)
        } else {
            slot.trust.store(0, Relaxed);
            slot.strikes.store(0, Relaxed);
            cost_ps
        };
        slot.cost_ps.store(cost_ps, Relaxed);
        slot.key.store(site_key(site), Relaxed);
    }

    /// A watched inline run finished within the budget.
    pub(super) fn kept_to_budget(&self, site: &'static Location<'static>) {
        let slot = self.site(site);
        let trust = slot.trust.load(Relaxed);
        if trust < TRUSTED {
            slot.trust.store(trust + 1, Relaxed);
        }
        slot.strikes.store(0, Relaxed);
    }

    /// A watched inline run went past the budget having seen `seen_ps` per
    /// item; gives the cost to size the rest's chunks by. The site's runs are
    /// watched in pieces from now on, and after `STRIKES` such runs in a row
    /// the seen cost replaces the estimate outright, so the next call goes
    /// parallel at once.
    pub(super) fn ran_past_budget(&self, site: &'static Location<'static>, seen_ps: u64) -> u64 {
        let slot = self.site(site);
        slot.trust.store(0, Relaxed);
        let strikes = slot.strikes.load(Relaxed) + 1;
        if strikes >= STRIKES {
            slot.cost_ps.store(seen_ps, Relaxed);
            slot.strikes.store(0, Relaxed);
        } else {
            slot.strikes.store(strikes, Relaxed);
        }
        seen_ps
    }
}

impl Pool {
    /// A cold task round trip on this pool (submit a no-op, wait for it),
    /// measured on first use and kept, at most `MAX_OVERHEAD_NS`.
    ///
    /// # Errors
    ///
    /// [`TaskError::Closed`] when the probe task was refused: the pool was
    /// shut down (and is marked so from now on).
    #[inline]
    pub(super) fn task_overhead_ns(&self) -> Result<u64, TaskError> {
        match self.round_trip_ns() {
            0 => self.measure_task_overhead(),
            known => Ok(known),
        }
    }

    #[cold]
    fn measure_task_overhead(&self) -> Result<u64, TaskError> {
        let state = par_state(self);
        let start = Instant::now();
        let measured = self.submit(|| ()).wait().is_ok();
        let ns = nanos(start.elapsed()).clamp(1, MAX_OVERHEAD_NS);
        if !measured {
            state.close();
            return Err(TaskError::Closed);
        }
        self.set_round_trip_ns(ns);
        Ok(ns)
    }
}

/// Runs `source` on the calling thread, in pieces taken from its tail, and
/// hands their outputs to `sink` in input order, followed by those already
/// in `tail_out`; returns `None` when it has run everything.
///
/// Without a budget (the pool cannot share the work) it is one piece. With
/// one, the first piece is a single item and the clock is read after each
/// piece: while the pace seen so far says the rest fits in half of what is
/// left of the budget, the rest goes in one piece; otherwise the next piece
/// doubles the count run so far. Once the run has taken `budget_ns` it stops,
/// leaves the untouched items in `source`, appends the outputs it made to
/// `tail_out` (last piece first) and returns the cost per item it saw, in
/// picoseconds.
pub(super) fn run_inline<S, C, G>(
    source: &mut S,
    g: &G,
    tail_out: &mut Vec<C>,
    sink: &mut impl FnMut(C),
    budget_ns: Option<u64>,
) -> Option<u64>
where
    S: ParSource,
    G: Fn(usize, S::Chunk) -> C,
{
    let Some(budget_ns) = budget_ns.filter(|_| source.len() > 1) else {
        let n = source.len();
        if n > 0 {
            sink(g(0, source.split_tail(n)));
        }
        std::mem::take(tail_out).into_iter().rev().for_each(sink);
        return None;
    };
    let start = Instant::now();
    let first = g(source.len() - 1, source.split_tail(1));
    let mut done = 1u64;
    // Pieces after the first, nearer the head each time.
    let mut later: Vec<C> = Vec::new();
    loop {
        if !source.is_empty() {
            let elapsed = nanos(start.elapsed());
            if elapsed >= budget_ns {
                tail_out.push(first);
                tail_out.extend(later);
                return Some((elapsed.saturating_mul(1000) / done).max(1));
            }
            let rest = source.len();
            let k = if elapsed.saturating_mul(rest as u64) / done <= (budget_ns - elapsed) / 2 {
                rest
            } else {
                (done as usize).min(rest)
            };
            later.push(g(rest - k, source.split_tail(k)));
            done += k as u64;
            if !source.is_empty() {
                continue;
            }
        }
        later.into_iter().rev().for_each(&mut *sink);
        sink(first);
        std::mem::take(tail_out).into_iter().rev().for_each(sink);
        return None;
    }
}

pub(super) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn site_key(site: &'static Location<'static>) -> usize {
    site as *const Location<'static> as usize
}

fn site_index(site: &'static Location<'static>) -> usize {
    let k = site_key(site);
    (k ^ (k >> 7) ^ (k >> 13)) % SITES
}

/// Runs tail pieces of 1, 2, 4, ... items inline until a piece takes
/// `SAMPLE_TARGET` or a sixteenth of the input has run; returns the cost per
/// item in picoseconds and the pieces' outputs, last piece first.
pub(super) fn sample<S, C, G>(source: &mut S, n: usize, g: &G) -> (u64, Vec<C>)
where
    S: ParSource,
    G: Fn(usize, S::Chunk) -> C,
{
    let budget = (n / 16).max(1);
    let mut ran = 0usize;
    let mut piece = 1usize;
    let mut out = Vec::new();
    let start = Instant::now();
    let mut elapsed = Duration::ZERO;
    while ran < budget && !source.is_empty() {
        let k = piece.min(budget - ran).min(source.len());
        let offset = source.len() - k;
        let chunk = source.split_tail(k);
        out.push(g(offset, chunk));
        ran += k;
        piece *= 2;
        elapsed = start.elapsed();
        if elapsed >= SAMPLE_TARGET {
            break;
        }
    }
    let cost_ps = (elapsed.as_nanos() * 1000 / ran.max(1) as u128).max(1);
    (u64::try_from(cost_ps).unwrap_or(u64::MAX), out)
}
