//! Index ranges as sources, split by arithmetic on their bounds.

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
