//! The guide's `File I/O | Threading | ThreadPoolExecutor` row, built as its
//! "Use Queues for Producer-Consumer" tip.
//!
//! Checksums generated files in a temporary folder, two ways: a plain loop
//! (list the folder, read and hash each file); and a queue pipeline, where
//! one producer thread lists the folder and puts each path into a
//! `Queue::bounded(64)` while consumer loops on `Pool::io` (`Pool::consume`)
//! read and hash them.
//!
//! The files were just written, so they sit in the page cache and a read
//! takes microseconds: each read first sleeps [`LATENCY`], the same in both
//! rows, to stand in for a slow disk or a network filesystem. The tour says
//! so, and the advisor counts that sleep apart.
//!
//! Every file's hash must equal the hash of the bytes written to it, in both
//! rows, so the rows agree file by file. The folder is deleted at the end,
//! also when a row fails or the scenario stops early.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use workwise::{ConsumerReport, Pool, Queue, TaskError, TryPutError};
use workwise_workloads::Rng;

use super::{advice, timed_on_pool, Column, Figure, Key, Measurement, Outcome, Ran};
use super::{ScenarioInfo, Size, Tour, TourError};

/// Files a run checksums.
const FILES: Size = Size::count("files", 500, 2_000);
/// The smallest file, in bytes.
const MIN_SIZE: usize = 4 * 1024;
/// The largest file, in bytes.
const MAX_SIZE: usize = 64 * 1024;
/// The sizes as the intro gives them.
const MIN_SIZE_KIB: usize = MIN_SIZE / 1024;
const MAX_SIZE_KIB: usize = MAX_SIZE / 1024;
/// The simulated latency of each read (a slow disk, a network filesystem).
const LATENCY: Duration = Duration::from_millis(1);
/// The pipeline queue's bound: the most paths waiting at once.
const BOUND: usize = 64;
/// The first file's seed (file `i` has `SEED + i`).
const SEED: u64 = 0x5EED_0003;

/// The model name of the pipeline's row.
const PIPELINE: &str = "queue pipeline";

/// The file I/O scenario.
pub(crate) const INFO: ScenarioInfo = ScenarioInfo {
    name: "file i/o",
    slug: "files",
    about: "the guide's `File I/O` row: checksum generated files, a loop against a queue pipeline",
    help: "checksum generated files in a temporary folder, with a simulated 1 ms latency per \
           read, as a loop and as a queue pipeline: a producer thread and consumers on \
           `Pool::io`",
    sizes: &[FILES],
    models: &["sequential", PIPELINE],
    no_speedup: &[],
    columns: &[
        Column {
            key: "files_per_s",
            header: "files/s",
        },
        Column {
            key: "mb",
            header: "MB",
        },
        Column {
            key: "peak_queue",
            header: "peak queue",
        },
    ],
    keys: &[
        Key::new("files", "files written, each to be read once"),
        Key::new("mb", "MB read with the right hash"),
        Key::new("files_per_s", "files read with the right hash a second"),
        Key::new(
            "peak_queue",
            "queue pipeline row: the queue's longest length read after each put",
        ),
    ],
    errors: "a file's hash differed from that of the bytes written",
    run,
    #[cfg(target_os = "linux")]
    process_tasks: &[],
};

fn run(tour: &mut Tour) -> Result<(), TourError> {
    let count = FILES.items(tour.quick());
    // Written once, before any clock starts; removed when `dir` drops.
    let dir = TempDir::create()
        .map_err(|e| TourError::Setup(format!("cannot create a temporary folder: {e}")))?;
    let expected = write_files(dir.path(), count).map_err(|e| {
        TourError::Setup(format!(
            "cannot write the files in {}: {e}",
            dir.path().display()
        ))
    })?;
    let mb = expected.values().map(|&(_, len)| len).sum::<u64>() as f64 / 1e6;
    tour.intro(&format!(
        "checksum {count} generated files ({MIN_SIZE_KIB}-{MAX_SIZE_KIB} KiB, {mb:.1} MB) \
             in {}; the files were just written and sit in the page cache, so each read \
             first sleeps {} to simulate a slow disk or network filesystem, in both rows \
             alike; the guide says threads (ThreadPoolExecutor) and a bounded queue, \
             workwise says a Queue::bounded({BOUND}) fed by one producer thread, consumed \
             on Pool::io()",
        dir.path().display(),
        advice::human(LATENCY),
    ))?;

    let (got, mut ran) = tour.run_loop("checksum", count, |bar| {
        let mut got = Vec::with_capacity(count);
        list(dir.path(), |listed| {
            let path = match listed {
                Ok(path) => path,
                Err(e) => {
                    got.push(e);
                    return true;
                }
            };
            got.push((file_name(&path), checksum(&path)));
            bar.inc(1);
            true
        });
        got
    });
    let base = ran.wall;
    let row = Row::check(&got, &expected);
    ran.advice = format!(
        "{} of the wall was the simulated latency ({} before each read); {}",
        advice::human(row.slept),
        advice::human(LATENCY),
        ran.advice,
    );
    tour.record(row.measurement(ran))?;

    let bar = tour.progress(PIPELINE, count);
    let queue: Queue<PathBuf> = Queue::bounded(BOUND)
        .map_err(|e| TourError::Setup(format!("cannot build the queue: {e}")))?;
    let results = Arc::new(Mutex::new(Vec::with_capacity(count)));
    let handling = Arc::new(AtomicU64::new(0));
    let ((produced, reports, consumers), run) =
        timed_on_pool(Pool::io().name("files"), base, |pool| {
            // Every pool thread runs a consumer loop; the producer is a
            // thread of its own.
            let consumers = pool.max_workers();
            let handles = {
                let (results, handling, bar) = (results.clone(), handling.clone(), bar.clone());
                pool.consume(&queue, consumers, move |path: PathBuf| {
                    let start = Instant::now();
                    let checked = checksum(&path);
                    let took = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
                    handling.fetch_add(took, Relaxed);
                    lock(&results).push((file_name(&path), checked));
                    bar.inc(1);
                })
            };
            let produced = thread::scope(|s| {
                thread::Builder::new()
                    .name("files-producer".into())
                    .spawn_scoped(s, || produce(dir.path(), &queue))
                    .map_err(|e| format!("cannot start the producer thread: {e}"))
                    .and_then(|h| h.join().map_err(|_| "the producer panicked".to_string()))
            });
            // Every path put is done, then the loops drain and end.
            queue.join();
            queue.close();
            let reports: Vec<Result<ConsumerReport, TaskError>> =
                handles.into_iter().map(|h| h.wait()).collect();
            (produced, reports, consumers)
        })?;
    bar.finish_and_clear();

    let mut got = std::mem::take(&mut *lock(&results));
    let producer = match produced {
        Ok(p) => {
            got.extend(p.failures.iter().cloned());
            Some(p)
        }
        Err(e) => {
            got.push(("(the producer)".into(), Err(e)));
            None
        }
    };
    for (i, report) in reports.iter().enumerate() {
        match report {
            Ok(r) if r.panicked > 0 => got.push((
                format!("(consumer {i})"),
                Err(format!(
                    "{} item(s) panicked; the first: {}",
                    r.panicked,
                    r.first_panic.as_deref().unwrap_or("(no message)")
                )),
            )),
            Ok(_) => {}
            Err(e) => got.push((format!("(consumer {i})"), Err(e.to_string()))),
        }
    }
    let mut row = Row::check(&got, &expected);
    let line = match &producer {
        Some(p) => advice::for_pipeline(&advice::Pipeline {
            run: run.clone(),
            consumers,
            handling: Duration::from_nanos(handling.load(Relaxed)),
            simulated: row.slept,
            puts: p.puts,
            full: p.full,
            waited: p.waited,
            bound: BOUND,
            peak: p.peak,
        }),
        None => "the producer did not run, so the advisor has nothing to read".into(),
    };
    row.peak_queue = producer.map(|p| p.peak as u64);
    let ran = Ran {
        workers: consumers,
        ..Ran::on_pool(PIPELINE, &run, line)
    };
    tour.record(row.measurement(ran))?;

    drop(dir);
    Ok(())
}

/// A folder under the system's temporary folder, deleted with its files when
/// dropped (unwinding included).
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    /// A new, empty folder named `workwise-tour-files-<pid>-<n>`: the first
    /// name not taken.
    fn create() -> io::Result<Self> {
        let base = std::env::temp_dir();
        let pid = std::process::id();
        for n in 0..100 {
            let path = base.join(format!("workwise-tour-files-{pid}-{n}"));
            match fs::create_dir(&path) {
                Ok(()) => return Ok(TempDir(path)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{}: workwise-tour-files-{pid}-0 to -99 are all taken",
                base.display()
            ),
        ))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_dir_all(&self.0) {
            eprintln!(
                "workwise tour: cannot remove the temporary folder {}: {e}",
                self.0.display()
            );
        }
    }
}

/// File `i`'s bytes: 4 to 64 KiB from its own seed.
fn content(i: usize) -> Vec<u8> {
    let mut rng = Rng::new(SEED + i as u64);
    let len = MIN_SIZE + rng.below((MAX_SIZE - MIN_SIZE + 1) as u64) as usize;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        bytes.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

/// Writes `count` files into `dir`, and gives each file's name, the hash of
/// its bytes and its length.
fn write_files(dir: &Path, count: usize) -> io::Result<BTreeMap<String, (u64, u64)>> {
    (0..count)
        .map(|i| {
            let name = format!("file-{i:05}.bin");
            let bytes = content(i);
            fs::write(dir.join(&name), &bytes)?;
            Ok((name, (fnv1a(&bytes), bytes.len() as u64)))
        })
        .collect()
}

/// FNV-1a, 64 bits: a simple non-cryptographic hash, byte by byte.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// One file read: its hash, its length and the simulated latency slept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Read {
    hash: u64,
    len: u64,
    slept: Duration,
}

/// A file's name and what reading it gave, or a failure and what it concerns.
type Checked = (String, Result<Read, String>);

/// Sleeps the simulated latency, then reads and hashes the file at `path`.
fn checksum(path: &Path) -> Result<Read, String> {
    let start = Instant::now();
    thread::sleep(LATENCY);
    let slept = start.elapsed();
    let bytes = fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    Ok(Read {
        hash: fnv1a(&bytes),
        len: bytes.len() as u64,
        slept,
    })
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    )
}

/// Lists `dir`, giving `each` every file's path or a listing failure; stops
/// when `each` gives false.
fn list(dir: &Path, mut each: impl FnMut(Result<PathBuf, Checked>) -> bool) {
    let failure = |e: io::Error| {
        let what = format!("(listing {})", dir.display());
        (what, Err(format!("listing {}: {e}", dir.display())))
    };
    match fs::read_dir(dir) {
        Ok(entries) => {
            for entry in entries {
                if !each(entry.map(|e| e.path()).map_err(failure)) {
                    return;
                }
            }
        }
        Err(e) => {
            each(Err(failure(e)));
        }
    }
}

/// What the producer did, as it measured it.
#[derive(Debug, Default)]
struct Produced {
    /// Paths put.
    puts: u64,
    /// Puts that found the queue full and waited for room.
    full: u64,
    /// The time those puts waited.
    waited: Duration,
    /// The longest the queue was, read after each put (a consumer may take
    /// an item between the put and the read, so the true peak may be a
    /// little longer).
    peak: usize,
    /// Listing failures, and paths the queue refused.
    failures: Vec<Checked>,
}

/// Lists `dir` into `queue`, counting the puts that had to wait for room.
fn produce(dir: &Path, queue: &Queue<PathBuf>) -> Produced {
    let mut p = Produced::default();
    list(dir, |listed| {
        let path = match listed {
            Ok(path) => path,
            Err(e) => {
                p.failures.push(e);
                return true;
            }
        };
        let put = match queue.try_put(path) {
            Ok(()) => Ok(()),
            Err(TryPutError::Full(path)) => {
                p.full += 1;
                let start = Instant::now();
                let put = queue.put(path).map_err(|e| e.into_inner());
                p.waited += start.elapsed();
                put
            }
            Err(e) => Err(e.into_inner()),
        };
        match put {
            Ok(()) => {
                p.puts += 1;
                p.peak = p.peak.max(queue.len());
                true
            }
            Err(path) => {
                let name = file_name(&path);
                p.failures
                    .push((name, Err("the queue was closed before its put".into())));
                false
            }
        }
    });
    p
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One run's outcome, checked file by file against the bytes written.
#[derive(Debug, Clone)]
struct Row {
    /// Files written (and expected to be read).
    files: usize,
    /// Files read with the right hash.
    right: u64,
    /// Bytes read with the right hash.
    bytes: u64,
    /// The simulated latency slept in all.
    slept: Duration,
    failed: u64,
    first_failure: Option<String>,
    /// The queue's longest length read after each put, on the pipeline's
    /// row.
    peak_queue: Option<u64>,
}

impl Row {
    fn check(got: &[Checked], expected: &BTreeMap<String, (u64, u64)>) -> Self {
        let mut row = Row {
            files: expected.len(),
            right: 0,
            bytes: 0,
            slept: Duration::ZERO,
            failed: 0,
            first_failure: None,
            peak_queue: None,
        };
        let fail = |row: &mut Row, why: String| {
            row.failed += 1;
            row.first_failure.get_or_insert(why);
        };
        let mut seen = HashSet::with_capacity(got.len());
        for (name, outcome) in got {
            let read = match outcome {
                Ok(read) => read,
                Err(e) => {
                    fail(&mut row, format!("{name}: {e}"));
                    continue;
                }
            };
            row.slept += read.slept;
            if !seen.insert(name.as_str()) {
                fail(&mut row, format!("{name}: read twice"));
                continue;
            }
            match expected.get(name) {
                None => fail(&mut row, format!("{name}: a file that was not written")),
                Some(&(hash, _)) if hash != read.hash => fail(
                    &mut row,
                    format!(
                        "{name}: hash {:016x}, the bytes written hash to {hash:016x}",
                        read.hash
                    ),
                ),
                Some(_) => {
                    row.right += 1;
                    row.bytes += read.len;
                }
            }
        }
        for name in expected.keys() {
            if !seen.contains(name.as_str()) {
                fail(&mut row, format!("{name}: never read"));
            }
        }
        row
    }
}

impl Outcome for Row {
    fn measurement(self, ran: Ran) -> Measurement {
        let per_s = self.right as f64 / ran.wall.as_secs_f64().max(f64::MIN_POSITIVE);
        let mut figures = vec![
            ("files", Figure::Count(self.files as u64)),
            ("mb", Figure::Rate(self.bytes as f64 / 1e6)),
            ("files_per_s", Figure::Rate(per_s)),
        ];
        if let Some(peak) = self.peak_queue {
            figures.push(("peak_queue", Figure::Count(peak)));
        }
        Measurement {
            figures,
            failed: self.failed,
            first_failure: self.first_failure,
            ..ran.measurement()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_its_reference_values() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn contents_are_deterministic_and_4_to_64_kib() {
        assert_eq!(content(3), content(3));
        assert_ne!(content(3), content(4));
        for i in 0..50 {
            let len = content(i).len();
            assert!((MIN_SIZE..=MAX_SIZE).contains(&len), "{len}");
        }
    }

    fn read(hash: u64) -> Result<Read, String> {
        Ok(Read {
            hash,
            len: 10,
            slept: Duration::from_millis(1),
        })
    }

    #[test]
    fn hashes_that_differ_from_the_bytes_written_fail_those_files() {
        let expected: BTreeMap<String, (u64, u64)> = [("a", 1), ("b", 2), ("c", 3), ("d", 4)]
            .into_iter()
            .map(|(n, h)| (n.to_string(), (h, 10)))
            .collect();
        let all: Vec<Checked> = expected
            .iter()
            .map(|(n, &(h, _))| (n.clone(), read(h)))
            .collect();
        let ok = Row::check(&all, &expected);
        assert_eq!((ok.files, ok.right, ok.bytes, ok.failed), (4, 4, 40, 0));
        assert_eq!(ok.slept, Duration::from_millis(4));

        let got = vec![
            ("a".to_string(), read(1)),
            ("b".to_string(), read(9)),
            ("a".to_string(), read(1)),
            ("z".to_string(), read(5)),
            ("(listing)".to_string(), Err("denied".to_string())),
        ];
        let wrong = Row::check(&got, &expected);
        // b's hash, a twice, z unknown, the listing, c and d never read.
        assert_eq!(wrong.failed, 6);
        assert_eq!(wrong.right, 1);
        let why = wrong.first_failure.clone().unwrap();
        assert!(
            why.starts_with("b: hash 0000000000000009, the bytes written hash to 0000000000000002"),
            "{why}"
        );
        let mut wrong = wrong;
        wrong.peak_queue = Some(3);
        let m = wrong.measurement(Ran {
            model: PIPELINE,
            workers: 6,
            wall: Duration::from_secs(1),
            advice: String::new(),
            findings: Vec::new(),
        });
        assert_eq!(m.failed, 6);
        assert!(matches!(m.figures[0], ("files", Figure::Count(4))));
        assert!(matches!(m.figures[2], ("files_per_s", Figure::Rate(r)) if r == 1.0));
        assert!(matches!(m.figures[3], ("peak_queue", Figure::Count(3))));
    }

    #[test]
    fn the_folder_is_gone_after_a_run_and_after_a_panic() {
        let dir = TempDir::create().unwrap();
        let path = dir.path().to_path_buf();
        let expected = write_files(&path, 5).unwrap();
        assert_eq!(expected.len(), 5);
        let queue = Queue::<PathBuf>::bounded(2).unwrap();
        let consumer = {
            let queue = queue.clone();
            thread::spawn(move || {
                let mut got = Vec::new();
                while let Ok(item) = queue.get() {
                    got.push((file_name(&item), checksum(&item)));
                }
                got
            })
        };
        let produced = produce(&path, &queue);
        queue.join();
        queue.close();
        let got = consumer.join().unwrap();
        assert_eq!(produced.puts, 5);
        assert!(produced.peak <= 2);
        assert_eq!(Row::check(&got, &expected).failed, 0);
        drop(dir);
        assert!(!path.exists());

        let unwound = std::panic::catch_unwind(|| {
            let dir = TempDir::create().unwrap();
            write_files(dir.path(), 2).unwrap();
            panic!("{}", dir.path().display());
        });
        let message = unwound.unwrap_err();
        let left = message.downcast_ref::<String>().unwrap();
        assert!(!Path::new(left).exists(), "{left}");
    }
}
