//! Fan-out, fan-in: [`gather`], and the limited, lazy streams
//! [`gather_limited`], [`map`], [`gather_unordered`] and [`map_unordered`].
//!
//! The futures run concurrently inside the task that polls the result, as
//! `asyncio.gather` runs coroutines on one event loop. The limited streams
//! pull the next future from their iterator only when one of the `limit` in
//! flight has finished, so the iterator may be endless and memory stays
//! bounded by the limit.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_util::future::JoinAll;
use futures_util::stream::{FuturesOrdered, FuturesUnordered, StreamExt};

use super::GatherBuildError;

/// Runs every future of `futures` concurrently and gives their outputs in
/// input order.
///
/// No limit: every future is in flight at once. For many futures (a request
/// per item of a long list) use [`gather_limited`].
///
/// # Examples
///
/// ```
/// use workwise::aio;
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let lens = aio::gather(["a", "bb", "ccc"].map(|s| async move { s.len() })).await;
/// assert_eq!(lens, [1, 2, 3]);
/// # });
/// ```
///
/// # Cancel safety
///
/// Dropping the returned future drops every future still in flight; outputs
/// already produced are dropped with it.
pub fn gather<I>(futures: I) -> Gather<I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    Gather {
        inner: futures_util::future::join_all(futures),
    }
}

/// The future returned by [`gather`]: all outputs, in input order.
///
/// # Examples
///
/// ```
/// use workwise::aio;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let all: aio::Gather<_> = aio::gather((1..=3).map(|i| async move { i * i }));
/// assert_eq!(all.await, [1, 4, 9]);
/// # });
/// ```
///
/// # Cancel safety
///
/// Dropping it drops every future still in flight.
#[must_use = "futures do nothing unless awaited"]
pub struct Gather<F: Future> {
    inner: JoinAll<F>,
}

impl<F: Future> std::fmt::Debug for Gather<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gather").finish_non_exhaustive()
    }
}

impl<F: Future> Future for Gather<F> {
    type Output = Vec<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.get_mut().inner).poll(cx)
    }
}

/// Runs the futures of `futures` with at most `limit` in flight, as a
/// stream of their outputs in input order.
///
/// The iterator is pulled lazily: a new future is taken only when one in
/// flight has finished, so an endless iterator works (stop by taking as many
/// outputs as you need) and memory stays bounded by `limit`. An output that
/// is ready before the ones ahead of it waits for them (as in
/// `StreamExt::buffered`); use [`gather_unordered`] to get outputs as they
/// come.
///
/// # Examples
///
/// ```
/// use workwise::aio;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// // An endless iterator: the first five squares, at most two in flight.
/// let mut squares = aio::gather_limited((0u64..).map(|i| async move { i * i }), 2)?;
/// let mut first = Vec::new();
/// while first.len() < 5 {
///     first.push(squares.next().await.unwrap());
/// }
/// assert_eq!(first, [0, 1, 4, 9, 16]);
/// # Ok::<(), aio::GatherBuildError>(())
/// # }).unwrap();
/// ```
///
/// # Errors
///
/// [`GatherBuildError`] when `limit` is 0.
///
/// # Cancel safety
///
/// Dropping the stream drops the futures in flight (at most `limit`) and
/// the outputs held for order; the iterator's remaining futures are never
/// created. Every output the stream yielded is yours.
pub fn gather_limited<I>(
    futures: I,
    limit: usize,
) -> Result<GatherLimited<I::IntoIter>, GatherBuildError>
where
    I: IntoIterator,
    I::Item: Future,
{
    if limit == 0 {
        return Err(GatherBuildError::ZeroLimit);
    }
    Ok(GatherLimited {
        iter: Some(futures.into_iter()),
        in_flight: FuturesOrdered::new(),
        limit,
    })
}

/// Calls `f` on each item of `input`, with at most `limit` of the futures
/// it returns in flight, as a stream of outputs in input order.
///
/// `aio::map(urls, 100, fetch)` is `aio::gather_limited(urls.map(fetch),
/// 100)`; see there.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use workwise::aio;
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let ids = vec![3u64, 1, 2];
/// let names = aio::map(ids, 2, |id| async move {
///     tokio::time::sleep(Duration::from_millis(id)).await; // a lookup
///     format!("user-{id}")
/// })?
/// .collect()
/// .await;
/// assert_eq!(names, ["user-3", "user-1", "user-2"]);
/// # Ok::<(), aio::GatherBuildError>(())
/// # }).unwrap();
/// ```
///
/// # Errors
///
/// [`GatherBuildError`] when `limit` is 0.
///
/// # Cancel safety
///
/// As for [`gather_limited`]: dropping the stream drops at most `limit`
/// futures in flight, and `f` is never called on the items not reached.
#[allow(clippy::type_complexity)]
pub fn map<I, F, Fut>(
    input: I,
    limit: usize,
    f: F,
) -> Result<GatherLimited<std::iter::Map<I::IntoIter, F>>, GatherBuildError>
where
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future,
{
    gather_limited(input.into_iter().map(f), limit)
}

/// Like [`gather_limited`], but yields each output as soon as its future
/// finishes, in completion order.
///
/// # Examples
///
/// ```
/// use workwise::aio;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let mut sums = aio::gather_unordered((1..=4).map(|i| async move { i }), 2)?
///     .collect()
///     .await;
/// sums.sort();
/// assert_eq!(sums, [1, 2, 3, 4]);
/// # Ok::<(), aio::GatherBuildError>(())
/// # }).unwrap();
/// ```
///
/// # Errors
///
/// [`GatherBuildError`] when `limit` is 0.
///
/// # Cancel safety
///
/// Dropping the stream drops the futures in flight (at most `limit`); the
/// iterator's remaining futures are never created.
pub fn gather_unordered<I>(
    futures: I,
    limit: usize,
) -> Result<GatherUnordered<I::IntoIter>, GatherBuildError>
where
    I: IntoIterator,
    I::Item: Future,
{
    if limit == 0 {
        return Err(GatherBuildError::ZeroLimit);
    }
    Ok(GatherUnordered {
        iter: Some(futures.into_iter()),
        in_flight: FuturesUnordered::new(),
        limit,
    })
}

/// Calls `f` on each item of `input`, with at most `limit` of its futures in
/// flight, as a stream of outputs in completion order.
///
/// # Examples
///
/// ```
/// use workwise::aio;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let mut got = aio::map_unordered(["a", "bb"], 8, |s| async move { s.len() })?
///     .collect()
///     .await;
/// got.sort();
/// assert_eq!(got, [1, 2]);
/// # Ok::<(), aio::GatherBuildError>(())
/// # }).unwrap();
/// ```
///
/// # Errors
///
/// [`GatherBuildError`] when `limit` is 0.
///
/// # Cancel safety
///
/// As for [`gather_unordered`].
#[allow(clippy::type_complexity)]
pub fn map_unordered<I, F, Fut>(
    input: I,
    limit: usize,
    f: F,
) -> Result<GatherUnordered<std::iter::Map<I::IntoIter, F>>, GatherBuildError>
where
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future,
{
    gather_unordered(input.into_iter().map(f), limit)
}

/// Pulls futures from `iter` until `limit` are in flight or it ends (then
/// `*iter` becomes `None`); shared by both streams.
fn refill<I: Iterator>(
    iter: &mut Option<I>,
    limit: usize,
    len: usize,
    mut push: impl FnMut(I::Item),
) {
    let mut len = len;
    while len < limit {
        match iter.as_mut().and_then(Iterator::next) {
            Some(fut) => {
                push(fut);
                len += 1;
            }
            None => {
                *iter = None;
                return;
            }
        }
    }
}

macro_rules! limited_stream {
    ($name:ident, $push:ident, $order:literal) => {
        impl<I> $name<I>
        where
            I: Iterator,
            I::Item: Future,
        {
            /// The next output, or `None` once the iterator is exhausted
            /// and every future has finished.
            ///
            /// # Examples
            ///
            /// ```
            /// use workwise::aio;
            ///
            /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
            #[doc = concat!("let mut s = aio::", $order, "((0..2).map(|i| async move { i }), 1)?;")]
            /// assert_eq!(s.next().await, Some(0));
            /// assert_eq!(s.next().await, Some(1));
            /// assert_eq!(s.next().await, None);
            /// # Ok::<(), aio::GatherBuildError>(())
            /// # }).unwrap();
            /// ```
            ///
            /// # Cancel safety
            ///
            /// Cancel safe: dropping this future before it is ready loses
            /// no output; the next call gets it.
            pub async fn next(&mut self) -> Option<<I::Item as Future>::Output> {
                std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
            }

            /// Every remaining output, in the stream's order.
            ///
            /// # Examples
            ///
            /// ```
            /// use workwise::aio;
            ///
            /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
            #[doc = concat!("let all = aio::", $order, "((0..3).map(|i| async move { i }), 2)?.collect().await;")]
            /// assert_eq!(all.len(), 3);
            /// # Ok::<(), aio::GatherBuildError>(())
            /// # }).unwrap();
            /// ```
            ///
            /// # Cancel safety
            ///
            /// Dropping this future drops the stream with it: the outputs
            /// collected so far and the futures in flight are dropped.
            pub async fn collect(mut self) -> Vec<<I::Item as Future>::Output> {
                let mut out = Vec::with_capacity(self.iter.as_ref().map_or(0, |i| i.size_hint().0));
                while let Some(v) = self.next().await {
                    out.push(v);
                }
                out
            }

            /// How many futures are in flight now (at most the limit).
            ///
            /// # Examples
            ///
            /// ```
            /// use workwise::aio;
            ///
            #[doc = concat!("let s = aio::", $order, "((0..9).map(|i| async move { i }), 4)?;")]
            /// assert_eq!(s.in_flight(), 0); // nothing is pulled before the first poll
            /// # Ok::<(), aio::GatherBuildError>(())
            /// ```
            pub fn in_flight(&self) -> usize {
                self.in_flight.len()
            }
        }

        impl<I> Stream for $name<I>
        where
            I: Iterator,
            I::Item: Future,
        {
            type Item = <I::Item as Future>::Output;

            fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
                let this = self.get_mut();
                let set = &mut this.in_flight;
                refill(&mut this.iter, this.limit, set.len(), |f| set.$push(f));
                // After a refill the set is empty only if the iterator is
                // exhausted too, so the set's end is the stream's end.
                this.in_flight.poll_next_unpin(cx)
            }

            fn size_hint(&self) -> (usize, Option<usize>) {
                let n = self.in_flight.len();
                match &self.iter {
                    None => (n, Some(n)),
                    Some(it) => {
                        let (lo, hi) = it.size_hint();
                        (n.saturating_add(lo), hi.and_then(|h| h.checked_add(n)))
                    }
                }
            }
        }

        // The iterator is never pinned (it is only called through `&mut`),
        // and the future sets box their futures, so the stream may move.
        impl<I> Unpin for $name<I> where I: Iterator, I::Item: Future {}

        impl<I> std::fmt::Debug for $name<I>
        where
            I: Iterator,
            I::Item: Future,
        {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("limit", &self.limit)
                    .field("in_flight", &self.in_flight.len())
                    .field("exhausted", &self.iter.is_none())
                    .finish()
            }
        }
    };
}

/// The stream of [`gather_limited`] and [`map`]: at most `limit` futures in
/// flight, outputs in input order. It is a [`Stream`], and has
/// [`next`](GatherLimited::next) and [`collect`](GatherLimited::collect) of
/// its own.
///
/// # Examples
///
/// ```
/// use workwise::aio;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let s: aio::GatherLimited<_> = aio::gather_limited((0..3).map(|i| async move { i }), 2)?;
/// assert_eq!(s.collect().await, [0, 1, 2]);
/// # Ok::<(), aio::GatherBuildError>(())
/// # }).unwrap();
/// ```
///
/// # Cancel safety
///
/// Dropping it drops the futures in flight and the outputs held for order.
#[must_use = "streams do nothing unless polled"]
pub struct GatherLimited<I>
where
    I: Iterator,
    I::Item: Future,
{
    iter: Option<I>,
    in_flight: FuturesOrdered<I::Item>,
    limit: usize,
}

/// The stream of [`gather_unordered`] and [`map_unordered`]: at most
/// `limit` futures in flight, outputs as they finish.
///
/// # Examples
///
/// ```
/// use workwise::aio;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let s: aio::GatherUnordered<_> = aio::gather_unordered((0..3).map(|i| async move { i }), 2)?;
/// assert_eq!(s.collect().await.len(), 3);
/// # Ok::<(), aio::GatherBuildError>(())
/// # }).unwrap();
/// ```
///
/// # Cancel safety
///
/// Dropping it drops the futures in flight.
#[must_use = "streams do nothing unless polled"]
pub struct GatherUnordered<I>
where
    I: Iterator,
    I::Item: Future,
{
    iter: Option<I>,
    in_flight: FuturesUnordered<I::Item>,
    limit: usize,
}

limited_stream!(GatherLimited, push_back, "gather_limited");
limited_stream!(GatherUnordered, push, "gather_unordered");
