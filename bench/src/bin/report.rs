//! Prints the benchmark table: criterion's medians from `target/criterion` (run the `calls`
//! bench first: `cargo xtask bench` does both), plus sizes and memory measured here.

use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;
use wasmexport_bench::{guests, instantiate, ops_per_call, prepare};
use wasmexport_engine_tests::root;
use wasmtime::{Engine, Instance, Store};
use wasmtime_wasi::p1::WasiP1Ctx;

/// A median in ns with its 95% confidence interval, from criterion.
#[derive(Clone, Copy)]
struct Est {
    median: f64,
    lo: f64,
    hi: f64,
}

fn estimate(id: &str) -> Option<Est> {
    let path = root().join("target/criterion").join(id).join("new/estimates.json");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    let m = &json["median"];
    Some(Est {
        median: m["point_estimate"].as_f64()?,
        lo: m["confidence_interval"]["lower_bound"].as_f64()?,
        hi: m["confidence_interval"]["upper_bound"].as_f64()?,
    })
}

fn time(e: Option<Est>) -> String {
    match e {
        None => "–".into(),
        Some(e) if e.median >= 1e6 => format!("{:.2} ms (±{:.1}%)", e.median / 1e6, spread(e)),
        Some(e) if e.median >= 1e3 => format!("{:.2} µs (±{:.1}%)", e.median / 1e3, spread(e)),
        Some(e) => format!("{:.1} ns (±{:.1}%)", e.median, spread(e)),
    }
}

fn spread(e: Est) -> f64 {
    (e.hi - e.lo) / 2.0 / e.median * 100.0
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "–".into(),
    }
}

fn memory_after_parking(engine: &Engine, path: &Path, n: u32) -> Option<(usize, usize)> {
    let pre = prepare(engine, path).ok()?;
    let (mut store, instance): (Store<WasiP1Ctx>, Instance) = instantiate(&pre).ok()?;
    let park = instance.get_typed_func::<u32, ()>(&mut store, "park").ok()?;
    park.call(&mut store, 1).ok()?; // warm-up: first allocations, queues
    let memory = instance.get_memory(&mut store, "memory")?;
    let before = memory.data_size(&store);
    park.call(&mut store, n).ok()?;
    let tasks = instance.get_typed_func::<(), i32>(&mut store, "tasks").ok()?;
    let alive = tasks.call(&mut store, ()).ok()?;
    assert!(alive as u32 > n, "{}: only {alive} tasks alive after parking {n}", path.display());
    Some((before, memory.data_size(&store)))
}

fn main() {
    let gs = guests();
    let engine = Engine::default();
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len() as f64).ok();
    let (raw_size, our_size) = (size(&gs.raw), size(&gs.sizes.ours));
    let go_size = gs.go_add.as_deref().and_then(size);
    let (raw_small, our_small) = (size(&gs.sizes.raw_small), size(&gs.sizes.ours_small));
    let go_small = gs.go_add_stripped.as_deref().and_then(size);

    const PARKED: u32 = 100_000;
    let ours_mem = memory_after_parking(&engine, &gs.ours, PARKED);
    let go_mem = gs.go_tasks.as_deref().and_then(|p| memory_after_parking(&engine, p, PARKED));
    let per_task = |m: Option<(usize, usize)>| m.map(|(a, b)| (b - a) as f64 / f64::from(PARKED));

    let e = |id: &str| estimate(id);
    let med = |x: Option<Est>| x.map(|e| e.median);
    let (add_raw, add_ours, add_go) = (e("add/raw"), e("add/wasmexport"), e("add/go"));
    let (rt_ours, rt_go) = (e("roundtrip/wasmexport"), e("roundtrip/go"));
    let (in_raw, in_ours, in_go) =
        (e("instantiate/raw"), e("instantiate/wasmexport"), e("instantiate/go"));
    let (sp_ours, sp_go) = (e("spawn_1000/wasmexport"), e("spawn_1000/go"));
    let tps = |x: Option<Est>| x.map(|e| 1000.0 / (e.median / 1e9));
    let (parked0, parked100k) = (e("add_with_parked/0"), e("add_with_parked/100000"));
    let (many100k, many200k) = (e("spawn_many/100000"), e("spawn_many/200000"));

    let mut t = String::from(
        "| figure | raw `extern \"C\"` (floor) | `#[wasmexport]` | Go `//go:wasmexport` | ours / floor | Go / ours |\n|---|---|---|---|---|---|\n",
    );
    let mut row = |figure: &str, cells: [String; 5]| {
        let _ = writeln!(t, "| {figure} | {} |", cells.join(" | "));
    };
    let none = || "–".to_string();
    // A figure measured for all three guests: the values shown, then ours / floor and Go / ours.
    let three = |show: &dyn Fn(Option<f64>) -> String, [raw, ours, go]: [Option<f64>; 3]| {
        [show(raw), show(ours), show(go), ratio(ours, raw), ratio(go, ours)]
    };
    let timed = |e: [Option<Est>; 3]| {
        let [raw, ours, go] = e;
        [time(raw), time(ours), time(go), ratio(med(ours), med(raw)), ratio(med(go), med(ours))]
    };
    row("ns per call, `add(i32, i32)`", timed([add_raw, add_ours, add_go]));
    row(
        "call that hands work to a background task and awaits the reply",
        [none(), time(rt_ours), time(rt_go), none(), ratio(med(rt_go), med(rt_ours))],
    );
    row("instantiate + `_initialize`", timed([in_raw, in_ours, in_go]));
    let kb =
        |x: Option<f64>| x.map_or("–".into(), |b| format!("{:.1} KiB ({b:.0} B)", b / 1024.0));
    row(
        "module size, one `add` export, default release profile",
        three(&kb, [raw_size, our_size, go_size]),
    );
    row(
        "module size, release tuned for size (Rust: `opt-level = \"z\"`, LTO, 1 codegen unit, \
         `strip`; Go: `-ldflags=\"-s -w\"`)",
        three(&kb, [raw_small, our_small, go_small]),
    );
    let ops = |x: Option<f64>| x.map_or("–".into(), |n| format!("{n:.0}"));
    let add_ops = |p: Option<&Path>| {
        p.and_then(|p| ops_per_call::<(i32, i32), i32>(p, "add", (1, 2)).ok()).map(|n| n as f64)
    };
    row(
        "wasm instructions per `add` call (wasmtime fuel)",
        three(
            &ops,
            [add_ops(Some(&gs.raw)), add_ops(Some(&gs.ours)), add_ops(gs.go_add.as_deref())],
        ),
    );
    let rt_ops = |p: Option<&Path>| {
        p.and_then(|p| ops_per_call::<i32, i32>(p, "roundtrip", 41).ok()).map(|n| n as f64)
    };
    let (rt_ops_ours, rt_ops_go) = (rt_ops(Some(&gs.ours)), rt_ops(gs.go_tasks.as_deref()));
    row(
        "wasm instructions per background-task round trip (wasmtime fuel)",
        [none(), ops(rt_ops_ours), ops(rt_ops_go), none(), ratio(rt_ops_go, rt_ops_ours)],
    );
    let mem = |m: Option<(usize, usize)>| {
        m.map_or("–".into(), |(a, b)| {
            format!("{:.1} MiB → {:.1} MiB", a as f64 / 1048576.0, b as f64 / 1048576.0)
        })
    };
    row(
        "linear memory, parking 100,000 tasks",
        [none(), mem(ours_mem), mem(go_mem), none(), none()],
    );
    let bytes = |x: Option<f64>| x.map_or("–".into(), |b| format!("{b:.0} B"));
    row(
        "memory per parked task",
        [
            none(),
            bytes(per_task(ours_mem)),
            bytes(per_task(go_mem)),
            none(),
            ratio(per_task(go_mem), per_task(ours_mem)),
        ],
    );
    let rate = |x: Option<f64>| x.map_or("–".into(), |r| format!("{:.2} M/s", r / 1e6));
    row(
        "spawn + complete, tasks per second (1,000 per call)",
        [
            none(),
            rate(tps(sp_ours)),
            rate(tps(sp_go)),
            none(),
            ratio(tps(sp_ours), tps(sp_go)).replace('x', "x faster"),
        ],
    );
    // Ours against ours: the cost of a condition, as "with vs without" and their ratio.
    let versus = |with: Option<Est>, without: Option<Est>| {
        [
            none(),
            format!("{} vs {}", time(with), time(without)),
            none(),
            ratio(med(with), med(without)),
            none(),
        ]
    };
    row("`add` with 100,000 tasks parked vs none", versus(parked100k, parked0));
    row("one call spawning and awaiting 200,000 vs 100,000 tasks", versus(many200k, many100k));

    let goal = |ok: Option<bool>| match ok {
        Some(true) => "holds",
        Some(false) => "missed",
        None => "not measured",
    };
    let cmp =
        |a: Option<f64>, b: Option<f64>, f: fn(f64, f64) -> bool| a.zip(b).map(|(a, b)| f(a, b));
    let mut g = String::new();
    let _ = writeln!(
        g,
        "- sync `add` at most 1.05x the floor: {}",
        goal(cmp(med(add_ours), med(add_raw), |o, r| o <= 1.05 * r))
    );
    let _ = writeln!(
        g,
        "- background-task round trip at least 20x faster than Go's: {}",
        goal(cmp(med(rt_go), med(rt_ours), |go, o| go >= 20.0 * o))
    );
    let _ = writeln!(
        g,
        "- module at least 50x smaller than Go's: default release profile: {}; tuned for size: {}",
        goal(cmp(go_size, our_size, |go, o| go >= 50.0 * o)),
        goal(cmp(go_small, our_small, |go, o| go >= 50.0 * o))
    );
    let _ = writeln!(
        g,
        "- instantiate + `_initialize` at least 10x faster than Go's: {}",
        goal(cmp(med(in_go), med(in_ours), |go, o| go >= 10.0 * o))
    );
    let _ = writeln!(
        g,
        "- memory per parked task at most 1/20 of a goroutine's: {}",
        goal(cmp(per_task(go_mem), per_task(ours_mem), |go, o| go >= 20.0 * o))
    );
    let _ = writeln!(
        g,
        "- 100,000 parked tasks cost a call at most 10%: {}",
        goal(cmp(med(parked100k), med(parked0), |p, z| p <= 1.10 * z))
    );

    let rustc = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let report = format!(
        "{t}\nGoals (ratios from this run):\n{g}\nMachine: {cpu}, {cores} cores. Toolchains: {rustc}; wasmtime 48 (cranelift, default config); {}.\nMedians of criterion samples, ± half the 95% confidence interval.\n",
        gs.go_note
    );
    print!("{report}");
    let _ = std::fs::write(root().join("target/bench/report.md"), &report);
}
