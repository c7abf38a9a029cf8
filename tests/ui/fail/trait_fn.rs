use wasmexport::wasmexport;

trait Plugin {
    #[wasmexport]
    fn version() -> u32 {
        1
    }

    #[wasmexport]
    fn name() -> u32;
}

fn main() {}
