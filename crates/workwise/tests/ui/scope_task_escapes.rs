// A scoped task may not return a borrow of scope-local data: results must
// own what they hold, so nothing dangles after the scope ends.
fn main() {
    let pool = workwise::Pool::cpu().build().unwrap();
    let data = vec![1, 2, 3];
    let h = pool.scope(|s| s.submit(|| &data[0]));
    let _ = h.wait();
}
