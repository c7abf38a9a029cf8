use wasmexport::wasmexport;

struct Counter(u32);

impl Counter {
    #[wasmexport]
    fn get(&self) -> u32 {
        self.0
    }
}

fn main() {}
