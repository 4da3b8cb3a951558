//! The guide's `Image processing | Multiprocessing | ProcessPoolExecutor` row.
//!
//! A box blur over generated grayscale images, one task per image with
//! `par_map`, three ways: a plain loop; `Pool::io`, the wrong model
//! (`min(32, cores + 4)` threads for work that never waits: the guide's
//! "threads for CPU-bound work" pitfall); and `Pool::cpu`, the right one (one
//! thread per core; Rust threads compute in parallel, so no processes are
//! needed). Every output image's checksum must equal the loop's.

use std::time::{Duration, Instant};

use workwise::Pool;
use workwise_workloads::image::{self, Gray};

use super::{advice, Column, Figure, Measurement, Scenario, Tour, TourError};

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
        &[Column {
            key: "images_per_s",
            header: "images/s",
        }]
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
        let before = advice::ThreadTimes::now();
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
        let times = before
            .zip(advice::ThreadTimes::now())
            .map(|(before, after)| after.since(before));
        bar.finish_and_clear();
        let expected: Vec<u64> = blurred.iter().map(image::checksum).collect();
        drop(blurred);
        let row = Row::check(Ok(&expected), &expected);
        tour.record(row.into_measurement("sequential", 1, base, advice::for_loop(base, times)))?;

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
            tour.record(
                row.clone()
                    .into_measurement(model, run.max_workers, run.wall, advice),
            )?;
        }
        Ok(())
    }
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
        let m = wrong.into_measurement("Pool::io", 6, Duration::from_secs(1), String::new());
        assert_eq!(m.failed, 2);
        assert!(matches!(m.figures[1], ("images_per_s", Figure::Rate(r)) if r == 2.0));

        assert_eq!(Row::check(Ok(&[1, 2]), &expected).failed, 4);
        let failed = Row::check(Err(&"item 0 panicked".to_string()), &expected);
        assert_eq!(failed.failed, 4);
    }
}
