//! `cargo xtask demo | test | bench`: the project's one entry point. Each command installs what
//! it needs first (the wasm32-wasip1 target), so a fresh clone needs only rustup.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  demo    build the example plugin for wasm32-wasip1 and run it in the wasmtime host
  test    everything CI runs: fmt, clippy, unit, ui, doc and engine tests, docs
  bench   wasmexport vs hand-written floors and Go's go:wasmexport, on wasmtime and on V8
          (Node): a Markdown table (--readme: also put it into README.md between the markers)
  fuzz    the macro fuzz targets, long: WASMEXPORT_FUZZ_CASES cases each (default 200,000)
  wasm    build the guest workspaces for wasm32-wasip1 (what the tests build themselves)";

fn main() -> ExitCode {
    let task = std::env::args().nth(1);
    let result = match task.as_deref() {
        Some("demo") => demo(),
        Some("test") => test(),
        Some("bench") => bench(std::env::args().nth(2).as_deref() == Some("--readme")),
        Some("fuzz") => fuzz(),
        Some("wasm") => ensure_wasm_target().and_then(|()| build_guests()),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T = ()> = std::result::Result<T, String>;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

/// Runs `cmd`, echoing it, and fails with its name if it fails.
fn run(what: &str, cmd: &mut Command) -> Result {
    let start = Instant::now();
    eprintln!("xtask: {what}");
    let status = cmd.status().map_err(|e| format!("{what}: cannot start: {e}"))?;
    if !status.success() {
        return Err(format!("{what}: failed ({status})"));
    }
    eprintln!("xtask: {what}: ok in {:.1}s", start.elapsed().as_secs_f64());
    Ok(())
}

/// rustup 1.29 does not add `targets` from rust-toolchain.toml to a toolchain that is already
/// installed, so check for wasm32-wasip1 and add it when it is missing.
fn ensure_wasm_target() -> Result {
    let out = Command::new("rustc")
        .current_dir(root())
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("cannot run rustc: {e}"))?;
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if Path::new(&sysroot).join("lib/rustlib/wasm32-wasip1").is_dir() {
        return Ok(());
    }
    run(
        "rustup target add wasm32-wasip1",
        Command::new("rustup").current_dir(root()).args(["target", "add", "wasm32-wasip1"]),
    )
}

/// The wasm guest workspaces, each built into `target/wasm`.
const GUEST_MANIFESTS: &[&str] =
    &["tests/guests/Cargo.toml", "tests/commands/Cargo.toml", "examples/plugin/guest/Cargo.toml"];

fn wasm_cargo(subcommand: &str, manifest: &str) -> Command {
    let mut cmd = cargo();
    cmd.args([subcommand, "--release", "--target", "wasm32-wasip1", "--manifest-path", manifest]);
    cmd.args(["--target-dir", "target/wasm"]);
    cmd
}

fn build_guests() -> Result {
    for manifest in GUEST_MANIFESTS {
        run(&format!("build {manifest} for wasm32-wasip1"), &mut wasm_cargo("build", manifest))?;
    }
    Ok(())
}

fn demo() -> Result {
    ensure_wasm_target()?;
    let manifest = "examples/plugin/guest/Cargo.toml";
    run("build the plugin for wasm32-wasip1", &mut wasm_cargo("build", manifest))?;
    let plugin = root().join("target/wasm/wasm32-wasip1/release/plugin.wasm");
    run(
        "run the plugin in the wasmtime host",
        cargo().args(["run", "--quiet", "--release", "-p", "plugin-host", "--"]).arg(plugin),
    )
}

fn test() -> Result {
    ensure_wasm_target()?;
    run("cargo fmt --check", cargo().args(["fmt", "--all", "--check"]))?;
    for manifest in GUEST_MANIFESTS.iter().chain(&["tests/fixtures/names/Cargo.toml"]) {
        run(
            &format!("cargo fmt --check ({manifest})"),
            cargo().args(["fmt", "--all", "--check", "--manifest-path", manifest]),
        )?;
    }
    run(
        "cargo clippy (host workspace)",
        cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]),
    )?;
    // The runtime's wasm-only code (traps, fd_write, `_initialize`), reactor and command.
    for features in ["", "command"] {
        run(
            &format!("cargo clippy -p wasmexport --target wasm32-wasip1 (features: {features:?})"),
            cargo().args(["clippy", "-p", "wasmexport", "--target", "wasm32-wasip1"]).args([
                "--features",
                features,
                "--",
                "-D",
                "warnings",
            ]),
        )?;
    }
    // The guests show that generated code leaks no lints onto users' crates.
    for manifest in GUEST_MANIFESTS {
        let mut cmd = wasm_cargo("clippy", manifest);
        cmd.args(["--", "-D", "warnings"]);
        run(&format!("cargo clippy --target wasm32-wasip1 ({manifest})"), &mut cmd)?;
    }
    run(
        "cargo doc (no warnings)",
        cargo().args(["doc", "--workspace", "--no-deps"]).env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    run(
        "cargo test (unit, ui, doc and wasmtime engine tests)",
        cargo().args(["test", "--workspace", "--", "--skip", "fuzz::"]),
    )?;
    run(
        "macro fuzz targets, bounded (WASMEXPORT_FUZZ_CASES, default 10,000 each)",
        cargo().args(["test", "-p", "wasmexport-macros", "fuzz::", "--", "--nocapture"]),
    )?;
    run(
        "the benchmarks, once each (no timing; Go left out)",
        cargo()
            .args(["test", "-p", "wasmexport-bench", "--benches"])
            .env("WASMEXPORT_BENCH_NO_GO", "1"),
    )?;
    build_guests()?;
    let node = find_node()?;
    run(
        "node --test tests/node (the guests under node:wasi)",
        Command::new(node)
            .current_dir(root())
            .args(["--no-warnings", "--test", "tests/node/"])
            .env("WASMEXPORT_WASM_DIR", root().join("target/wasm")),
    )?;
    Ok(())
}

/// The fuzz targets of the macros (macros/src/fuzz.rs), optimized, with 200,000 cases each
/// unless WASMEXPORT_FUZZ_CASES says otherwise; prints the inputs tried per target.
fn fuzz() -> Result {
    let cases = std::env::var("WASMEXPORT_FUZZ_CASES").unwrap_or_else(|_| "200000".into());
    run(
        &format!("macro fuzz targets, {cases} cases each"),
        cargo()
            .args(["test", "--release", "-p", "wasmexport-macros", "fuzz", "--", "--nocapture"])
            .env("WASMEXPORT_FUZZ_CASES", &cases),
    )
}

/// Runs the criterion benchmarks, then prints the table (also in target/bench/report.md).
fn bench(readme: bool) -> Result {
    ensure_wasm_target()?;
    // The V8 figures need node; without it the report leaves them out and says why.
    if let Err(e) = find_node() {
        eprintln!("xtask: {e}");
    }
    run(
        "cargo bench (criterion, wasmtime, release)",
        cargo().args(["bench", "-p", "wasmexport-bench", "--bench", "calls"]),
    )?;
    run(
        "the report",
        cargo().args([
            "run",
            "--quiet",
            "--release",
            "-p",
            "wasmexport-bench",
            "--example",
            "report",
        ]),
    )?;
    if readme {
        let report = std::fs::read_to_string(root().join("target/bench/report.md"))
            .map_err(|e| format!("reading target/bench/report.md: {e}"))?;
        let path = root().join("README.md");
        let text = std::fs::read_to_string(&path).map_err(|e| format!("reading README.md: {e}"))?;
        let (start, end) = ("<!-- bench:start -->\n", "<!-- bench:end -->");
        let (Some(a), Some(b)) = (text.find(start), text.find(end)) else {
            return Err("README.md has no <!-- bench:start --> / <!-- bench:end --> markers".into());
        };
        let updated = format!("{}{start}{}\n\n{}", &text[..a], report.trim_end(), &text[b..]);
        std::fs::write(&path, updated).map_err(|e| format!("writing README.md: {e}"))?;
        println!("xtask: README.md's benchmark table updated");
    }
    Ok(())
}

/// The machine's `node` (>= 20, for `node:wasi` with `version: 'preview1'`). CI machines start
/// from a fresh image: where node is missing and we are root, install Debian's `nodejs`.
fn find_node() -> Result<String> {
    let works = || {
        Command::new("node")
            .arg("--version")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    if works().is_none() {
        eprintln!(
            "xtask: node not found; trying `apt-get install nodejs` (the Node WASI tests need it)"
        );
        let _ = Command::new("apt-get").arg("update").status();
        let _ = Command::new("apt-get").args(["install", "-y", "nodejs"]).status();
    }
    let version = works().ok_or(
        "node is not installed and could not be installed: the Node WASI tests need node >= 20 \
         (apt-get install nodejs)",
    )?;
    let major: u32 =
        version.trim_start_matches('v').split('.').next().unwrap_or("0").parse().unwrap_or(0);
    if major < 20 {
        return Err(format!("node {version} is too old: the Node WASI tests need node >= 20"));
    }
    Ok("node".to_string())
}
