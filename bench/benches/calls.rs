//! Per-call costs on one wasmtime engine: `cargo xtask bench` runs these, then `report` turns
//! criterion's estimates into bench/README.md's table. `cargo test --benches` runs each once.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;
use wasmexport_bench::{guests, instantiate, prepare};
use wasmtime::Engine;

fn engine() -> Engine {
    Engine::default()
}

/// Benchmarks calling export `name(P) -> R` of each guest that has it.
fn calls<P, R>(c: &mut Criterion, group: &str, name: &str, guests: &[(&str, &Path)], args: P)
where
    P: wasmtime::WasmParams + Copy,
    R: wasmtime::WasmResults,
{
    let engine = engine();
    let mut g = c.benchmark_group(group);
    for &(id, path) in guests {
        let pre = prepare(&engine, path).expect("module");
        let (mut store, instance) = instantiate(&pre).expect("instance");
        let f = instance.get_typed_func::<P, R>(&mut store, name).expect("export");
        g.bench_function(id, |b| b.iter(|| f.call(&mut store, black_box(args)).expect("call")));
    }
    g.finish();
}

fn figures(c: &mut Criterion) {
    let gs = guests();
    eprintln!("bench: {}", gs.go_note);
    fn go(p: &Option<std::path::PathBuf>) -> Option<(&'static str, &Path)> {
        p.as_deref().map(|p| ("go", p))
    }
    let add: Vec<_> = [("raw", gs.raw.as_path()), ("wasmexport", gs.ours.as_path())]
        .into_iter()
        .chain(go(&gs.go_add))
        .collect();
    calls::<(i32, i32), i32>(c, "add", "add", &add, (1, 2));

    let tasks: Vec<_> =
        [("wasmexport", gs.ours.as_path())].into_iter().chain(go(&gs.go_tasks)).collect();
    let roundtrip: Vec<_> =
        [("floor", gs.floor_tasks.as_path())].into_iter().chain(tasks.clone()).collect();
    calls::<i32, i32>(c, "roundtrip", "roundtrip", &roundtrip, 41);
    calls::<i32, i32>(c, "roundtrip_oneshot", "roundtrip_oneshot", &tasks[..1], 41);
    calls::<i32, i32>(c, "spawn_1000", "spawn_many", &tasks, 1000);

    let engine = engine();
    let mut g = c.benchmark_group("instantiate");
    for (id, path) in &add {
        let pre = prepare(&engine, path).expect("module");
        g.bench_function(*id, |b| b.iter(|| instantiate(&pre).expect("instance")));
    }
    g.finish();

    // A call's cost with 100,000 tasks parked, against none (bench/README.md's parked-tasks figure).
    let pre = prepare(&engine, &gs.ours).expect("module");
    let mut g = c.benchmark_group("add_with_parked");
    for parked in [0, 100_000] {
        let (mut store, instance) = instantiate(&pre).expect("instance");
        let park = instance.get_typed_func::<u32, ()>(&mut store, "park").expect("park");
        park.call(&mut store, parked).expect("park");
        let add = instance.get_typed_func::<(i32, i32), i32>(&mut store, "add").expect("add");
        g.bench_function(BenchmarkId::from_parameter(parked), |b| {
            b.iter(|| add.call(&mut store, black_box((1, 2))).expect("call"))
        });
    }
    g.finish();

    // One call that spawns N tasks and awaits them all: twice N should take twice the time.
    let mut g = c.benchmark_group("spawn_many");
    g.sample_size(10);
    for n in [100_000u32, 200_000] {
        let (mut store, instance) = instantiate(&pre).expect("instance");
        let f = instance.get_typed_func::<u32, u32>(&mut store, "spawn_many").expect("export");
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| f.call(&mut store, n).expect("call"))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = figures
}
criterion_main!(benches);
