use wasmexport::wasmexport;

struct S<const N: usize>;

// A const generic argument in braces in the impl header.
impl S<{ 1 + 1 }> {
    #[wasmexport]
    fn two() -> i32 {
        2
    }
}

fn main() {}
