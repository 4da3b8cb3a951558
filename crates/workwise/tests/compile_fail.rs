//! Pitfalls of the guide that Rust rejects at compile time: a non-`Send`
//! closure, a borrow into `submit`, an unlocked shared counter, a scoped
//! result that would dangle. Each `tests/ui/*.rs` must fail to compile with
//! the error recorded beside it.

#[test]
fn pitfalls_do_not_compile() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
