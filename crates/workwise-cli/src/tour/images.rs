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

use workwise_workloads::image::{self, Gray};

use super::{advice, Column, Items, Key, Outcome, ScenarioInfo, Size, Tour, TourError, Unit};

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

/// Images a run blurs.
const IMAGES: Size = Size::count("images", 32, 64);
/// Each image's width and height, in pixels.
const SIZE: usize = 512;
/// The blur's radius: each pixel becomes the mean of a 9×9 square.
const RADIUS: usize = 4;
/// The first image's seed (image `i` has `SEED + i`).
const SEED: u64 = 0x5EED_0002;

/// What the rows count.
const IMAGE: Unit = Unit {
    one: "image",
    count: "images",
    rate: "images_per_s",
};

/// The image processing scenario.
pub(crate) const INFO: ScenarioInfo = ScenarioInfo {
    name: "image processing",
    slug: "images",
    about: "the guide's `Image processing` row: a box blur over generated 512x512 images",
    help: "a box blur over generated images, on `Pool::io` and `Pool::cpu`, and on Linux also \
           on a `ProcessPool`, to measure what worker processes cost (memory per worker, bytes \
           copied)",
    sizes: &[IMAGES],
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
    ],
    keys: &[
        Key::new("images", "images blurred"),
        Key::new("images_per_s", "images blurred right a second"),
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
    process_tasks: &[&BLUR],
};

fn run(tour: &mut Tour) -> Result<(), TourError> {
    let count = IMAGES.items(tour.quick());
    // Generated once, before any clock starts.
    let images: Vec<Gray> = (0..count as u64)
        .map(|i| image::generate(SIZE, SIZE, SEED + i))
        .collect();
    tour.intro(&format!(
        "a box blur (radius {RADIUS}) over {count} generated {SIZE}x{SIZE} grayscale \
         images, one task per image; the guide says processes (ProcessPoolExecutor), \
         workwise says Pool::cpu(): Rust threads compute in parallel"
    ))?;

    let (blurred, ran) = tour.run_loop("blur", count, |bar| {
        images
            .iter()
            .map(|img| {
                let out = image::box_blur(img, RADIUS);
                bar.inc(1);
                out
            })
            .collect::<Vec<Gray>>()
    });
    let expected: Vec<u64> = blurred.iter().map(image::checksum).collect();
    drop(blurred);
    let base = ran.wall;
    tour.record(Items::check(IMAGE, Ok(&expected), &expected).measurement(ran))?;

    let blur = |pool: &workwise::Pool, bar: &indicatif::ProgressBar| {
        pool.par_map(&images, |img| {
            let out = image::box_blur(img, RADIUS);
            bar.inc(1);
            out
        })
    };
    let _threads = tour.compare_pools("images", base, count, blur, |blurred| {
        let sums = blurred
            .map(|out| out.iter().map(image::checksum).collect::<Vec<u64>>())
            .map_err(|e| e.to_string());
        Items::check(IMAGE, sums.as_deref(), &expected)
    })?;
    #[cfg(target_os = "linux")]
    process_row(tour, &images, &expected, &_threads)?;
    Ok(())
}

/// The `ProcessPool` row: each image sent to a worker process, blurred
/// there, and sent back whole, one task per image.
#[cfg(target_os = "linux")]
fn process_row(
    tour: &mut Tour,
    images: &[Gray],
    expected: &[u64],
    threads: &advice::ParRun,
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
    let checked = Items::check(IMAGE, sums.as_deref(), expected);
    tour.record(run.measurement(checked, Some(threads)))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::{Figure, Ran};
    use super::*;

    #[test]
    fn checksums_that_differ_from_the_loop_fail_those_images() {
        let expected = [1u64, 2, 3, 4];
        assert_eq!(Items::check(IMAGE, Ok(&expected), &expected).failed(), 0);

        let wrong = Items::check(IMAGE, Ok(&[1, 9, 3, 8]), &expected);
        assert_eq!(wrong.failed(), 2);
        let m = wrong.measurement(Ran {
            model: "Pool::io",
            workers: 6,
            wall: Duration::from_secs(1),
            advice: String::new(),
            findings: Vec::new(),
        });
        let why = m.first_failure.clone().unwrap();
        assert!(
            why.starts_with("image 1: checksum 0000000000000009"),
            "{why}"
        );
        assert_eq!(m.failed, 2);
        assert!(matches!(m.figures[1], ("images_per_s", Figure::Rate(r)) if r == 2.0));

        assert_eq!(Items::check(IMAGE, Ok(&[1, 2]), &expected).failed(), 4);
        let failed = Items::check(IMAGE, Err(&"item 0 panicked".to_string()), &expected);
        assert_eq!(failed.failed(), 4);
    }
}
