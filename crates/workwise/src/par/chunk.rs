//! The driver every entry point goes through: decide (see `decide.rs`),
//! cut the input into chunks, run them on the pool, hand their outputs on
//! in input order.

use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering::*};
use std::time::Instant;

use super::decide::{
    nanos, par_state, run_inline, sample, Estimate, Watch, INLINE_BELOW_OVERHEADS,
};
use super::source::ParSource;
use super::Par;
use crate::pool::TaskError;

const MIN_CHUNK_TIME_NS: u64 = 50_000;
const CHUNKS_PER_WORKER: usize = 4;

impl Par<'_> {
    /// Splits `source`, runs `g(offset, chunk)` on each chunk (inline or on
    /// the pool), and hands the chunks' outputs to `sink` in input order.
    ///
    /// # Errors
    ///
    /// [`TaskError::TooManyItems`] if the source has more items than a
    /// `usize` can count; no item runs.
    ///
    /// [`TaskError::Closed`] if the pool was shut down, before or under the
    /// run; then no item runs, or (under a parallel run) some did.
    pub(super) fn drive<S, C, G>(
        &self,
        site: &'static Location<'static>,
        mut source: S,
        g: G,
        mut sink: impl FnMut(C),
    ) -> Result<(), TaskError>
    where
        S: ParSource,
        C: Send,
        G: Fn(usize, S::Chunk) -> C + Sync,
    {
        if source.checked_len().is_none() {
            return Err(TaskError::TooManyItems);
        }
        let pool = self.pool;
        let state = par_state(pool);
        if state.is_closed(pool) {
            return Err(TaskError::Closed);
        }
        let workers = pool.max_workers();
        // Outputs of pieces run inline, taken from the tail: last piece first.
        let mut tail_out: Vec<C> = Vec::new();
        // The inline budget, when the split below was decided from an
        // estimate that the parallel run can show to have been too high.
        let mut recheck_budget = None;
        let chunk = match self.chunk_size {
            Some(size) => size,
            None => {
                // With one worker the pool cannot share the work, so nothing
                // is measured (and no probe task waits behind a busy worker).
                let budget_ns = if workers < 2 {
                    None
                } else {
                    Some(
                        pool.task_overhead_ns()?
                            .saturating_mul(INLINE_BELOW_OVERHEADS),
                    )
                };
                let Estimate { cost_ps, watch } = match self.known_cost(site) {
                    Some(known) => known,
                    None => {
                        let n = source.len();
                        let (cost, out) = sample(&mut source, n, &g);
                        tail_out = out;
                        self.remember(site, cost);
                        Estimate {
                            cost_ps: cost,
                            watch: self.spot_check_or_pieces(site),
                        }
                    }
                };
                let rest = source.len() as u64;
                let work_ns = cost_ps.saturating_mul(rest) / 1000;
                let cost_ps = match budget_ns {
                    Some(budget) if rest > 0 && work_ns >= budget => cost_ps,
                    Some(budget) if watch == Watch::Pieces => {
                        match run_inline(&mut source, &g, &mut tail_out, &mut sink, Some(budget)) {
                            None => {
                                pool.count_par_run(true);
                                self.kept_to_budget(site);
                                return Ok(());
                            }
                            Some(seen_ps) => self.ran_past_budget(site, seen_ps),
                        }
                    }
                    Some(budget) if watch == Watch::Timed => {
                        let n = source.len() as u64;
                        let start = Instant::now();
                        run_inline(&mut source, &g, &mut tail_out, &mut sink, None);
                        let took = nanos(start.elapsed());
                        pool.count_par_run(true);
                        if took >= budget {
                            self.ran_past_budget(site, took.saturating_mul(1000) / n.max(1));
                        }
                        return Ok(());
                    }
                    _ => {
                        // The common case of a trusted site, kept free of
                        // clock reads and calls.
                        pool.count_par_run(true);
                        if rest > 0 {
                            sink(g(0, source.into_chunk()));
                        }
                        tail_out.into_iter().rev().for_each(sink);
                        return Ok(());
                    }
                };
                recheck_budget = budget_ns;
                let rest = source.len();
                let by_time = (MIN_CHUNK_TIME_NS * 1000 / cost_ps.max(1)).max(1) as usize;
                let by_balance = rest.div_ceil(workers * CHUNKS_PER_WORKER);
                by_time.max(by_balance)
            }
        };
        pool.count_par_run(false);
        let parallel_items = source.len();
        // Cut the rest into chunks from the back, then put them in order.
        let mut chunks = Vec::new();
        while !source.is_empty() {
            let k = chunk.min(source.len());
            let offset = source.len() - k;
            chunks.push((offset, source.split_tail(k)));
        }
        chunks.reverse();
        let g = &g;
        let mut slots: Vec<Option<C>> = chunks.iter().map(|_| None).collect();
        // Time spent inside the chunks, summed: the items' own cost, free of
        // the wake-ups and queueing around them.
        let spent = AtomicU64::new(0);
        let timed = recheck_budget.is_some();
        let spent_ref = &spent;
        pool.scope(|s| {
            for ((offset, c), slot) in chunks.into_iter().zip(slots.iter_mut()) {
                // The scope waits for every task, so the handle may go.
                drop(s.submit(move || {
                    let start = timed.then(Instant::now);
                    *slot = Some(g(offset, c));
                    if let Some(start) = start {
                        spent_ref.fetch_add(nanos(start.elapsed()), Relaxed);
                    }
                }));
            }
        });
        if timed && parallel_items > 0 {
            // If the items cost less than the estimate said (a sample slowed
            // by preemption, say), keep what they cost, so that the next
            // call decides on it: inline when it fits the budget.
            let seen_ps = spent.load(Relaxed).saturating_mul(1000) / parallel_items as u64;
            self.lower(site, seen_ps);
        }
        // A chunk task cannot panic (`g` catches), so an empty slot is a task
        // the pool refused or cancelled: it was shut down.
        if slots.iter().any(Option::is_none) {
            state.close();
            return Err(TaskError::Closed);
        }
        slots.into_iter().flatten().for_each(&mut sink);
        tail_out.into_iter().rev().for_each(sink);
        Ok(())
    }
}
