//! What the data-parallel calls accept: [`IntoParSource`] and [`ParSource`],
//! for slices and `Vec`s, and [`collected`] iterators (ranges are in
//! `range.rs`).

#[cfg(doc)]
use crate::pool::{Pool, TaskError};

/// What [`Pool::par_map`] and friends accept: `&[T]`, `&Vec<T>` and
/// `&[T; N]` (the items are borrowed), `Vec<T>` (the items are moved),
/// index ranges `a..b` and `a..=b` of `usize`, `u32`, `i32`, and on
/// 64-bit targets `u64` and `i64` (split by arithmetic, nothing allocated),
/// and any iterator through [`collected`] (collected into a `Vec` first).
///
/// An empty range (`5..2`, `5..=3`, or an inclusive range already iterated
/// to its end) has no items. An inclusive range with more items than a
/// `usize` can count (`0..=usize::MAX`; on 64-bit targets also
/// `0..=u64::MAX` and `i64::MIN..=i64::MAX`) is refused with
/// [`TaskError::TooManyItems`]: no item runs (see
/// [`ParSource::checked_len`]).
///
/// # Examples
///
/// ```
/// use workwise::{IntoParSource, ParSource};
///
/// let v = vec![1, 2, 3];
/// assert_eq!((&v).into_par_source().len(), 3);
/// assert_eq!(v.into_par_source().len(), 3);
/// assert_eq!(ParSource::len(&(1..=10u64).into_par_source()), 10);
/// ```
pub trait IntoParSource {
    /// The splittable form.
    type Source: ParSource;
    /// Converts into the splittable form.
    fn into_par_source(self) -> Self::Source;
}

impl<'a, T: Sync> IntoParSource for &'a [T] {
    type Source = &'a [T];
    fn into_par_source(self) -> &'a [T] {
        self
    }
}

impl<'a, T: Sync> IntoParSource for &'a Vec<T> {
    type Source = &'a [T];
    fn into_par_source(self) -> &'a [T] {
        self.as_slice()
    }
}

impl<'a, T: Sync, const N: usize> IntoParSource for &'a [T; N] {
    type Source = &'a [T];
    fn into_par_source(self) -> &'a [T] {
        self.as_slice()
    }
}

impl<T: Send> IntoParSource for Vec<T> {
    type Source = Vec<T>;
    fn into_par_source(self) -> Vec<T> {
        self
    }
}

/// The items of an iterator, collected into a `Vec` when the data-parallel
/// call starts; made by [`collected`].
///
/// # Examples
///
/// ```
/// let cpu = workwise::Pool::cpu().build()?;
/// let squares = cpu.par_map(workwise::collected((1..=3u32).map(|x| x * x)), |x| x + 1)?;
/// assert_eq!(squares, [2, 5, 10]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Collected<I>(I);

/// Lets [`Pool::par_map`] and friends take any iterator, such as
/// `(0..n).map(g)`: its items are collected into a `Vec` first, then split
/// as a `Vec` is.
///
/// A plain iterator cannot be split without running it, so this is the only
/// way to share its items out; for an index range, pass the range itself
/// (`cpu.par_map(0..n, f)`), which is split by arithmetic instead.
///
/// # Examples
///
/// ```
/// let cpu = workwise::Pool::cpu().build()?;
/// let words = ["a", "bb", "ccc"];
/// let lens = cpu.par_map(workwise::collected(words.iter().map(|w| w.len())), |n| n * 10)?;
/// assert_eq!(lens, [10, 20, 30]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Cost
///
/// One `Vec` of the items, allocated at once when the iterator's size is
/// exact, and one pass of the iterator on the calling thread before any
/// item is shared out: whatever the iterator's own adapters do (the `g` of
/// `.map(g)`) runs sequentially. Put the heavy work in the data-parallel
/// call's closure, not in the iterator.
pub fn collected<I: IntoIterator>(iter: I) -> Collected<I::IntoIter> {
    Collected(iter.into_iter())
}

impl<I> IntoParSource for Collected<I>
where
    I: Iterator,
    I::Item: Send,
{
    type Source = Vec<I::Item>;
    fn into_par_source(self) -> Vec<I::Item> {
        self.0.collect()
    }
}

/// An input that can be cut into contiguous chunks; see [`IntoParSource`].
///
/// # Examples
///
/// ```
/// use workwise::ParSource;
///
/// let mut items: &[u8] = &[1, 2, 3, 4];
/// assert_eq!(items.split_tail(1), &[4]);
/// assert_eq!(ParSource::len(&items), 3);
/// ```
pub trait ParSource: Sized + Send {
    /// What `f` receives.
    type Item: Send;
    /// A contiguous run of items.
    type Chunk: IntoIterator<Item = Self::Item> + Send;
    /// How many items there are (at most `usize::MAX`: see
    /// [`checked_len`](ParSource::checked_len)).
    fn len(&self) -> usize;
    /// How many items there are, or `None` when there are more than a
    /// `usize` can count (only an inclusive range can: `0..=usize::MAX`).
    /// The data-parallel calls then give [`TaskError::TooManyItems`] and run
    /// no item. The default is `Some(self.len())`.
    ///
    /// # Examples
    ///
    /// ```
    /// use workwise::{IntoParSource, ParSource};
    ///
    /// assert_eq!((0..=9u32).into_par_source().checked_len(), Some(10));
    /// assert_eq!((0..=usize::MAX).into_par_source().checked_len(), None);
    /// ```
    fn checked_len(&self) -> Option<usize> {
        Some(self.len())
    }
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Splits off and returns the last `k` items (`k <= len`).
    fn split_tail(&mut self, k: usize) -> Self::Chunk;
    /// All the items as one chunk.
    fn into_chunk(self) -> Self::Chunk;
}

impl<'a, T: Sync> ParSource for &'a [T] {
    type Item = &'a T;
    type Chunk = &'a [T];
    fn len(&self) -> usize {
        <[T]>::len(self)
    }
    fn split_tail(&mut self, k: usize) -> &'a [T] {
        let (head, tail) = self.split_at(<[T]>::len(self) - k.min(<[T]>::len(self)));
        *self = head;
        tail
    }
    fn into_chunk(self) -> &'a [T] {
        self
    }
}

impl<T: Send> ParSource for Vec<T> {
    type Item = T;
    type Chunk = Vec<T>;
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn split_tail(&mut self, k: usize) -> Vec<T> {
        let at = Vec::len(self) - k.min(Vec::len(self));
        self.split_off(at)
    }
    fn into_chunk(self) -> Vec<T> {
        self
    }
}
