//! Where a queue keeps its items: concurrent-queue's array for a bounded
//! queue whose slots fit in [`ARRAY_BYTES_MAX`], its linked blocks for the
//! rest, with the capacity of a big bounded queue enforced by a count here
//! (rule 7 of the [queue's protocol](super)).
//!
//! concurrent-queue allocates a bounded queue's whole array up front:
//! 16 bytes a slot for a `u64`, so 152 MB for a capacity of ten million, and
//! an abort for `1 << 40`. Linked blocks (31 slots each) come and go with
//! the items instead, so a big capacity costs nothing until it is used.

use std::mem::size_of;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};

use concurrent_queue::{ConcurrentQueue, PopError, PushError};
use crossbeam_utils::CachePadded;

use crate::sync::AtomicUsize;

/// The most memory a bounded queue allocates up front for its array:
/// 65 536 slots of a `u64`.
pub(super) const ARRAY_BYTES_MAX: usize = 1 << 20;

pub(super) struct Items<T> {
    queue: ConcurrentQueue<T>,
    /// `Some` for a bounded queue on linked blocks.
    limit: Option<Limit>,
}

/// Rule 7: the slots of a bounded queue on linked blocks.
struct Limit {
    /// Slots reserved: items queued, and items being pushed.
    taken: CachePadded<AtomicUsize>,
    capacity: usize,
}

impl<T> Items<T> {
    /// Storage for a queue of at most `capacity` (at least 1) items: the
    /// array when it fits in [`ARRAY_BYTES_MAX`], linked blocks otherwise.
    pub(super) fn bounded(capacity: usize) -> Self {
        // A slot holds the value and a stamp; capacity 1 is a single inline
        // slot with no array at all.
        let slot = size_of::<T>() + size_of::<usize>();
        let fits = capacity
            .checked_mul(slot)
            .is_some_and(|bytes| bytes <= ARRAY_BYTES_MAX);
        if fits || capacity == 1 {
            Items {
                queue: ConcurrentQueue::bounded(capacity),
                limit: None,
            }
        } else {
            Self::counted(capacity)
        }
    }

    /// Linked blocks with the capacity counted here, whatever its size (the
    /// loom models and unit tests use it with small capacities).
    pub(super) fn counted(capacity: usize) -> Self {
        Items {
            queue: ConcurrentQueue::unbounded(),
            limit: Some(Limit {
                taken: CachePadded::new(AtomicUsize::new(0)),
                capacity,
            }),
        }
    }

    pub(super) fn unbounded() -> Self {
        Items {
            queue: ConcurrentQueue::unbounded(),
            limit: None,
        }
    }

    /// Pushes at the back; refused when full or closed, with the item.
    #[inline]
    pub(super) fn push(&self, item: T) -> Result<(), PushError<T>> {
        let Some(limit) = &self.limit else {
            return self.queue.push(item);
        };
        // Rule 7: reserve a slot, push, and give the slot back if refused.
        // A closed queue says so even when it is also full, as the array
        // does.
        if !limit.reserve() {
            return Err(if self.queue.is_closed() {
                PushError::Closed(item)
            } else {
                PushError::Full(item)
            });
        }
        self.queue.push(item).inspect_err(|_| limit.release())
    }

    /// Pops from the front; the slot is free again before this returns
    /// (rule 7), so the caller's notify of putters comes after it.
    #[inline]
    pub(super) fn pop(&self) -> Result<T, PopError> {
        let item = self.queue.pop()?;
        if let Some(limit) = &self.limit {
            limit.release();
        }
        Ok(item)
    }

    #[inline]
    pub(super) fn is_full(&self) -> bool {
        match &self.limit {
            None => self.queue.is_full(),
            Some(limit) => limit.taken.load(Acquire) >= limit.capacity,
        }
    }

    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    #[inline]
    pub(super) fn is_closed(&self) -> bool {
        self.queue.is_closed()
    }

    pub(super) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether this call closed it.
    pub(super) fn close(&self) -> bool {
        self.queue.close()
    }
}

impl Limit {
    /// Takes a slot if one is free.
    #[inline]
    fn reserve(&self) -> bool {
        let mut taken = self.taken.load(Relaxed);
        loop {
            if taken >= self.capacity {
                return false;
            }
            match self
                .taken
                .compare_exchange_weak(taken, taken + 1, AcqRel, Relaxed)
            {
                Ok(_) => return true,
                Err(now) => taken = now,
            }
        }
    }

    #[inline]
    fn release(&self) {
        self.taken.fetch_sub(1, AcqRel);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn ordinary_capacities_use_the_array_and_big_ones_linked_blocks() {
        assert!(Items::<u64>::bounded(1024).limit.is_none());
        assert!(Items::<u64>::bounded(ARRAY_BYTES_MAX / 16).limit.is_none());
        assert!(Items::<u64>::bounded(ARRAY_BYTES_MAX / 16 + 1)
            .limit
            .is_some());
        assert!(Items::<[u8; 4096]>::bounded(1).limit.is_none());
        assert!(Items::<[u8; 4096]>::bounded(1000).limit.is_some());
        assert!(Items::<()>::bounded(usize::MAX).limit.is_some());
    }

    #[test]
    fn counted_storage_refuses_past_its_capacity_and_frees_on_pop() {
        let items = Items::counted(2);
        items.push(1).unwrap();
        items.push(2).unwrap();
        assert!(items.is_full());
        assert!(matches!(items.push(3), Err(PushError::Full(3))));
        assert_eq!(items.pop(), Ok(1));
        assert!(!items.is_full());
        items.push(3).unwrap();
        assert_eq!(items.len(), 2);
    }

    #[test]
    fn counted_storage_says_closed_before_full_and_keeps_its_count() {
        let items = Items::counted(2);
        items.push(1).unwrap();
        items.close();
        // Refused as closed with room left: the slot it reserved is back.
        assert!(matches!(items.push(2), Err(PushError::Closed(2))));
        items.push(0).unwrap_err();
        assert_eq!(items.limit.as_ref().unwrap().taken.load(Relaxed), 1);
        assert_eq!(items.pop(), Ok(1));
        assert_eq!(items.pop(), Err(PopError::Closed));
        let full = Items::counted(1);
        full.push(1).unwrap();
        full.close();
        assert!(matches!(full.push(2), Err(PushError::Closed(2))));
    }
}
