//! The state word (module docs, rule 1): state, epoch and payload packed in
//! one `u64`, so that one compare-and-swap checks all three.
//!
//! ```text
//! bits 63..32  payload   closed: consecutive failures
//!                        half-open: probes succeeded (high 16) | probes admitted (low 16)
//!                        open: 0
//! bits 31..2   epoch     +1 (mod 2^30) on every transition
//! bits  1..0   state     0 closed, 1 open, 2 half-open
//! ```

use super::error::BreakerState;

const STATE_MASK: u64 = 0b11;
const CLOSED: u64 = 0;
const OPEN: u64 = 1;
const HALF_OPEN: u64 = 2;
const EPOCH_SHIFT: u32 = 2;
const EPOCH_MASK: u32 = (1 << 30) - 1;
const PAYLOAD_SHIFT: u32 = 32;

/// The most probes a half-open breaker can admit: the payload's 16 bits.
pub(super) const MAX_HALF_OPEN_CALLS: u32 = u16::MAX as u32;

/// One value of the state word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Word(pub(super) u64);

impl Word {
    fn pack(state: u64, epoch: u32, payload: u32) -> Word {
        Word(
            state
                | (u64::from(epoch & EPOCH_MASK) << EPOCH_SHIFT)
                | (u64::from(payload) << PAYLOAD_SHIFT),
        )
    }

    /// Closed, with `failures` consecutive failures so far.
    pub(super) fn closed(epoch: u32, failures: u32) -> Word {
        Word::pack(CLOSED, epoch, failures)
    }

    /// Open.
    pub(super) fn open(epoch: u32) -> Word {
        Word::pack(OPEN, epoch, 0)
    }

    /// Half-open, with `admitted` probes let through and `succeeded` of them
    /// back with a success.
    pub(super) fn half_open(epoch: u32, admitted: u16, succeeded: u16) -> Word {
        Word::pack(
            HALF_OPEN,
            epoch,
            (u32::from(succeeded) << 16) | u32::from(admitted),
        )
    }

    pub(super) fn state(self) -> BreakerState {
        match self.0 & STATE_MASK {
            CLOSED => BreakerState::Closed,
            OPEN => BreakerState::Open,
            _ => BreakerState::HalfOpen,
        }
    }

    pub(super) fn epoch(self) -> u32 {
        ((self.0 >> EPOCH_SHIFT) as u32) & EPOCH_MASK
    }

    fn payload(self) -> u32 {
        (self.0 >> PAYLOAD_SHIFT) as u32
    }

    /// Closed: the consecutive failures.
    pub(super) fn failures(self) -> u32 {
        self.payload()
    }

    /// Half-open: the probes admitted.
    pub(super) fn admitted(self) -> u16 {
        self.payload() as u16
    }

    /// Half-open: the probes that came back with a success.
    pub(super) fn succeeded(self) -> u16 {
        (self.payload() >> 16) as u16
    }

    /// Whether this word is in `state` at `epoch` (module docs, rule 2).
    pub(super) fn is(self, state: BreakerState, epoch: u32) -> bool {
        self.state() == state && self.epoch() == epoch
    }

    /// The next epoch, as the word counts them.
    pub(super) fn next_epoch(self) -> u32 {
        self.epoch().wrapping_add(1) & EPOCH_MASK
    }
}

/// Whether epoch `a` comes after `b`, modulo wrapping: true when `a` is at
/// most 2^29 transitions ahead.
pub(super) fn is_newer(a: u32, b: u32) -> bool {
    let ahead = a.wrapping_sub(b) & EPOCH_MASK;
    ahead != 0 && ahead < (1 << 29)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let w = Word::closed(7, u32::MAX);
        assert_eq!(w.state(), BreakerState::Closed);
        assert_eq!(w.epoch(), 7);
        assert_eq!(w.failures(), u32::MAX);

        let w = Word::half_open(EPOCH_MASK, 3, 2);
        assert_eq!(w.state(), BreakerState::HalfOpen);
        assert_eq!((w.epoch(), w.admitted(), w.succeeded()), (EPOCH_MASK, 3, 2));
        assert_eq!(w.next_epoch(), 0);

        let w = Word::open(1 << 30); // masked to 0
        assert_eq!((w.state(), w.epoch()), (BreakerState::Open, 0));
        assert!(w.is(BreakerState::Open, 0));
        assert!(!w.is(BreakerState::Closed, 0));
    }

    #[test]
    fn newer_epochs_wrap() {
        assert!(is_newer(1, 0));
        assert!(!is_newer(0, 1));
        assert!(!is_newer(5, 5));
        assert!(is_newer(0, EPOCH_MASK));
        assert!(!is_newer(EPOCH_MASK, 0));
    }
}
