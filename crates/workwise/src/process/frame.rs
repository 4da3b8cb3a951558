//! Length-prefixed frames over a pipe, with a maximum size.
//!
//! # Protocol
//!
//! 1. A frame is a 4-byte little-endian length `n`, then `n` bytes of
//!    payload.
//! 2. A length over the reader's maximum is an error as soon as the 4 bytes
//!    are read: nothing of the payload is read or allocated.
//! 3. End of file between frames is an orderly close ([`FrameError::Closed`]);
//!    end of file inside a frame is [`FrameError::Truncated`].
//! 4. The first frame a worker writes is the hello, [`HELLO`]. After it, the
//!    parent writes one request and the worker answers with one reply; the
//!    worker never writes unasked.
//! 5. A request is `[kind][name length: u16 LE][name][argument]`, `kind`
//!    being [`KIND_ONE`] (a postcard-encoded argument) or [`KIND_BATCH`] (a
//!    postcard-encoded `Vec` of arguments). A reply is `[status][body]`:
//!    [`REPLY_OK`] with the postcard-encoded result (for a batch, a `Vec` of
//!    `Result<R, String>`), or another status with a UTF-8 message.
//! 6. Any frame error ends the worker: the parent kills and reaps it and
//!    resolves the task it was running with `TaskError::WorkerCrashed`; a
//!    worker that reads a bad frame from its parent exits.

use std::fmt;
use std::io::{self, Read, Write};

/// The length prefix's size (rule 1).
pub(crate) const HEADER: usize = 4;
/// The default largest frame: room for a 100 MB argument sent by copy.
pub(crate) const DEFAULT_MAX_FRAME: usize = 256 << 20;
/// The smallest maximum a pool accepts: a request needs its task's name.
pub(crate) const MIN_MAX_FRAME: usize = 1 << 12;
/// The worker's first frame (rule 4): magic and protocol version.
pub(crate) const HELLO: &[u8] = b"workwise-worker-1";

/// Request kinds (rule 5).
pub(crate) const KIND_ONE: u8 = 1;
pub(crate) const KIND_BATCH: u8 = 2;
/// Reply statuses (rule 5).
pub(crate) const REPLY_OK: u8 = 0;
pub(crate) const REPLY_PANICKED: u8 = 1;
pub(crate) const REPLY_UNKNOWN_TASK: u8 = 2;
pub(crate) const REPLY_BAD_ARGUMENT: u8 = 3;

/// What went wrong reading or writing a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// The length prefix is over the maximum (rule 2).
    Oversized { len: u64, max: usize },
    /// End of file inside a frame (rule 3).
    Truncated { expected: usize, got: usize },
    /// End of file between frames (rule 3).
    Closed,
    /// The pipe failed.
    Io(String),
    /// The frame's content does not follow rule 4 or 5.
    Malformed(String),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Oversized { len, max } => write!(
                f,
                "a frame of {len} bytes is over the maximum of {max}: raise \
                 ProcessPool::builder().max_frame_bytes, or pass large inputs as SharedBytes"
            ),
            FrameError::Truncated { expected, got } => write!(
                f,
                "the pipe closed inside a frame ({got} of {expected} bytes)"
            ),
            FrameError::Closed => f.write_str("the pipe closed"),
            FrameError::Io(e) => write!(f, "the pipe failed: {e}"),
            FrameError::Malformed(e) => write!(f, "a malformed frame: {e}"),
        }
    }
}

impl From<io::Error> for FrameError {
    fn from(e: io::Error) -> Self {
        FrameError::Io(e.to_string())
    }
}

/// Writes one frame: the length prefix and `parts` concatenated.
pub(crate) fn write_frame(
    w: &mut impl Write,
    parts: &[&[u8]],
    max: usize,
) -> Result<usize, FrameError> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    if len > max || u32::try_from(len).is_err() {
        return Err(FrameError::Oversized {
            len: len as u64,
            max,
        });
    }
    // One write for small frames (a pipe write up to 4 KiB is atomic and
    // wakes the reader once); large ones go part by part, uncopied.
    if len <= 16 << 10 {
        let mut buf = Vec::with_capacity(HEADER + len);
        buf.extend_from_slice(&(len as u32).to_le_bytes());
        for p in parts {
            buf.extend_from_slice(p);
        }
        w.write_all(&buf)?;
    } else {
        w.write_all(&(len as u32).to_le_bytes())?;
        for p in parts {
            w.write_all(p)?;
        }
    }
    w.flush()?;
    Ok(HEADER + len)
}

/// Reads frames piece by piece: each [`read_some`](FrameReader::read_some)
/// makes exactly one `read` call, so a caller that polled the pipe first
/// never blocks.
#[derive(Debug)]
pub(crate) struct FrameReader {
    max: usize,
    header: [u8; HEADER],
    header_len: usize,
    payload: Option<Vec<u8>>,
    filled: usize,
}

impl FrameReader {
    pub(crate) fn new(max: usize) -> Self {
        FrameReader {
            max,
            header: [0; HEADER],
            header_len: 0,
            payload: None,
            filled: 0,
        }
    }

    /// One `read` from `r`: a whole frame when this read completed one.
    pub(crate) fn read_some(&mut self, r: &mut impl Read) -> Result<Option<Vec<u8>>, FrameError> {
        if let Some(buf) = self.payload.as_mut() {
            let n = match r.read(&mut buf[self.filled..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                return Err(FrameError::Truncated {
                    expected: HEADER + buf.len(),
                    got: HEADER + self.filled,
                });
            }
            self.filled += n;
            return Ok(self.take_if_full());
        }
        let n = match r.read(&mut self.header[self.header_len..]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            return Err(if self.header_len == 0 {
                FrameError::Closed
            } else {
                FrameError::Truncated {
                    expected: HEADER,
                    got: self.header_len,
                }
            });
        }
        self.header_len += n;
        if self.header_len < HEADER {
            return Ok(None);
        }
        let len = u32::from_le_bytes(self.header) as u64;
        if len > self.max as u64 {
            // Rule 2: refused before anything is allocated.
            return Err(FrameError::Oversized { len, max: self.max });
        }
        self.payload = Some(vec![0; len as usize]);
        self.filled = 0;
        Ok(self.take_if_full())
    }

    fn take_if_full(&mut self) -> Option<Vec<u8>> {
        let full = self
            .payload
            .as_ref()
            .is_some_and(|p| p.len() == self.filled);
        if !full {
            return None;
        }
        self.header_len = 0;
        self.filled = 0;
        self.payload.take()
    }

    /// Reads until one whole frame is in, blocking.
    pub(crate) fn read_frame(&mut self, r: &mut impl Read) -> Result<Vec<u8>, FrameError> {
        loop {
            if let Some(frame) = self.read_some(r)? {
                return Ok(frame);
            }
        }
    }
}

/// A request frame's parts (rule 5).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Request<'a> {
    pub(crate) batch: bool,
    pub(crate) task: &'a str,
    pub(crate) arg: &'a [u8],
}

/// The head of a request: `[kind][name length][name]`; the argument follows.
pub(crate) fn request_head(task: &str, batch: bool) -> Vec<u8> {
    let name = task.as_bytes();
    let len = u16::try_from(name.len()).unwrap_or(u16::MAX);
    let mut head = Vec::with_capacity(3 + name.len());
    head.push(if batch { KIND_BATCH } else { KIND_ONE });
    head.extend_from_slice(&len.to_le_bytes());
    head.extend_from_slice(&name[..len as usize]);
    head
}

/// Splits a request frame into its parts (rule 5).
pub(crate) fn parse_request(frame: &[u8]) -> Result<Request<'_>, FrameError> {
    let bad = |what: &str| FrameError::Malformed(format!("request: {what}"));
    let (&kind, rest) = frame.split_first().ok_or_else(|| bad("empty"))?;
    let batch = match kind {
        KIND_ONE => false,
        KIND_BATCH => true,
        other => return Err(bad(&format!("unknown kind {other}"))),
    };
    if rest.len() < 2 {
        return Err(bad("no name length"));
    }
    let len = u16::from_le_bytes([rest[0], rest[1]]) as usize;
    let rest = &rest[2..];
    if rest.len() < len {
        return Err(bad("name cut short"));
    }
    let task = std::str::from_utf8(&rest[..len]).map_err(|_| bad("name is not UTF-8"))?;
    Ok(Request {
        batch,
        task,
        arg: &rest[len..],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A reader that hands out `data` in the given chunk sizes.
    struct Chunked<'a> {
        data: &'a [u8],
        sizes: Vec<usize>,
        next: usize,
    }

    impl Read for Chunked<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let want = self
                .sizes
                .get(self.next)
                .copied()
                .unwrap_or(usize::MAX)
                .max(1);
            self.next += 1;
            let n = want.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn frames_of(data: &[u8], sizes: Vec<usize>, max: usize) -> (Vec<Vec<u8>>, FrameError) {
        let mut r = Chunked {
            data,
            sizes,
            next: 0,
        };
        let mut reader = FrameReader::new(max);
        let mut out = Vec::new();
        loop {
            match reader.read_frame(&mut r) {
                Ok(f) => out.push(f),
                Err(e) => return (out, e),
            }
        }
    }

    #[test]
    fn a_1_gib_length_prefix_is_refused_before_allocating() {
        let data = (1u32 << 30).to_le_bytes();
        let (frames, err) = frames_of(&data, vec![], DEFAULT_MAX_FRAME);
        assert!(frames.is_empty());
        assert_eq!(
            err,
            FrameError::Oversized {
                len: 1 << 30,
                max: DEFAULT_MAX_FRAME
            }
        );
        assert!(err.to_string().contains("max_frame_bytes"));
    }

    #[test]
    fn end_of_file_inside_a_frame_is_truncated_and_between_frames_closed() {
        let mut data = Vec::new();
        write_frame(&mut data, &[b"abc"], 64).unwrap();
        assert_eq!(
            frames_of(&data, vec![], 64),
            (vec![b"abc".to_vec()], FrameError::Closed)
        );
        let (_, err) = frames_of(&data[..5], vec![], 64);
        assert_eq!(
            err,
            FrameError::Truncated {
                expected: 7,
                got: 5
            }
        );
        let (_, err) = frames_of(&data[..2], vec![], 64);
        assert_eq!(
            err,
            FrameError::Truncated {
                expected: 4,
                got: 2
            }
        );
    }

    #[test]
    fn writing_an_oversized_frame_is_an_error_and_writes_nothing() {
        let mut out = Vec::new();
        let err = write_frame(&mut out, &[&[0u8; 100]], 99).unwrap_err();
        assert_eq!(err, FrameError::Oversized { len: 100, max: 99 });
        assert!(out.is_empty());
    }

    #[test]
    fn a_request_round_trips_and_garbage_requests_are_errors() {
        let mut frame = request_head("my::task", true);
        frame.extend_from_slice(b"ARG");
        assert_eq!(
            parse_request(&frame),
            Ok(Request {
                batch: true,
                task: "my::task",
                arg: b"ARG"
            })
        );
        for bad in [
            &[][..],
            &[9, 0, 0][..],
            &[1, 5][..],
            &[1, 5, 0, b'a'][..],
            &[1, 1, 0, 0xff][..],
        ] {
            assert!(
                matches!(parse_request(bad), Err(FrameError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    proptest! {
        /// Frames written and read back in arbitrary pieces come back whole.
        #[test]
        fn frames_round_trip_in_any_pieces(
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8),
            sizes in proptest::collection::vec(1usize..50, 0..64),
        ) {
            let mut data = Vec::new();
            for p in &payloads {
                write_frame(&mut data, &[p], 1024).unwrap();
            }
            let (frames, err) = frames_of(&data, sizes, 1024);
            prop_assert_eq!(frames, payloads);
            prop_assert_eq!(err, FrameError::Closed);
        }

        /// Any bytes at all, in any pieces: the decoder never panics, never
        /// allocates past the maximum, and ends in an error value.
        #[test]
        fn garbage_never_panics_and_ends_in_an_error(
            data in proptest::collection::vec(any::<u8>(), 0..2000),
            sizes in proptest::collection::vec(1usize..64, 0..64),
            max in 0usize..600,
        ) {
            let (frames, err) = frames_of(&data, sizes, max);
            prop_assert!(frames.iter().all(|f| f.len() <= max));
            let ended = matches!(
                err,
                FrameError::Closed | FrameError::Truncated { .. } | FrameError::Oversized { .. }
            );
            prop_assert!(ended, "ended in {:?}", err);
            for f in &frames {
                let _ = parse_request(f);
            }
        }
    }
}
