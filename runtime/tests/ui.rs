//! Compile-fail and pass cases for the macros (`tests/ui` at the workspace root).
//! After a deliberate change to a message: `TRYBUILD=overwrite cargo test -p wasmexport --test ui`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("../tests/ui/fail/*.rs");
    t.pass("../tests/ui/pass/*.rs");
}
