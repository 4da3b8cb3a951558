//! Image processing on a cores-sized pool: a box blur over a batch of
//! generated grayscale images, with `par_map` keeping the input order.
//!
//! Each image is one item; `par_map` measures that an item is worth a task
//! and spreads the batch over one thread per core. A panic in one image
//! would come back as an error naming its index, not as a crash.
//!
//! Run: `cargo run --release -p workwise --example image_blur`

use std::time::Instant;

use workwise::Pool;
use workwise_workloads::image::{self, Gray};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let images: Vec<Gray> = (0..32)
        .map(|seed| image::generate(512, 512, seed))
        .collect();
    let cpu = Pool::cpu().build()?;

    let start = Instant::now();
    let sequential: Vec<Gray> = images.iter().map(|img| image::box_blur(img, 4)).collect();
    let seq_time = start.elapsed();

    let start = Instant::now();
    let parallel = cpu.par_map(&images, |img| image::box_blur(img, 4))?;
    let par_time = start.elapsed();

    assert_eq!(parallel, sequential, "same pixels, same order");
    println!(
        "{} images of 512x512: sequential {seq_time:?}, Pool::cpu {par_time:?} ({:.1}x on {} threads)",
        images.len(),
        seq_time.as_secs_f64() / par_time.as_secs_f64(),
        cpu.max_workers()
    );
    // Counters of a task that just finished can land a moment after its
    // result does; after shutdown every figure is in.
    cpu.shutdown();
    let stats = cpu.stats();
    println!(
        "pool: {} tasks, busy {:?}, CPU {:?} ({:.0}% of busy: CPU-bound, the right pool)",
        stats.completed,
        stats.busy,
        stats.cpu,
        100.0 * stats.cpu.as_secs_f64() / stats.busy.as_secs_f64().max(1e-9)
    );
    Ok(())
}
