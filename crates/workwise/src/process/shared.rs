//! [`SharedBytes`]: a large input placed once in shared memory and mapped
//! read-only by every worker.
//!
//! # Protocol
//!
//! 1. The parent writes the bytes into a memfd, seals it against writes and
//!    resizing, and maps it read-only.
//! 2. A `SharedBytes` serializes as `(pid, fd, len, id)`: the process that
//!    holds the memfd open and where. While a pool serializes a task's
//!    argument it records every `SharedBytes` in it and keeps them alive
//!    until the task is resolved, so the memfd is open when the worker looks.
//! 3. A worker opens `/proc/<pid>/fd/<fd>` read-only and maps it; it keeps
//!    the last few mappings by `id`, so that tasks over the same input map
//!    it once per worker.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::ops::Deref;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use memmap2::Mmap;
use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bytes in shared memory that worker processes read without a copy.
///
/// Pass it in a task's argument (alone or inside a tuple or struct): what
/// crosses the pipe is a reference of a few bytes, and each worker maps the
/// same pages read-only, so 8 tasks over one 100 MB input copy nothing.
/// Cloning is cheap (a reference count). Keep it alive until the tasks that
/// use it are resolved; the pool keeps its own reference meanwhile.
///
/// # Examples
///
/// ```
/// use workwise::process::SharedBytes;
///
/// let input = SharedBytes::new(&[7u8; 1000])?;
/// assert_eq!(input.len(), 1000);
/// assert_eq!(input[999], 7);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Cost
///
/// One copy into shared memory when made; none per task. The
/// `process.shared_100mb` row of workwise-bench compares it with sending
/// the bytes.
#[derive(Clone)]
pub struct SharedBytes {
    inner: Arc<Inner>,
}

struct Inner {
    map: Mmap,
    file: File,
    len: u64,
    id: u64,
    /// The process whose descriptor table holds `file` (rule 2).
    pid: u32,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl SharedBytes {
    /// Copies `bytes` into a new sealed memfd (rule 1).
    ///
    /// # Examples
    ///
    /// ```
    /// let shared = workwise::process::SharedBytes::new(b"hello")?;
    /// assert_eq!(&shared[..], b"hello");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The operating system's error when it cannot make or map the memfd.
    pub fn new(bytes: &[u8]) -> io::Result<SharedBytes> {
        let fd = memfd_create(
            c"workwise-shared",
            MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING,
        )?;
        let mut file = File::from(fd);
        file.write_all(bytes)?;
        let seals = SealFlag::F_SEAL_WRITE
            | SealFlag::F_SEAL_GROW
            | SealFlag::F_SEAL_SHRINK
            | SealFlag::F_SEAL_SEAL;
        fcntl(file.as_raw_fd(), FcntlArg::F_ADD_SEALS(seals))?;
        // SAFETY: the memfd is sealed against writes and resizing (rule 1),
        // so the mapped bytes cannot change or vanish under the `&[u8]`
        // that `Deref` hands out.
        let map = unsafe { Mmap::map(&file)? };
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed) ^ (u64::from(std::process::id()) << 32);
        Ok(SharedBytes {
            inner: Arc::new(Inner {
                map,
                file,
                len: bytes.len() as u64,
                id,
                pid: std::process::id(),
            }),
        })
    }

    /// The number of bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let shared = workwise::process::SharedBytes::new(&[])?;
    /// assert_eq!(shared.len(), 0);
    /// assert!(shared.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.inner.map.len()
    }

    /// Whether there are no bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!workwise::process::SharedBytes::new(b"x")?.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Opens and maps the memfd that `wire` names (rule 3).
    fn open(wire: Wire) -> io::Result<SharedBytes> {
        if let Some(found) = lock(&MAPPED).get(&wire.id) {
            return Ok(found.clone());
        }
        let path = format!("/proc/{}/fd/{}", wire.pid, wire.fd);
        let file = File::open(&path).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot open the shared bytes at {path} ({e}): keep the SharedBytes alive \
                     until the tasks that use it are resolved"
                ),
            )
        })?;
        // SAFETY: the parent sealed the memfd against writes and resizing
        // before it could be serialized (rules 1 and 2), so the mapping
        // cannot change under the slice.
        let map = unsafe { Mmap::map(&file)? };
        if map.len() as u64 != wire.len {
            return Err(io::Error::other(format!(
                "the shared bytes at {path} have {} bytes, not {}",
                map.len(),
                wire.len
            )));
        }
        let shared = SharedBytes {
            inner: Arc::new(Inner {
                map,
                file,
                len: wire.len,
                id: wire.id,
                pid: std::process::id(),
            }),
        };
        let mut mapped = lock(&MAPPED);
        if mapped.len() >= KEEP_MAPPED {
            mapped.clear();
        }
        mapped.insert(wire.id, shared.clone());
        Ok(shared)
    }
}

/// How many inputs a worker keeps mapped (rule 3).
const KEEP_MAPPED: usize = 8;

static MAPPED: Mutex<Option<HashMap<u64, SharedBytes>>> = Mutex::new(None);

struct MappedGuard(std::sync::MutexGuard<'static, Option<HashMap<u64, SharedBytes>>>);

impl Deref for MappedGuard {
    type Target = HashMap<u64, SharedBytes>;
    fn deref(&self) -> &Self::Target {
        self.0.as_ref().expect("initialised by lock")
    }
}

impl std::ops::DerefMut for MappedGuard {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.0.as_mut().expect("initialised by lock")
    }
}

fn lock(m: &'static Mutex<Option<HashMap<u64, SharedBytes>>>) -> MappedGuard {
    let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
    g.get_or_insert_with(HashMap::new);
    MappedGuard(g)
}

impl Deref for SharedBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.inner.map
    }
}

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl fmt::Debug for SharedBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedBytes")
            .field("len", &self.inner.len)
            .field("id", &self.inner.id)
            .finish()
    }
}

/// The serialized form (rule 2).
#[derive(Serialize, Deserialize, Clone, Copy)]
struct Wire {
    pid: u32,
    fd: i32,
    len: u64,
    id: u64,
}

thread_local! {
    /// The `SharedBytes` serialized on this thread since `start_keeping`.
    static KEEP: RefCell<Option<Vec<SharedBytes>>> = const { RefCell::new(None) };
}

/// Starts recording the `SharedBytes` serialized on this thread (rule 2).
pub(crate) fn start_keeping() {
    KEEP.with(|k| *k.borrow_mut() = Some(Vec::new()));
}

/// Stops recording and returns what was serialized since `start_keeping`.
pub(crate) fn take_kept() -> Vec<SharedBytes> {
    KEEP.with(|k| k.borrow_mut().take().unwrap_or_default())
}

impl Serialize for SharedBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        KEEP.with(|k| {
            if let Some(kept) = k.borrow_mut().as_mut() {
                kept.push(self.clone());
            }
        });
        Wire {
            pid: self.inner.pid,
            fd: self.inner.file.as_raw_fd(),
            len: self.inner.len,
            id: self.inner.id,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for SharedBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = Wire::deserialize(d)?;
        SharedBytes::open(wire).map_err(D::Error::custom)
    }
}
