//! Calls one export of the bench guest 20 million times with wasmtime's perf map on, so that
//! `perf` can name the JIT-compiled guest functions; how bench/README.md's round-trip profile was taken:
//!
//! ```text
//! cargo build --release -p wasmexport-bench --example profile
//! perf record -e cpu-clock -g target/release/examples/profile roundtrip
//! perf report --no-children --sort symbol
//! ```

use wasmexport_bench::{guests, instantiate, prepare};
use wasmtime::{Config, Engine, ProfilingStrategy};

fn main() {
    let name = std::env::args().nth(1).unwrap_or_else(|| "roundtrip".into());
    let mut config = Config::new();
    config.profiler(ProfilingStrategy::PerfMap);
    let engine = Engine::new(&config).expect("engine");
    let pre = prepare(&engine, &guests().ours).expect("module");
    let (mut store, instance) = instantiate(&pre).expect("instance");
    let f = instance.get_typed_func::<i32, i32>(&mut store, &name).expect("an (i32) -> i32 export");
    const CALLS: u32 = 20_000_000;
    let start = std::time::Instant::now();
    for i in 0..CALLS {
        std::hint::black_box(f.call(&mut store, i as i32).expect("call"));
    }
    eprintln!("{name}: {:?} per call", start.elapsed() / CALLS);
}
