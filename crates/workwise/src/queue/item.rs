//! The guards a get returns, [`Item`] (borrowing the queue) and
//! [`OwnedItem`] (holding a handle to it): each marks its item done when it
//! drops or gives up its value, or puts the value back, still counted
//! (rule 2 of the [queue's protocol](super)).

use std::fmt;
use std::ops::{Deref, DerefMut};

use concurrent_queue::PushError;

use super::{Inner, Queue};
use crate::sync::Arc;

impl<T> Queue<T> {
    /// The guard that borrows the queue.
    #[inline(always)]
    pub(super) fn item(&self, value: T) -> Item<'_, T> {
        Item {
            value,
            done: Done {
                inner: Some(&self.inner),
            },
        }
    }

    /// The guard that holds a handle to the queue.
    #[inline(always)]
    pub(super) fn owned_item(&self, value: T) -> OwnedItem<T> {
        OwnedItem {
            value,
            done: OwnedDone {
                inner: Some(self.inner.clone()),
            },
        }
    }
}

impl<T> Inner<T> {
    /// Rule 2: pushes a taken value back, still counted (no done), or
    /// hands it back when the queue is full or closed.
    pub(super) fn requeue(&self, value: T) -> Result<(), T> {
        match self.items.push(value) {
            Ok(()) => {
                self.pushed.notify_one();
                self.figures.requeued();
                self.figures.note_len(|| self.items.len());
                Ok(())
            }
            Err(PushError::Full(value) | PushError::Closed(value)) => Err(value),
        }
    }
}

/// Marks its item done when dropped (rule 2).
pub(super) struct Done<'q, T> {
    inner: Option<&'q Inner<T>>,
}

impl<T> Drop for Done<'_, T> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner {
            inner.done_one();
        }
    }
}

/// An item taken from a [`Queue`]: it dereferences to the value, and marks
/// the item done when it drops, also when the consumer panics.
///
/// # Examples
///
/// ```
/// let q = workwise::Queue::bounded(4)?;
/// q.put(String::from("job")).unwrap();
/// let mut item = q.get().unwrap();
/// item.push_str(" (seen)");
/// assert_eq!(item.as_str(), "job (seen)");
/// let value: String = item.into_inner(); // done, and the value is yours
/// assert_eq!(q.unfinished(), 0);
/// # let _ = value;
/// # Ok::<(), workwise::QueueBuildError>(())
/// ```
pub struct Item<'q, T> {
    pub(super) value: T,
    pub(super) done: Done<'q, T>,
}

impl<'q, T> Item<'q, T> {
    /// Takes the value out and marks the item done.
    pub fn into_inner(self) -> T {
        let Item { value, done } = self;
        drop(done);
        value
    }

    /// Puts the value back at the end of the queue, still unfinished, so
    /// that another consumer (or this one) tries it again.
    ///
    /// It never waits: if the queue is full or closed, the item is handed
    /// back (still unfinished; drop it to mark it done).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = workwise::Queue::bounded(2)?;
    /// q.put("retry me").unwrap();
    /// let item = q.get().unwrap();
    /// assert!(item.requeue().is_ok());
    /// assert_eq!((q.len(), q.unfinished()), (1, 1));
    /// # Ok::<(), workwise::QueueBuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The item itself, when the queue has no room or is closed.
    pub fn requeue(self) -> Result<(), Item<'q, T>> {
        let Item { value, mut done } = self;
        let Some(inner) = done.inner else {
            return Err(Item { value, done });
        };
        match inner.requeue(value) {
            Ok(()) => {
                done.inner = None; // still counted: not done
                Ok(())
            }
            Err(value) => Err(Item { value, done }),
        }
    }
}

impl<T> Deref for Item<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for Item<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T: fmt::Debug> fmt::Debug for Item<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Item").field(&self.value).finish()
    }
}

/// Marks its item done when dropped (rule 2), on whichever thread drops it:
/// the done is counted in that thread's slot, and the sum of rule 1 reads
/// every slot.
struct OwnedDone<T> {
    inner: Option<Arc<Inner<T>>>,
}

impl<T> Drop for OwnedDone<T> {
    fn drop(&mut self) {
        if let Some(inner) = &self.inner {
            inner.done_one();
        }
    }
}

/// An item taken from a [`Queue`] with [`get_owned`](Queue::get_owned) and
/// its kin: an [`Item`] that holds a handle to the queue instead of
/// borrowing it, so that it can travel to another thread or into a pool
/// task. It dereferences to the value, and marks the item done when it
/// drops, wherever that is, also when the code holding it panics.
///
/// It is `Send` when `T` is, and `Sync` when `T` is also `Sync`. While it
/// lives it keeps the queue alive, as a [`Queue`] handle does.
///
/// # Examples
///
/// ```
/// use std::thread;
///
/// let q = workwise::Queue::bounded(4)?;
/// q.put(String::from("job")).unwrap();
/// let mut item = q.get_owned().unwrap();
/// item.push_str(" (seen)");
/// let worker = thread::spawn(move || {
///     assert_eq!(item.as_str(), "job (seen)");
///     // `item` drops here, on the worker: done
/// });
/// q.join();
/// assert_eq!(q.unfinished(), 0);
/// worker.join().unwrap();
/// # Ok::<(), workwise::QueueBuildError>(())
/// ```
pub struct OwnedItem<T> {
    value: T,
    done: OwnedDone<T>,
}

impl<T> OwnedItem<T> {
    /// Takes the value out and marks the item done, as
    /// [`Item::into_inner`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q = workwise::Queue::unbounded();
    /// q.put(vec![1, 2]).unwrap();
    /// let v: Vec<i32> = q.get_owned().unwrap().into_inner(); // done
    /// assert_eq!((v, q.unfinished()), (vec![1, 2], 0));
    /// ```
    pub fn into_inner(self) -> T {
        let OwnedItem { value, done } = self;
        drop(done);
        value
    }

    /// Puts the value back at the end of the queue, still unfinished, as
    /// [`Item::requeue`].
    ///
    /// It never waits: if the queue is full or closed, the item is handed
    /// back (still unfinished; drop it to mark it done).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = workwise::Queue::bounded(2)?;
    /// q.put("retry me").unwrap();
    /// let item = q.get_owned().unwrap();
    /// std::thread::spawn(move || assert!(item.requeue().is_ok())).join().unwrap();
    /// assert_eq!((q.len(), q.unfinished()), (1, 1));
    /// # Ok::<(), workwise::QueueBuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The item itself, when the queue has no room or is closed.
    pub fn requeue(self) -> Result<(), OwnedItem<T>> {
        let OwnedItem { value, mut done } = self;
        let Some(inner) = &done.inner else {
            return Err(OwnedItem { value, done });
        };
        match inner.requeue(value) {
            Ok(()) => {
                done.inner = None; // still counted: not done
                Ok(())
            }
            Err(value) => Err(OwnedItem { value, done }),
        }
    }
}

impl<T> Deref for OwnedItem<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for OwnedItem<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T: fmt::Debug> fmt::Debug for OwnedItem<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OwnedItem").field(&self.value).finish()
    }
}
