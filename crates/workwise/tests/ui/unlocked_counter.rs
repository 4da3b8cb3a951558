// The guide's "shared state without locks": two tasks incrementing one
// counter. In Rust it does not compile; use an AtomicU64 or a Mutex.
fn main() {
    let pool = workwise::Pool::cpu().build().unwrap();
    let mut counter = 0u64;
    pool.scope(|s| {
        s.submit(|| counter += 1);
        s.submit(|| counter += 1);
    });
    println!("{counter}");
}
