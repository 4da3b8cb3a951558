// `submit` takes only closures that own their data; borrowing from the stack
// is what `Pool::scope` is for.
fn main() {
    let pool = workwise::Pool::cpu().build().unwrap();
    let data = vec![1, 2, 3];
    let h = pool.submit(|| data.iter().sum::<i32>());
    let _ = h.wait();
}
