//! The pending round trip under V8 (part of `cargo xtask bench`): a `#[wasmexport(pending)]`
//! export through hosts/js, against the same with wasm-bindgen (an `async fn` awaiting a
//! `JsFuture`) and against a plain JS `async` function; `bench/pending/bench.mjs` measures,
//! this builds the three and writes the table to `target/bench/pending.md`.

use super::{Result, cargo, find_node, install, root, run};
use std::path::PathBuf;
use std::process::Command;

const OURS: &str = "bench/pending/ours/Cargo.toml";
const WASM_BINDGEN: &str = "bench/pending/wasm-bindgen/Cargo.toml";
const TARGET_DIR: &str = "target/pending-bench";

/// Builds both guests, runs the benchmark and prints its table (also target/bench/pending.md).
pub fn bench() -> Result {
    let node = find_node()?;
    let ours = build_ours()?;
    let glue = build_wasm_bindgen()?;
    let what = "node bench/pending/bench.mjs (the pending round trip under V8)";
    eprintln!("xtask: {what}");
    let out = Command::new(node)
        .current_dir(root())
        .args(["--expose-gc", "--no-warnings", "bench/pending/bench.mjs"])
        .arg(&ours)
        .arg(&glue)
        .output()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what}: failed ({})\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let table = String::from_utf8_lossy(&out.stdout);
    println!("{table}");
    std::fs::create_dir_all(root().join("target/bench"))
        .map_err(|e| format!("creating target/bench: {e}"))?;
    std::fs::write(root().join("target/bench/pending.md"), table.as_bytes())
        .map_err(|e| format!("writing target/bench/pending.md: {e}"))?;
    eprintln!("xtask: the pending round-trip table is in target/bench/pending.md");
    Ok(())
}

fn build_ours() -> Result<PathBuf> {
    run(
        "build bench/pending/ours for wasm32-wasip1",
        cargo()
            .args(["build", "--release", "--target", "wasm32-wasip1", "--manifest-path", OURS])
            .args(["--target-dir", TARGET_DIR]),
    )?;
    Ok(root().join(TARGET_DIR).join("wasm32-wasip1/release/pending_bench_ours.wasm"))
}

/// Builds the wasm-bindgen guest for wasm32-unknown-unknown and runs `wasm-bindgen --target
/// nodejs` on it, with the CLI of exactly the version in its Cargo.lock (installed into
/// target/wasm-bindgen-cli when missing); returns the path of the JS glue.
fn build_wasm_bindgen() -> Result<PathBuf> {
    super::ensure_target(
        "wasm32-unknown-unknown",
        "the wasm-bindgen side of the pending round-trip benchmark",
    )?;
    run(
        "build bench/pending/wasm-bindgen for wasm32-unknown-unknown",
        cargo()
            .args(["build", "--release", "--target", "wasm32-unknown-unknown", "--manifest-path"])
            .args([WASM_BINDGEN, "--target-dir", TARGET_DIR]),
    )?;
    let cli = wasm_bindgen_cli()?;
    let built = root().join(TARGET_DIR);
    let wasm = built.join("wasm32-unknown-unknown/release/pending_bench_wasm_bindgen.wasm");
    let out_dir = built.join("wasm-bindgen-out");
    run(
        "wasm-bindgen --target nodejs (the wasm-bindgen guest's JS glue)",
        Command::new(&cli)
            .current_dir(root())
            .args(["--target", "nodejs", "--out-dir"])
            .arg(&out_dir)
            .arg(&wasm),
    )?;
    Ok(out_dir.join("pending_bench_wasm_bindgen.js"))
}

/// The `wasm-bindgen` CLI of exactly the version of the `wasm-bindgen` crate in the bench
/// crate's Cargo.lock (the CLI refuses a module built with another), installed with
/// `cargo install` into target/wasm-bindgen-cli when it is not there yet.
fn wasm_bindgen_cli() -> Result<PathBuf> {
    let lock_path = "bench/pending/wasm-bindgen/Cargo.lock";
    let lock = std::fs::read_to_string(root().join(lock_path))
        .map_err(|e| format!("reading {lock_path}: {e}"))?;
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains("\nname = \"wasm-bindgen\"\n"))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
        .map(|v| v.trim_matches('"').to_string())
        .ok_or_else(|| format!("{lock_path} has no wasm-bindgen package"))?;
    let root_dir = root().join("target/wasm-bindgen-cli");
    let cli = root_dir.join("bin/wasm-bindgen");
    let installed = Command::new(&cli)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if installed.as_deref() != Some(&format!("wasm-bindgen {version}")) {
        install(
            &format!("wasm-bindgen-cli {version} into target/wasm-bindgen-cli"),
            "the pending round-trip benchmark's wasm-bindgen side needs the CLI of exactly its \
             crate's version; compiling it takes minutes",
            Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .current_dir(root())
                .args(["install", "wasm-bindgen-cli", "--locked", "--version"])
                .arg(format!("={version}"))
                .arg("--root")
                .arg(&root_dir),
        )?;
    }
    Ok(cli)
}
