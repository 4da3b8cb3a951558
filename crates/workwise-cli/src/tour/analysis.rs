//! The guide's `Data analysis | Multiprocessing | ProcessPoolExecutor` row.
//!
//! A word count over generated text, cut once into blocks, as map-reduce
//! (count each block, merge the counts), three ways: a plain fold over the
//! blocks; `Pool::io`, the wrong model (`min(32, cores + 4)` threads for work
//! that never waits: the guide's "threads for CPU-bound work" pitfall); and
//! `Pool::cpu`, the right one (one thread per core; Rust threads compute in
//! parallel, so no processes are needed). On Linux a fourth row runs the
//! same count on a `ProcessPool` (`map`, chunked; each block's text and its
//! counts copied through pipes), to measure what processes cost: memory per
//! worker and bytes copied. Every run's counts must equal the loop's, word
//! for word.

use std::collections::HashMap;

use workwise_workloads::text;

use super::{Column, Figure, Key, Measurement, Outcome, Ran, ScenarioInfo, Size, Tour, TourError};

/// One block's word counts as a worker process sends them back.
#[cfg(target_os = "linux")]
fn count_block(block: String) -> Vec<(String, u64)> {
    text::count_words(&block)
        .into_iter()
        .map(|(word, n)| (word.to_string(), n))
        .collect()
}

/// The count of one block, for `ProcessPool`.
#[cfg(target_os = "linux")]
pub(crate) const COUNT_BLOCK: workwise::process::Task<String, Vec<(String, u64)>> =
    workwise::process_task!(count_block);

/// Text a run counts, in MB.
const MEGABYTES: Size = Size::measure(8, 40, " MB", "of text");
/// How many blocks the text is cut into.
const BLOCKS: usize = 256;
/// The text's seed: every run counts the same words.
const SEED: u64 = 0x5EED_0001;

/// Word counts: each word of the text and how often it occurs.
type Counts<'a> = HashMap<&'a str, u64>;

/// The data analysis scenario.
pub(crate) const INFO: ScenarioInfo = ScenarioInfo {
    name: "data analysis",
    slug: "analysis",
    about: "the guide's `Data analysis` row: a word count over generated text, as map-reduce",
    help: "a word count over generated text, as map-reduce, on `Pool::io` and `Pool::cpu`, \
           and on Linux also on a `ProcessPool`",
    sizes: &[MEGABYTES],
    models: &[
        "sequential",
        "Pool::io",
        "Pool::cpu",
        #[cfg(target_os = "linux")]
        super::processes::MODEL,
    ],
    no_speedup: &[],
    columns: &[
        Column {
            key: "mb_per_s",
            header: "MB/s",
        },
        Column {
            key: "words",
            header: "words",
        },
        Column {
            key: "worker_mb",
            header: "MB/worker",
        },
        Column {
            key: "sent_mb",
            header: "sent MB",
        },
    ],
    keys: &[
        Key::new("mb", "the text's size, in MB"),
        Key::new("mb_per_s", "MB counted a second"),
        Key::new("words", "words counted"),
        #[cfg(target_os = "linux")]
        super::processes::WORKER_MB,
        #[cfg(target_os = "linux")]
        super::processes::SENT_MB,
        #[cfg(target_os = "linux")]
        super::processes::RECEIVED_MB,
    ],
    errors: "",
    run,
    #[cfg(target_os = "linux")]
    process_tasks: &[&COUNT_BLOCK],
};

fn run(tour: &mut Tour) -> Result<(), TourError> {
    let bytes = MEGABYTES.items(tour.quick()) * 1_000_000;
    // Generated and cut once, before any clock starts.
    let text = text::generate(bytes, SEED);
    let blocks = text::blocks(&text, BLOCKS);
    let mb = text.len() as f64 / 1e6;
    tour.intro(&format!(
        "a word count over {mb:.1} MB of generated text in {} blocks, as map-reduce \
         (count each block, merge the counts); the guide says processes \
         (ProcessPoolExecutor), workwise says Pool::cpu(): Rust threads compute in parallel",
        blocks.len()
    ))?;

    let (expected, ran) = tour.run_loop("count", blocks.len(), |bar| {
        blocks.iter().fold(Counts::new(), |counts, block| {
            let merged = text::merge(counts, text::count_words(block));
            bar.inc(1);
            merged
        })
    });
    let base = ran.wall;
    tour.record(Row::check(Ok(&expected), &expected, mb).measurement(ran))?;

    let count = |pool: &workwise::Pool, bar: &indicatif::ProgressBar| {
        pool.map_reduce(
            &blocks,
            |block| {
                let counts = text::count_words(block);
                bar.inc(1);
                counts
            },
            Counts::new(),
            text::merge,
        )
    };
    let _threads = tour.compare_pools("analysis", base, blocks.len(), count, |counted| {
        Row::check(counted.as_ref().map_err(ToString::to_string), &expected, mb)
    })?;
    #[cfg(target_os = "linux")]
    process_row(tour, &blocks, &expected, mb, &_threads)?;
    Ok(())
}

/// The `ProcessPool` row: the blocks sent to worker processes with `map`
/// (chunked as `par_map` chunks), each block's counts sent back and merged
/// here.
#[cfg(target_os = "linux")]
fn process_row(
    tour: &mut Tour,
    blocks: &[&str],
    expected: &Counts<'_>,
    mb: f64,
    threads: &super::advice::ParRun,
) -> Result<(), TourError> {
    use super::processes;

    // Owned copies, made before the clock starts, as the blocks are.
    let owned: Vec<String> = blocks.iter().map(|b| b.to_string()).collect();
    let bar = tour.progress(processes::MODEL, owned.len());
    let (counted, run) = processes::timed_on_process_pool("analysis", |pool| {
        let mut merged: HashMap<String, u64> = HashMap::new();
        for counts in pool.map(COUNT_BLOCK, owned) {
            for (word, n) in counts? {
                *merged.entry(word).or_insert(0) += n;
            }
            bar.inc(1);
        }
        Ok::<_, workwise::TaskError>(merged)
    })?;
    bar.finish_and_clear();
    let counted = counted.map_err(|e| e.to_string());
    let borrowed = counted.as_ref().map_err(Clone::clone).map(|merged| {
        merged
            .iter()
            .map(|(word, &n)| (word.as_str(), n))
            .collect::<Counts<'_>>()
    });
    let row = Row::check(borrowed.as_ref().map_err(Clone::clone), expected, mb);
    tour.record(run.measurement(row, Some(threads)))
}

/// One run's outcome, checked against the loop's counts.
#[derive(Debug, Clone)]
struct Row {
    mb: f64,
    words: u64,
    failure: Option<String>,
}

impl Row {
    fn check(counted: Result<&Counts<'_>, String>, expected: &Counts<'_>, mb: f64) -> Self {
        let (words, failure) = match counted {
            Err(e) => (0, Some(format!("the count failed: {e}"))),
            Ok(counts) => {
                let words = text::total(counts);
                let failure = (counts != expected).then(|| {
                    format!(
                        "the counts differ from the loop's: {words} words ({} distinct), \
                         the loop counted {} ({} distinct)",
                        counts.len(),
                        text::total(expected),
                        expected.len()
                    )
                });
                (words, failure)
            }
        };
        Row { mb, words, failure }
    }
}

impl Outcome for Row {
    fn measurement(self, ran: Ran) -> Measurement {
        let per_s = self.mb / ran.wall.as_secs_f64().max(f64::MIN_POSITIVE);
        Measurement {
            figures: vec![
                ("mb", Figure::Rate(self.mb)),
                ("mb_per_s", Figure::Rate(per_s)),
                ("words", Figure::Count(self.words)),
            ],
            failed: u64::from(self.failure.is_some()),
            first_failure: self.failure,
            ..ran.measurement()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn ran(model: &'static str) -> Ran {
        Ran {
            model,
            workers: 2,
            wall: Duration::from_millis(10),
            advice: String::new(),
            findings: Vec::new(),
        }
    }

    #[test]
    fn counts_that_differ_from_the_loop_fail_the_row() {
        let text = text::generate(20_000, 7);
        let blocks = text::blocks(&text, 8);
        let expected = blocks
            .iter()
            .map(|b| text::count_words(b))
            .fold(Counts::new(), text::merge);
        let words = text::total(&expected);

        let same = Row::check(Ok(&expected.clone()), &expected, 0.02);
        let m = same.measurement(ran("Pool::cpu"));
        assert_eq!(m.failed, 0);
        assert!(m.first_failure.is_none());
        assert!(matches!(m.figures[2], ("words", Figure::Count(n)) if n == words));

        let mut wrong = expected.clone();
        *wrong.values_mut().next().unwrap() += 1;
        let m = Row::check(Ok(&wrong), &expected, 0.02).measurement(ran("Pool::io"));
        assert_eq!(m.failed, 1);
        let why = m.first_failure.unwrap();
        assert!(why.contains(&format!("the loop counted {words}")), "{why}");

        let m = Row::check(Err("item 3 panicked: boom".into()), &expected, 0.02)
            .measurement(ran("Pool::io"));
        assert_eq!(m.failed, 1);
        assert!(m.first_failure.unwrap().contains("boom"));
    }
}
