//! Index ranges, `a..b` and `a..=b`, as sources, split by arithmetic on
//! their bounds.

use std::ops::RangeInclusive;

use super::source::{IntoParSource, ParSource};

/// Index ranges: `cpu.par_map(0..n, f)` gives `f` each index, split by
/// arithmetic on the bounds (nothing is allocated for the input). An empty
/// or reversed range (`5..2`) has no items.
macro_rules! range_source {
    ($($t:ty => $u:ty),* $(,)?) => {$(
        impl IntoParSource for std::ops::Range<$t> {
            type Source = std::ops::Range<$t>;
            fn into_par_source(self) -> std::ops::Range<$t> {
                self
            }
        }

        impl ParSource for std::ops::Range<$t> {
            type Item = $t;
            type Chunk = std::ops::Range<$t>;
            fn len(&self) -> usize {
                if self.start < self.end {
                    // The distance fits the unsigned type of the same width,
                    // and that fits a usize (the impl is only there when so).
                    (self.end as $u).wrapping_sub(self.start as $u) as usize
                } else {
                    0
                }
            }
            fn split_tail(&mut self, k: usize) -> std::ops::Range<$t> {
                let k = k.min(ParSource::len(self));
                // `end - k` lies in `start..=end`: exact in wrapping arithmetic.
                let at = (self.end as $u).wrapping_sub(k as $u) as $t;
                let tail = at..self.end;
                self.end = at;
                tail
            }
            fn into_chunk(self) -> std::ops::Range<$t> {
                self
            }
        }
    )*};
}

range_source!(usize => usize, u32 => u32, i32 => u32);
#[cfg(target_pointer_width = "64")]
range_source!(u64 => u64, i64 => u64);

/// Inclusive index ranges: `cpu.par_map(0..=n, f)` gives `f` each index
/// from `0` to `n`, `n` included, split by arithmetic on the bounds
/// (nothing is allocated for the input). Chunks are inclusive ranges too,
/// so a range that ends at the type's last value (`..=u64::MAX`) needs no
/// end past it. An empty range (`5..=3`) has no items, nor has an exhausted
/// one (an inclusive range iterated to its end keeps its bounds but is
/// empty: [`RangeInclusive::is_empty`]). A range with more items than a
/// `usize` can count (`0..=usize::MAX`, and on 64-bit targets
/// `0..=u64::MAX` or `i64::MIN..=i64::MAX`) reports it through
/// [`ParSource::checked_len`]; the data-parallel calls then give
/// `TaskError::TooManyItems` and run nothing.
macro_rules! range_inclusive_source {
    ($($t:ty => $u:ty),* $(,)?) => {$(
        impl IntoParSource for RangeInclusive<$t> {
            type Source = RangeInclusive<$t>;
            fn into_par_source(self) -> RangeInclusive<$t> {
                self
            }
        }

        impl ParSource for RangeInclusive<$t> {
            type Item = $t;
            type Chunk = RangeInclusive<$t>;
            /// The count, or `usize::MAX` when it is more than a `usize`
            /// can count (see `checked_len`).
            fn len(&self) -> usize {
                ParSource::checked_len(self).unwrap_or(usize::MAX)
            }
            fn checked_len(&self) -> Option<usize> {
                if RangeInclusive::is_empty(self) {
                    return Some(0);
                }
                // `end - start` fits the unsigned type of the same width,
                // and that fits a usize; one more may not.
                let distance = (*self.end() as $u).wrapping_sub(*self.start() as $u) as usize;
                distance.checked_add(1)
            }
            fn split_tail(&mut self, k: usize) -> RangeInclusive<$t> {
                let n = ParSource::checked_len(self);
                // Uncountable (`n` is None): any `k` a usize holds is less
                // than the count.
                let k = n.map_or(k, |n| k.min(n));
                if k == 0 {
                    return empty();
                }
                if Some(k) == n {
                    return std::mem::replace(self, empty());
                }
                // 0 < k < count: the tail is `end - (k - 1) ..= end`, the
                // head `start ..= end - k`, both inside the bounds, so exact
                // in wrapping arithmetic.
                let end = *self.end();
                let at = (end as $u).wrapping_sub((k - 1) as $u) as $t;
                let head_end = (at as $u).wrapping_sub(1) as $t;
                *self = *self.start()..=head_end;
                at..=end
            }
            fn into_chunk(self) -> RangeInclusive<$t> {
                self
            }
        }
    )*};
}

/// An empty inclusive range, whatever the type: what a source is left with
/// once its last items are split off.
#[allow(clippy::reversed_empty_ranges)] // Empty is the point.
fn empty<T: From<u8>>() -> RangeInclusive<T> {
    T::from(1)..=T::from(0)
}

range_inclusive_source!(usize => usize, u32 => u32, i32 => u32);
#[cfg(target_pointer_width = "64")]
range_inclusive_source!(u64 => u64, i64 => u64);
