//! Prints the benchmark tables: criterion's medians from `target/criterion` (run the `calls`
//! bench first: `cargo xtask bench` does both), the V8 figures of `bench/node/bench.mjs`, plus
//! instruction counts, sizes and memory measured here.
//!
//! An example rather than a bin: examples build with the dev-dependencies, as the benches do,
//! so both resolve the same features and share one release build of wasmtime.

use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;
use wasmexport_bench::node::{Node, Time};
use wasmexport_bench::{guests, instantiate, ops_per_call, prepare};
use wasmexport_engine_tests::root;
use wasmtime::{Engine, Instance, Store};
use wasmtime_wasi::p1::WasiP1Ctx;

/// A median in ns with its spread in percent (criterion: half the 95% confidence interval;
/// Node: half the interquartile range): the Node harness's type serves both.
type Est = Time;

fn estimate(id: &str) -> Option<Est> {
    let path = root().join("target/criterion").join(id).join("new/estimates.json");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    let m = &json["median"];
    let median = m["point_estimate"].as_f64()?;
    let (lo, hi) = (
        m["confidence_interval"]["lower_bound"].as_f64()?,
        m["confidence_interval"]["upper_bound"].as_f64()?,
    );
    Some(Est { median, spread: (hi - lo) / 2.0 / median * 100.0 })
}

fn time(e: Option<Est>) -> String {
    match e {
        None => "–".into(),
        Some(e) if e.median >= 1e6 => format!("{:.2} ms (±{:.1}%)", e.median / 1e6, e.spread),
        Some(e) if e.median >= 1e3 => format!("{:.2} µs (±{:.1}%)", e.median / 1e3, e.spread),
        Some(e) => format!("{:.1} ns (±{:.1}%)", e.median, e.spread),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "–".into(),
    }
}

fn med(x: Option<Est>) -> Option<f64> {
    x.map(|e| e.median)
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

/// The table's rows: a figure and five cells (floor, ours, Go, ours / floor, Go / ours).
#[derive(Default)]
struct Table(String);

impl Table {
    fn row(&mut self, figure: &str, cells: [String; 5]) {
        let _ = writeln!(self.0, "| {figure} | {} |", cells.join(" | "));
    }

    /// A time for each guest; the ratios from the medians.
    fn timed(&mut self, figure: &str, [floor, ours, go]: [Option<Est>; 3]) {
        let (f, o, g) = (med(floor), med(ours), med(go));
        self.row(figure, [time(floor), time(ours), time(go), ratio(o, f), ratio(g, o)]);
    }

    /// A number for each guest, shown by `show`.
    fn counted(&mut self, figure: &str, show: impl Fn(f64) -> String, [f, o, g]: [Option<f64>; 3]) {
        let s = |x: Option<f64>| x.map_or("–".into(), &show);
        self.row(figure, [s(f), s(o), s(g), ratio(o, f), ratio(g, o)]);
    }
}

fn none() -> String {
    "–".into()
}

fn main() {
    let gs = guests();
    let engine = Engine::default();
    let node = Node::run(gs);
    let node = node.as_ref().map_err(|why| eprintln!("report: {why}")).ok();
    let js = |figure: &str, id: &str| node.and_then(|n| n.time(figure, id));

    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len() as f64).ok();
    let sizes = wasmexport_bench::sizes();
    let (raw_size, our_size) = (size(&gs.raw), size(&sizes.ours));
    let go_size = gs.go_add.as_deref().and_then(size);
    let (raw_small, our_small) = (size(&sizes.raw_small), size(&sizes.ours_small));
    let go_small = gs.go_add_stripped.as_deref().and_then(size);

    const PARKED: u32 = 100_000;
    let ours_mem = memory_after_parking(&engine, &gs.ours, PARKED);
    let go_mem = gs.go_tasks.as_deref().and_then(|p| memory_after_parking(&engine, p, PARKED));
    let per_task = |m: Option<(usize, usize)>| m.map(|(a, b)| (b - a) as f64 / f64::from(PARKED));

    let e = estimate;
    let add = [e("add/raw"), e("add/wasmexport"), e("add/go")];
    let add_v8 = [js("add", "raw"), js("add", "ours"), js("add", "go")];
    let rt = [e("roundtrip/floor"), e("roundtrip/wasmexport"), e("roundtrip/go")];
    let rt_v8 = [js("roundtrip", "floor"), js("roundtrip", "ours"), js("roundtrip", "go")];
    let oneshot = [None, e("roundtrip_oneshot/wasmexport"), e("roundtrip/go")];
    let oneshot_v8 = [None, js("roundtrip_oneshot", "ours"), js("roundtrip", "go")];
    let inst = [e("instantiate/raw"), e("instantiate/wasmexport"), e("instantiate/go")];
    let inst_wasi = ["raw", "ours", "go"].map(|id| js("instantiate_wasi", id));
    let inst_stubs = ["raw", "ours", "go"].map(|id| js("instantiate_stubs", id));
    let tps = |x: Option<Est>| x.map(|e| 1000.0 / (e.median / 1e9));
    let (sp_ours, sp_go) = (e("spawn_1000/wasmexport"), e("spawn_1000/go"));
    let (parked0, parked100k) = (e("add_with_parked/0"), e("add_with_parked/100000"));
    let (many100k, many200k) = (e("spawn_many/100000"), e("spawn_many/200000"));

    let ops = |p: Option<&Path>, name: &str| -> Option<f64> {
        let p = p?;
        let n = if name == "add" {
            ops_per_call::<(i32, i32), i32>(p, name, (1, 2))
        } else {
            ops_per_call::<i32, i32>(p, name, 41)
        };
        n.ok().map(|n| n as f64)
    };
    let add_ops =
        [ops(Some(&gs.raw), "add"), ops(Some(&gs.ours), "add"), ops(gs.go_add.as_deref(), "add")];
    let rt_ops = [
        ops(Some(&gs.floor_tasks), "roundtrip"),
        ops(Some(&gs.ours), "roundtrip"),
        ops(gs.go_tasks.as_deref(), "roundtrip"),
    ];
    let oneshot_ops =
        [None, ops(Some(&gs.ours), "roundtrip_oneshot"), ops(gs.go_tasks.as_deref(), "roundtrip")];

    let mut t = Table(
        "| figure | floor (hand-written, no runtime) | `#[wasmexport]` | Go `//go:wasmexport` | ours / floor | Go / ours |\n|---|---|---|---|---|---|\n"
            .into(),
    );
    let n = |x: f64| format!("{x:.0}");
    t.timed("`add(i32, i32)`, wasmtime", add);
    t.timed("`add(i32, i32)`, V8", add_v8);
    t.counted("`add`, wasm instructions per call (wasmtime fuel)", n, add_ops);
    t.timed("round trip: `spawn(async move { x + 1 }).await` in an async export, wasmtime", rt);
    t.timed("round trip, V8", rt_v8);
    t.counted("round trip, wasm instructions per call", n, rt_ops);
    t.timed("round trip through a `futures` oneshot and a detached task, wasmtime", oneshot);
    t.timed("oneshot round trip, V8", oneshot_v8);
    t.counted("oneshot round trip, wasm instructions per call", n, oneshot_ops);
    t.timed("instantiate + `_initialize`, wasmtime", inst);
    t.timed("instantiate + `wasi.initialize`, V8, `node:wasi` imports", inst_wasi);
    t.timed("instantiate + `_initialize`, V8, every import a JS function", inst_stubs);
    let imports = ["raw", "ours", "go_add"].map(|id| node.map(|n| n.imports(id).len() as f64));
    t.counted("WASI functions imported", n, imports);
    let kb = |b: f64| format!("{:.1} KiB ({b:.0} B)", b / 1024.0);
    t.counted(
        "module size, one `add` export, default release profile",
        kb,
        [raw_size, our_size, go_size],
    );
    t.counted(
        "module size, release tuned for size (Rust: `opt-level = \"z\"`, LTO, 1 codegen unit, \
         `strip`; Go: `-ldflags=\"-s -w\"`)",
        kb,
        [raw_small, our_small, go_small],
    );
    let mem = |m: Option<(usize, usize)>| {
        m.map_or("–".into(), |(a, b)| {
            format!("{:.1} MiB → {:.1} MiB", a as f64 / 1048576.0, b as f64 / 1048576.0)
        })
    };
    t.row(
        "linear memory, parking 100,000 tasks",
        [none(), mem(ours_mem), mem(go_mem), none(), none()],
    );
    let (ours_task, go_task) = (per_task(ours_mem), per_task(go_mem));
    t.counted("memory per parked task", |b| format!("{b:.0} B"), [None, ours_task, go_task]);
    let rate = |x: Option<f64>| x.map_or("–".into(), |r| format!("{:.2} M/s", r / 1e6));
    t.row(
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
    t.row("`add` with 100,000 tasks parked vs none", versus(parked100k, parked0));
    t.row("one call spawning and awaiting 200,000 vs 100,000 tasks", versus(many200k, many100k));

    let imports_table = node.map(import_costs).unwrap_or_default();

    let goal = |ok: Option<bool>| match ok {
        Some(true) => "holds",
        Some(false) => "missed",
        None => "not measured",
    };
    let within = |a: Option<f64>, b: Option<f64>, times: f64| a.zip(b).map(|(a, b)| a <= times * b);
    let [add_f, add_o, _] = add.map(med);
    let [add_v8_f, add_v8_o, _] = add_v8.map(med);
    let [rt_f, rt_o, rt_g] = rt.map(med);
    let [rt_v8_f, rt_v8_o, rt_v8_g] = rt_v8.map(med);
    let mut g = String::new();
    let mut goal_line = |text: &str, results: &[(&str, Option<bool>)]| {
        let results: Vec<_> =
            results.iter().map(|(on, ok)| format!("{on}: {}", goal(*ok))).collect();
        let _ = writeln!(g, "- {text}: {}", results.join("; "));
    };
    goal_line(
        "sync `add` at most 1.05x the floor",
        &[("wasmtime", within(add_o, add_f, 1.05)), ("V8", within(add_v8_o, add_v8_f, 1.05))],
    );
    goal_line(
        &format!(
            "`add` at most 6 wasm instructions per call ({} now)",
            add_ops[1].map_or(none(), n)
        ),
        &[("instructions", add_ops[1].map(|o| o <= 6.0))],
    );
    goal_line(
        "background-task round trip at most 2x the floor",
        &[
            ("instructions", within(rt_ops[1], rt_ops[0], 2.0)),
            ("wasmtime", within(rt_o, rt_f, 2.0)),
            ("V8", within(rt_v8_o, rt_v8_f, 2.0)),
        ],
    );
    goal_line(
        "background-task round trip at least 20x faster than Go's",
        &[
            ("wasmtime", within(rt_o, rt_g, 1.0 / 20.0)),
            ("V8", within(rt_v8_o, rt_v8_g, 1.0 / 20.0)),
        ],
    );
    goal_line(
        "module at least 50x smaller than Go's",
        &[
            ("default release profile", within(our_size, go_size, 1.0 / 50.0)),
            ("tuned for size", within(our_small, go_small, 1.0 / 50.0)),
        ],
    );
    goal_line(
        "instantiate + `_initialize` at least 10x faster than Go's",
        &[
            ("wasmtime", within(med(inst[1]), med(inst[2]), 0.1)),
            ("V8 with `node:wasi`", within(med(inst_wasi[1]), med(inst_wasi[2]), 0.1)),
        ],
    );
    goal_line(
        "memory per parked task at most 1/20 of a goroutine's",
        &[("wasmtime", within(ours_task, go_task, 1.0 / 20.0))],
    );
    goal_line(
        "100,000 parked tasks cost a call at most 10%",
        &[("wasmtime", within(med(parked100k), med(parked0), 1.10))],
    );
    goal_line(
        "spawned tasks cost linearly: 200,000 take at most 2.2x the time of 100,000",
        &[("wasmtime", within(med(many200k), med(many100k), 2.2))],
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
    let engines = node.map_or("no V8 figures (see the report's stderr)".into(), Node::version);
    let report = format!(
        "{}\n{imports_table}Goals (ratios from this run):\n{g}\nMachine: {cpu}, {cores} cores. Toolchains: {rustc}; wasmtime 48 (cranelift, default config); {engines}; {}.\nwasmtime: medians of criterion samples, ± half the 95% confidence interval. V8: medians of 11 samples, ± half the interquartile range.\n",
        t.0, gs.go_note
    );
    print!("{report}");
    let _ = std::fs::write(root().join("target/bench/report.md"), &report);
}

/// What each WASI import costs an instantiation under Node, and which modules import it.
fn import_costs(node: &Node) -> String {
    let modules =
        [("floor", "raw"), ("round-trip floor", "floor"), ("ours", "ours"), ("Go", "go_add")];
    let mut names: Vec<String> = modules.iter().flat_map(|(_, id)| node.imports(id)).collect();
    names.sort();
    names.dedup();
    let mut t = String::from(
        "| WASI import | adds to an instantiation under Node, from `node:wasi` | imported by |\n|---|---|---|\n",
    );
    let us = |ns: f64| format!("{:.1} µs", ns / 1e3);
    for name in &names {
        let by: Vec<_> = modules
            .iter()
            .filter(|(_, id)| node.imports(id).contains(name))
            .map(|(m, _)| *m)
            .collect();
        let wasi = node.import_cost(name).map_or(none(), |(w, _)| us(w));
        let _ = writeln!(t, "| `{name}` | {wasi} | {} |", by.join(", "));
    }
    let floor = node.imports("raw");
    let added: Vec<_> = node
        .imports("ours")
        .into_iter()
        .filter(|n| !floor.contains(n))
        .map(|n| format!("`{n}`"))
        .collect();
    let stub =
        names.iter().filter_map(|n| node.import_cost(n)).map(|(_, js)| js).fold(0.0, f64::max);
    let _ = writeln!(
        t,
        "\nThe same imports as plain JS functions add at most {} each (noise). Imports \
         `#[wasmexport]` adds beyond the floor's: {}.\n",
        us(stub),
        added.join(", ")
    );
    t
}
