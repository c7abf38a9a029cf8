use wasmexport::wasmimport;

unsafe extern "C" {
    #[wasmimport(module = "host")]
    fn lookup(key: i32) -> i32;
}

fn main() {}
