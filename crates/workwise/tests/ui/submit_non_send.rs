// A closure that holds an `Rc` cannot go to another thread: the compiler
// refuses it, so the data race it would allow never happens.
use std::rc::Rc;

fn main() {
    let pool = workwise::Pool::io().build().unwrap();
    let shared = Rc::new(5);
    let h = pool.submit(move || *shared + 1);
    let _ = h.wait();
}
