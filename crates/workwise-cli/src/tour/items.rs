//! [`Items`]: a row's items checked one by one, the outcome of the
//! scenarios that count pages, images or items and compare each with what
//! it should be.

use std::fmt;

use super::{Figure, Measurement, Outcome, Ran};

/// What a scenario counts its items as: `page`, with the figures `pages`
/// and `pages_per_s`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unit {
    /// One item, in a failure's message (`page 3: ...`).
    pub(crate) one: &'static str,
    /// The figure of the items' count.
    pub(crate) count: &'static str,
    /// The figure of the items done a second.
    pub(crate) rate: &'static str,
}

/// A row's items, checked one by one: how many, how many failed, the first
/// failure. Its figures: the count, and the items done a second.
#[derive(Debug, Clone)]
pub(crate) struct Items {
    unit: Unit,
    count: usize,
    failed: u64,
    first_failure: Option<String>,
}

impl Items {
    /// `count` items, none failed yet.
    pub(crate) fn new(unit: Unit, count: usize) -> Items {
        Items {
            unit,
            count,
            failed: 0,
            first_failure: None,
        }
    }

    /// Adds item `i`'s result: a failure counts, and the first is kept.
    pub(crate) fn add(&mut self, i: usize, result: Result<(), String>) {
        if let Err(e) = result {
            self.failed += 1;
            self.first_failure
                .get_or_insert_with(|| format!("{} {i}: {e}", self.unit.one));
        }
    }

    /// Items whose results (`got`, or why none came back) are checked
    /// against the loop's (`expected`), one by one.
    pub(crate) fn check<T: PartialEq + fmt::LowerHex>(
        unit: Unit,
        got: Result<&[T], &String>,
        expected: &[T],
    ) -> Items {
        let mut items = Items::new(unit, expected.len());
        let n = expected.len();
        match got {
            Err(e) => {
                items.failed = n as u64;
                items.first_failure = Some(format!("no result came back: {e}"));
            }
            Ok(got) if got.len() != n => {
                items.failed = n as u64;
                items.first_failure = Some(format!("{} results came back, not {n}", got.len()));
            }
            Ok(got) => {
                for (i, (got, want)) in got.iter().zip(expected).enumerate() {
                    let same = if got == want {
                        Ok(())
                    } else {
                        Err(format!("checksum {got:016x}, the loop's {want:016x}"))
                    };
                    items.add(i, same);
                }
            }
        }
        items
    }

    /// How many failed.
    #[cfg(test)]
    pub(crate) fn failed(&self) -> u64 {
        self.failed
    }
}

impl Outcome for Items {
    fn measurement(self, ran: Ran) -> Measurement {
        let done = (self.count as u64).saturating_sub(self.failed);
        let per_s = done as f64 / ran.wall.as_secs_f64().max(f64::MIN_POSITIVE);
        Measurement {
            figures: vec![
                (self.unit.count, Figure::Count(self.count as u64)),
                (self.unit.rate, Figure::Rate(per_s)),
            ],
            failed: self.failed,
            first_failure: self.first_failure,
            ..ran.measurement()
        }
    }
}
