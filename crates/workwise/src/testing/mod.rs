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

mod chaos;
mod counter;
mod stress;
mod wait;

pub(crate) use chaos::chaos_from_env_once;
pub use chaos::{chaos_point, Chaos, ChaosPause, ChaosPoint};
pub use counter::CallCounter;
pub use stress::{replay, stress, StressFailure, StressReport};
pub use wait::{wait_for, WaitTimedOut};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
