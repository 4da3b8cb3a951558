//! The guide's `Image processing | Multiprocessing | ProcessPoolExecutor` row.
//!
//! A box blur over generated grayscale images, one task per image with
//! `par_map`, three ways: a plain loop; `Pool::io`, the wrong model
//! (`min(32, cores + 4)` threads for work that never waits: the guide's
//! "threads for CPU-bound work" pitfall); and `Pool::cpu`, the right one (one
//! thread per core; Rust threads compute in parallel, so no processes are
//! needed). On Linux a fourth row runs the same blur on a `ProcessPool`
//! (one worker process per core, each image and its result copied through
//! pipes), to measure what processes cost: memory per worker and bytes
//! copied. Every output image's checksum must equal the loop's.

use std::time::{Duration, Instant};

use workwise::advice::{Advice, LoopWatch};
use workwise::Pool;
use workwise_workloads::image::{self, Gray};

use super::{advice, Column, Figure, Measurement, Scenario, Tour, TourError};

/// An image as it crosses a worker process's pipe: its size and its pixels
/// as one byte string.
#[cfg(target_os = "linux")]
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Frame {
    width: usize,
    height: usize,
    /// One byte string on the wire (a length and one copy), not `u8` by `u8`.
    pixels: serde_bytes::ByteBuf,
}

#[cfg(target_os = "linux")]
impl Frame {
    fn of(img: &Gray) -> Frame {
        Frame {
            width: img.width,
            height: img.height,
            pixels: serde_bytes::ByteBuf::from(img.pixels.clone()),
        }
    }

    fn into_gray(self) -> Gray {
        Gray {
            width: self.width,
            height: self.height,
            pixels: self.pixels.into_vec(),
        }
    }
}

/// The blur as a worker process runs it: the whole blurred image comes back.
#[cfg(target_os = "linux")]
fn blur(img: Frame) -> Frame {
    Frame::of(&image::box_blur(&img.into_gray(), RADIUS))
}

/// The blur, for `ProcessPool`.
#[cfg(target_os = "linux")]
pub(crate) const BLUR: workwise::process::Task<Frame, Frame> = workwise::process_task!(blur);

/// Images a full run blurs.
const FULL_IMAGES: usize = 64;
/// Images a `--quick` run blurs.
const QUICK_IMAGES: usize = 32;
/// Each image's width and height, in pixels.
const SIZE: usize = 512;
/// The blur's radius: each pixel becomes the mean of a 9×9 square.
const RADIUS: usize = 4;
/// The first image's seed (image `i` has `SEED + i`).
const SEED: u64 = 0x5EED_0002;

/// The image processing scenario.
#[derive(Debug)]
pub(crate) struct ImageProcessing;

impl Scenario for ImageProcessing {
    fn name(&self) -> &'static str {
        "image processing"
    }

    fn slug(&self) -> &'static str {
        "images"
    }

    fn about(&self) -> &'static str {
        "the guide's `Image processing` row: a box blur over generated 512x512 images"
    }

    fn columns(&self) -> &'static [Column] {
        &[
            Column {
                key: "images_per_s",
                header: "images/s",
            },
            Column {
                key: "worker_mb",
                header: "MB/worker",
            },
            Column {
                key: "sent_mb",
                header: "sent MB",
            },
        ]
    }

    fn model_width(&self) -> usize {
        11
    }

    fn run(&self, tour: &mut Tour) -> Result<(), TourError> {
        let count = if tour.quick() {
            QUICK_IMAGES
        } else {
            FULL_IMAGES
        };
        // Generated once, before any clock starts.
        let images: Vec<Gray> = (0..count as u64)
            .map(|i| image::generate(SIZE, SIZE, SEED + i))
            .collect();
        tour.intro(&format!(
            "a box blur (radius {RADIUS}) over {count} generated {SIZE}x{SIZE} grayscale \
             images, one task per image; the guide says processes (ProcessPoolExecutor), \
             workwise says Pool::cpu(): Rust threads compute in parallel"
        ))?;

        let bar = tour.progress("sequential", count);
        let watch = LoopWatch::start();
        let start = Instant::now();
        let blurred: Vec<Gray> = images
            .iter()
            .map(|img| {
                let out = image::box_blur(img, RADIUS);
                bar.inc(1);
                out
            })
            .collect();
        let base = start.elapsed();
        let (figures, findings) = (watch.figures(), watch.finish("blur", count as u64));
        bar.finish_and_clear();
        let expected: Vec<u64> = blurred.iter().map(image::checksum).collect();
        drop(blurred);
        let row = Row::check(Ok(&expected), &expected);
        let advice = advice::for_loop(&figures, &findings);
        tour.record(row.into_measurement("sequential", 1, base, advice, findings))?;

        // Both pools run before either row is printed: each row's advice
        // compares it with the other.
        let mut runs = Vec::new();
        for (model, builder) in [("Pool::io", Pool::io()), ("Pool::cpu", Pool::cpu())] {
            let bar = tour.progress(model, count);
            let (blurred, run) = super::timed_on_pool(builder.name("images"), base, |pool| {
                pool.par_map(&images, |img| {
                    let out = image::box_blur(img, RADIUS);
                    bar.inc(1);
                    out
                })
            })?;
            bar.finish_and_clear();
            let sums = blurred
                .map(|out| out.iter().map(image::checksum).collect::<Vec<u64>>())
                .map_err(|e| e.to_string());
            runs.push((model, run, Row::check(sums.as_deref(), &expected)));
        }
        for (i, (model, run, row)) in runs.iter().enumerate() {
            let other = runs.get(1 - i).map(|(_, other, _)| other);
            let advice = advice::for_par_pool(run, other);
            let m = row.clone().into_measurement(
                model,
                run.max_workers,
                run.wall,
                advice,
                run.findings.clone(),
            );
            tour.record(m)?;
        }
        #[cfg(target_os = "linux")]
        {
            let threads = runs.last().map(|(_, run, _)| run);
            process_row(tour, &images, &expected, threads)?;
        }
        Ok(())
    }
}

/// The `ProcessPool` row: each image sent to a worker process, blurred
/// there, and sent back whole, one task per image.
#[cfg(target_os = "linux")]
fn process_row(
    tour: &mut Tour,
    images: &[Gray],
    expected: &[u64],
    threads: Option<&advice::ParRun>,
) -> Result<(), TourError> {
    use super::processes;

    // Made before the clock starts, as the images are.
    let frames: Vec<Frame> = images.iter().map(Frame::of).collect();
    let bar = tour.progress(processes::MODEL, frames.len());
    let (sums, run) = processes::timed_on_process_pool("images", |pool| {
        let handles: Vec<_> = frames.iter().map(|f| pool.submit_ref(BLUR, f)).collect();
        handles
            .into_iter()
            .map(|h| {
                let sum = h.wait().map(|out| image::checksum(&out.into_gray()));
                bar.inc(1);
                sum
            })
            .collect::<Result<Vec<u64>, _>>()
    })?;
    bar.finish_and_clear();
    let sums = sums.map_err(|e| e.to_string());
    let row = Row::check(sums.as_deref(), expected);
    let advice = processes::advice(&run, threads);
    // ProcessPool has no advisor yet (W11, large arguments copied into
    // worker processes, lands with `ProcessPool::advice`).
    let mut m = row.into_measurement(
        processes::MODEL,
        run.workers,
        run.wall,
        advice,
        run.findings.clone(),
    );
    m.figures.extend(run.figures());
    tour.record(m)
}

/// One run's outcome, checked image by image against the loop's checksums.
#[derive(Debug, Clone)]
struct Row {
    images: usize,
    failed: u64,
    first_failure: Option<String>,
}

impl Row {
    fn check(sums: Result<&[u64], &String>, expected: &[u64]) -> Self {
        let images = expected.len();
        match sums {
            Err(e) => Row {
                images,
                failed: images as u64,
                first_failure: Some(format!("the blur failed, so no image came back: {e}")),
            },
            Ok(sums) if sums.len() != images => Row {
                images,
                failed: images as u64,
                first_failure: Some(format!("{} images came back, not {images}", sums.len())),
            },
            Ok(sums) => {
                let mut wrong = sums
                    .iter()
                    .zip(expected)
                    .enumerate()
                    .filter(|(_, (a, b))| a != b);
                let first_failure = wrong.next().map(|(i, (got, want))| {
                    format!("image {i}: checksum {got:016x}, the loop's {want:016x}")
                });
                let failed = first_failure
                    .as_ref()
                    .map_or(0, |_| 1 + wrong.count() as u64);
                Row {
                    images,
                    failed,
                    first_failure,
                }
            }
        }
    }

    fn into_measurement(
        self,
        model: &'static str,
        workers: usize,
        wall: Duration,
        advice: String,
        findings: Vec<Advice>,
    ) -> Measurement {
        let done = (self.images as u64).saturating_sub(self.failed);
        let per_s = done as f64 / wall.as_secs_f64().max(f64::MIN_POSITIVE);
        Measurement {
            model,
            workers,
            wall,
            figures: vec![
                ("images", Figure::Count(self.images as u64)),
                ("images_per_s", Figure::Rate(per_s)),
            ],
            failed: self.failed,
            first_failure: self.first_failure,
            errors: None,
            advice,
            findings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_that_differ_from_the_loop_fail_those_images() {
        let expected = [1, 2, 3, 4];
        let ok = Row::check(Ok(&expected), &expected);
        assert_eq!((ok.images, ok.failed), (4, 0));

        let wrong = Row::check(Ok(&[1, 9, 3, 8]), &expected);
        assert_eq!(wrong.failed, 2);
        let why = wrong.first_failure.clone().unwrap();
        assert!(
            why.starts_with("image 1: checksum 0000000000000009"),
            "{why}"
        );
        let m = wrong.into_measurement(
            "Pool::io",
            6,
            Duration::from_secs(1),
            String::new(),
            Vec::new(),
        );
        assert_eq!(m.failed, 2);
        assert!(matches!(m.figures[1], ("images_per_s", Figure::Rate(r)) if r == 2.0));

        assert_eq!(Row::check(Ok(&[1, 2]), &expected).failed, 4);
        let failed = Row::check(Err(&"item 0 panicked".to_string()), &expected);
        assert_eq!(failed.failed, 4);
    }
}
