//! The advisor's rule for process pools: W11, large arguments copied into
//! worker processes.
//!
//! A task's argument is encoded, written to a pipe, read and decoded again
//! in the worker: four copies for every task. A
//! [`SharedBytes`](super::SharedBytes) is copied once into shared memory,
//! and a task's argument then holds a handle of a few bytes. Measured on the development machine (2 shared cores, release
//! build, one worker, medians of 41 round trips of a `Vec<u8>` argument
//! against a `SharedBytes` handle to the same bytes):
//!
//! | Argument | Copied | `SharedBytes::new`, once | Handle, per task |
//! |---|---|---|---|
//! | 16 KiB | 91 µs | 60 µs | 26 µs |
//! | 64 KiB | 297 µs | 115 µs | 24 µs |
//! | 256 KiB | 1.3 ms | 163 µs | 22 µs |
//! | 1 MiB | 14 ms | 625 µs | 18 µs |
//!
//! From 64 KiB on, a copy costs more than ten handle round trips, and the
//! one copy into shared memory is paid back by the first task that reuses
//! it; below, the difference is tens of microseconds a task.
//!
//! # The rule
//!
//! W11 when at least [`MIN_LARGE`] arguments of 64 KiB or more
//! ([`LARGE_ARGUMENT`]) were sent, and either the mean argument is 64 KiB
//! or more (most tasks carry large data) or the large ones add up to
//! [`LARGE_TOTAL`] (16 MiB, about a quarter of a second of copying at the
//! 1 MiB row's rate). Many tiny arguments never count, however many bytes
//! they add up to: sharing would not help them, and a `map` counts each
//! item of a chunk, not the chunk.

use super::stats::{ProcessStats, LARGE_ARGUMENT};
use crate::advice::{Advice, Code, Figure};

/// Large arguments needed before the rule speaks: one or two copies are
/// not worth a shared map.
pub(super) const MIN_LARGE: u64 = 4;

/// The bytes of large arguments that are worth a finding even when most
/// arguments are small.
pub(super) const LARGE_TOTAL: u64 = 16 << 20;

const KIB: f64 = 1024.0;
const MIB: f64 = 1024.0 * 1024.0;

/// The W11 finding about the process pool `name`, if its figures show one.
pub(super) fn check(name: &str, s: &ProcessStats) -> Vec<Advice> {
    if s.large_arguments < MIN_LARGE || s.arguments == 0 {
        return Vec::new();
    }
    let mean = s.argument_bytes / s.arguments;
    if mean < LARGE_ARGUMENT && s.large_argument_bytes < LARGE_TOTAL {
        return Vec::new();
    }
    vec![Advice::new(
        Code::W11,
        format!("process pool '{name}'"),
        format!(
            "{} of the {} arguments sent to process pool '{name}' were 64 KiB or more, \
             each copied through a pipe into its worker",
            s.large_arguments, s.arguments
        ),
        vec![
            Figure::new("arguments", s.arguments as f64, ""),
            Figure::new("large_arguments", s.large_arguments as f64, ""),
            Figure::new("mean_argument", mean as f64 / KIB, "KiB"),
            Figure::new("largest_argument", s.largest_argument as f64 / KIB, "KiB"),
            Figure::new(
                "large_argument_bytes",
                s.large_argument_bytes as f64 / MIB,
                "MiB",
            ),
        ],
        "put the data in a workwise::process::SharedBytes once (SharedBytes::new) and send \
         the handle in each task's argument: workers map the same pages instead of \
         receiving a copy",
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(arguments: u64, argument_bytes: u64, large: u64, large_bytes: u64) -> ProcessStats {
        ProcessStats {
            arguments,
            argument_bytes,
            largest_argument: large_bytes.checked_div(large).unwrap_or(8),
            large_arguments: large,
            large_argument_bytes: large_bytes,
            ..ProcessStats::default()
        }
    }

    #[test]
    fn w11_when_most_arguments_are_large() {
        let found = check("p", &stats(8, 8 << 20, 8, 8 << 20));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].code, Code::W11);
        assert_eq!(found[0].figure("mean_argument"), Some(1024.0));
        assert_eq!(found[0].figure("large_arguments"), Some(8.0));
    }

    #[test]
    fn w11_when_a_few_large_arguments_add_up_among_many_small_ones() {
        // 16 arguments of 1 MiB among 100,000 of 10 bytes.
        let s = stats(100_016, 16 << 20 | 1_000_000, 16, 16 << 20);
        assert_eq!(check("p", &s).len(), 1);
    }

    #[test]
    fn no_w11_for_many_tiny_arguments_however_many_bytes() {
        // 2 million arguments of 10 bytes: 20 MB, none large.
        assert_eq!(check("p", &stats(2_000_000, 20_000_000, 0, 0)), vec![]);
    }

    #[test]
    fn no_w11_for_fewer_than_four_large_arguments() {
        assert_eq!(check("p", &stats(3, 3 << 20, 3, 3 << 20)), vec![]);
    }

    #[test]
    fn no_w11_for_a_few_large_arguments_that_do_not_add_up() {
        // 4 arguments of 64 KiB among 10,000 small ones: 256 KiB copied.
        assert_eq!(
            check("p", &stats(10_004, 100_000 + (256 << 10), 4, 256 << 10)),
            vec![]
        );
    }
}
