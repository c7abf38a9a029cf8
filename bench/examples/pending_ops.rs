//! Wasm instructions (wasmtime fuel) of one pending round trip, split by call: the pending
//! export's start (`round_trip(41)`, which calls the host's `op` and returns WAIT) and the
//! host's `wasmexport_complete(token, value)` (which runs the task and calls `[task-return]`).
//! `cargo run --release -p wasmexport-bench --example pending_ops -- PENDING_BENCH_OURS.wasm`

use wasmtime::{Caller, Config, Engine, Linker, Module, Store};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;

struct Host {
    wasi: WasiP1Ctx,
    next_token: u32,
    returned: Vec<(i32, i32)>,
    /// Fuel left when the guest called `op` and `[task-return]`.
    at_op: u64,
    at_return: u64,
}

fn main() -> wasmtime::Result<()> {
    let path = std::env::args().nth(1).expect("the module's path");
    let mut config = Config::new();
    config.consume_fuel(true);
    // WASMEXPORT_PERFMAP=N: N more round trips, with a perf map for `perf record`.
    let extra: u64 =
        std::env::var("WASMEXPORT_PERFMAP").ok().and_then(|n| n.parse().ok()).unwrap_or(0);
    if extra > 0 {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    let engine = Engine::new(&config)?;
    let module = Module::from_file(&engine, &path)?;
    let mut linker = Linker::<Host>::new(&engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |h| &mut h.wasi)?;
    linker.func_wrap("host", "op", |mut c: Caller<'_, Host>, _x: i32| -> u32 {
        c.data_mut().at_op = c.get_fuel().unwrap();
        c.data_mut().next_token += 1;
        c.data().next_token
    })?;
    linker.func_wrap(
        "wasmexport",
        "[task-return]round_trip",
        |mut c: Caller<'_, Host>, id: i32, v: i32| {
            c.data_mut().at_return = c.get_fuel().unwrap();
            c.data_mut().returned.push((id, v));
        },
    )?;
    let host = Host {
        wasi: WasiCtxBuilder::new().build_p1(),
        next_token: 0,
        returned: Vec::new(),
        at_op: 0,
        at_return: 0,
    };
    let mut store = Store::new(&engine, host);
    store.set_fuel(u64::MAX / 2)?;
    let instance = linker.instantiate(&mut store, &module)?;
    instance.get_typed_func::<(), ()>(&mut store, "_initialize")?.call(&mut store, ())?;
    let start = instance.get_typed_func::<i32, i32>(&mut store, "round_trip")?;
    let complete = instance.get_typed_func::<(i32, i32), i32>(&mut store, "wasmexport_complete")?;
    let (mut s, mut c) = (0, 0);
    // The four legs: start up to `op`, after `op` to the status, complete up to
    // `[task-return]`, after it to complete's return.
    let mut legs = [0u64; 4];
    const N: u64 = 1000;
    for i in 0..N + 100 + extra {
        let f0 = store.get_fuel()?;
        let status = start.call(&mut store, 41)?;
        assert_eq!(status & 3, 2, "WAIT");
        let f1 = store.get_fuel()?;
        let token = store.data().next_token as i32;
        complete.call(&mut store, (token, 41))?;
        let f2 = store.get_fuel()?;
        assert_eq!(store.data_mut().returned.pop(), Some((status >> 4, 42)));
        if (100..N + 100).contains(&i) {
            s += f0 - f1;
            c += f1 - f2;
            let (op, ret) = (store.data().at_op, store.data().at_return);
            legs[0] += f0 - op;
            legs[1] += op - f1;
            legs[2] += f1 - ret;
            legs[3] += ret - f2;
        }
    }
    println!(
        "start {} + complete {} = {} wasm instructions per pending round trip",
        s / N,
        c / N,
        (s + c) / N
    );
    let [a, b, c, d] = legs.map(|l| l / N);
    println!(
        "  start: {a} up to the host's op, {b} after it; complete: {c} up to [task-return], {d} after it"
    );
    Ok(())
}
