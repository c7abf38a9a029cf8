use wasmexport::wasmexport;

struct Math;

impl Math {
    #[wasmexport]
    fn add(x: i32, y: i32) -> i32 {
        x + y
    }
}

fn main() {}
