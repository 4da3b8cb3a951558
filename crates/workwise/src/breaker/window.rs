//! The failure-rate window (module docs, rule 7): the outcomes of the last
//! `len` closed-state calls, as a ring of bits.

use super::word::is_newer;

/// The longest window `failure_rate` accepts: 2^20 calls, 128 KiB of bits.
pub(super) const MAX_WINDOW: u32 = 1 << 20;

#[derive(Debug)]
pub(super) struct Window {
    /// The closed epoch these outcomes belong to.
    epoch: u32,
    /// One bit per slot: 1 for a failure.
    bits: Vec<u64>,
    /// Slots in the window.
    len: usize,
    /// The slot the next outcome goes in.
    next: usize,
    /// Slots filled so far (at most `len`).
    filled: usize,
    /// Failures among the filled slots.
    failures: usize,
    /// Failures in a full window that open the breaker.
    trip_at: usize,
}

impl Window {
    /// A window of `len` calls (1..=[`MAX_WINDOW`]) that trips when the
    /// failure rate reaches `rate` (in (0, 1]).
    pub(super) fn new(rate: f64, len: u32) -> Window {
        let len = len as usize;
        Window {
            epoch: 0,
            bits: vec![0; len.div_ceil(64)],
            len,
            next: 0,
            filled: 0,
            failures: 0,
            trip_at: failures_needed(rate, len),
        }
    }

    /// Records one outcome of a call admitted while closed at `epoch`;
    /// true when the window is full and its failure rate is at or above the
    /// limit.
    pub(super) fn record(&mut self, epoch: u32, failed: bool) -> bool {
        if epoch != self.epoch {
            if !is_newer(epoch, self.epoch) {
                return false; // a call from an earlier closed period
            }
            self.reset(epoch);
        }
        let (word, bit) = (self.next / 64, 1u64 << (self.next % 64));
        if self.filled == self.len {
            if self.bits[word] & bit != 0 {
                self.failures -= 1;
            }
        } else {
            self.filled += 1;
        }
        if failed {
            self.bits[word] |= bit;
            self.failures += 1;
        } else {
            self.bits[word] &= !bit;
        }
        self.next = if self.next + 1 == self.len {
            0
        } else {
            self.next + 1
        };
        self.filled == self.len && self.failures >= self.trip_at
    }

    fn reset(&mut self, epoch: u32) {
        self.epoch = epoch;
        self.bits.fill(0);
        self.next = 0;
        self.filled = 0;
        self.failures = 0;
    }
}

/// The fewest failures `k` out of `len` with `k / len >= rate`, computed as
/// the comparison itself is, so that `failure_rate(0.3, 10)` trips at 3.
fn failures_needed(rate: f64, len: usize) -> usize {
    let n = len as f64;
    let reaches = |k: usize| k as f64 / n >= rate;
    let mut k = ((rate * n).ceil() as usize).clamp(1, len);
    while k > 1 && reaches(k - 1) {
        k -= 1;
    }
    while k < len && !reaches(k) {
        k += 1;
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_needed_matches_the_rate() {
        assert_eq!(failures_needed(0.3, 10), 3);
        assert_eq!(failures_needed(0.5, 4), 2);
        assert_eq!(failures_needed(0.51, 4), 3);
        assert_eq!(failures_needed(1.0, 7), 7);
        assert_eq!(failures_needed(1e-9, 7), 1);
        assert_eq!(failures_needed(0.1, 1), 1);
        for len in 1..200usize {
            for k in 1..=len {
                let rate = k as f64 / len as f64;
                assert_eq!(failures_needed(rate, len), k, "{k}/{len}");
            }
        }
    }

    #[test]
    fn slides_and_trips_only_when_full() {
        let mut w = Window::new(0.5, 4);
        assert!(!w.record(0, true));
        assert!(!w.record(0, true)); // 2 of 2, but not full
        assert!(!w.record(0, false));
        assert!(w.record(0, false)); // F F S S: 2 of 4
        assert!(!w.record(0, false)); // F S S S
        assert!(!w.record(0, false)); // S S S S
        assert!(!w.record(0, true)); // S S S F
        assert!(w.record(0, true)); // S S F F
    }

    #[test]
    fn a_newer_epoch_resets_and_an_older_one_is_ignored() {
        let mut w = Window::new(1.0, 2);
        assert!(!w.record(0, true));
        assert!(!w.record(3, true)); // reset: 1 of 2
        assert!(!w.record(0, true)); // stale
        assert!(w.record(3, true));
    }

    #[test]
    fn spans_many_words() {
        let mut w = Window::new(0.5, 130);
        for i in 0..129 {
            assert!(!w.record(0, i % 2 == 0), "{i}");
        }
        assert!(w.record(0, false)); // 65 of 130
    }
}
