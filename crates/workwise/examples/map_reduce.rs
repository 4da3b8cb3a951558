//! Map-reduce on a cores-sized pool: a word count over generated text.
//!
//! The guide's recipe is "map each piece in a process pool, reduce the
//! results". In Rust, threads run in parallel, so `Pool::cpu()` is the pool,
//! and the text is borrowed by the tasks instead of being copied to workers.
//!
//! Run: `cargo run --release -p workwise --example map_reduce`

use std::collections::HashMap;
use std::time::Instant;

use workwise::Pool;
use workwise_workloads::text;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let corpus = text::generate(16 << 20, 7);
    let blocks = text::blocks(&corpus, 128);
    let cpu = Pool::cpu().build()?;

    let start = Instant::now();
    let sequential = blocks
        .iter()
        .map(|b| text::count_words(b))
        .fold(HashMap::new(), text::merge);
    let seq_time = start.elapsed();

    let start = Instant::now();
    // map: count one block; reduce: merge two counts (associative), starting
    // each chunk from an empty map (the identity).
    let parallel = cpu.map_reduce(
        &blocks,
        |b| text::count_words(b),
        HashMap::new(),
        text::merge,
    )?;
    let par_time = start.elapsed();

    assert_eq!(parallel, sequential);
    let mut top: Vec<(&str, u64)> = parallel.iter().map(|(w, n)| (*w, *n)).collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    println!(
        "{} words, {} distinct, in {} MB",
        text::total(&parallel),
        parallel.len(),
        corpus.len() >> 20
    );
    println!("most common: {:?}", &top[..5]);
    println!(
        "sequential {seq_time:?}, Pool::cpu ({} threads) {par_time:?}: {:.1}x",
        cpu.max_workers(),
        seq_time.as_secs_f64() / par_time.as_secs_f64()
    );

    // Tiny inputs are not worth a pool: this one runs inline, and the
    // pool's statistics say so.
    let small = cpu.map_reduce(&blocks[..2], |b| b.len(), 0, |a, b| a + b)?;
    let stats = cpu.stats();
    println!(
        "a 2-block input: {small} bytes; inline runs {}, parallel runs {}",
        stats.inline_runs, stats.parallel_runs
    );
    Ok(())
}
