//! The wasm32-unknown-unknown reactors (no WASI), in `cargo xtask test`: the target (added
//! with rustup before the workspace's tests, whose `tests/engine/tests/unknown.rs` builds the
//! guest), lints of the runtime and of `tests/unknown` for that target, the guest under Node's
//! plain `WebAssembly.instantiate`, and in headless Chromium (Debian's `chromium`, driven by
//! `playwright-core` from `tests/unknown/browser/package-lock.json`); and the size of `add`
//! alone, tuned for size.

use crate::{cargo, install, root, run};
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-unknown-unknown";
const MANIFEST: &str = "tests/unknown/Cargo.toml";
const TARGET_DIR: &str = "target/unknown";

/// `rustup target add wasm32-unknown-unknown` when the pinned toolchain lacks it, announced.
pub fn ensure_target() -> crate::Result {
    crate::ensure_target(TARGET, "the reactors without WASI in tests/unknown")
}

/// The guest workspace's cargo command for the target, into `target/unknown`.
fn guest_cargo(subcommand: &str) -> Command {
    let mut cmd = cargo();
    cmd.args([subcommand, "--target", TARGET, "--manifest-path", MANIFEST]);
    cmd.args(["--target-dir", TARGET_DIR]);
    cmd
}

/// Everything of the no-WASI build but the wasmtime test (which `cargo test --workspace` runs).
pub fn test(node: &str) -> crate::Result {
    ensure_target()?;
    // Its own packages only: `--all` would take in the path dependencies' workspace too, which
    // the root's `cargo fmt --all --check` covers.
    run(
        "cargo fmt --check (tests/unknown)",
        cargo()
            .args(["fmt", "--check", "--manifest-path", MANIFEST, "-p", "unknown-guest", "-p"])
            .arg("add"),
    )?;
    run(
        "cargo clippy -p wasmexport --target wasm32-unknown-unknown",
        cargo().args(["clippy", "-p", "wasmexport", "--target", TARGET, "--", "-D", "warnings"]),
    )?;
    run(
        "cargo clippy --target wasm32-unknown-unknown (tests/unknown)",
        guest_cargo("clippy").args(["--release", "--", "-D", "warnings"]),
    )?;
    run("build tests/unknown for wasm32-unknown-unknown", guest_cargo("build").arg("--release"))?;
    let wasm = root().join(TARGET_DIR).join(TARGET).join("release/unknown_guest.wasm");
    run(
        "node --test tests/unknown (plain WebAssembly.instantiate, no WASI)",
        Command::new(node)
            .current_dir(root())
            .args(["--no-warnings", "--test", "tests/unknown/unknown.test.mjs"])
            .env("WASMEXPORT_UNKNOWN_WASM", &wasm),
    )?;
    size()?;
    browser(node, &wasm)
}

/// Builds `add` alone in the `small` profile and says its size (bench/README.md has the figure).
fn size() -> crate::Result {
    run(
        "build tests/unknown/add for wasm32-unknown-unknown, tuned for size",
        guest_cargo("build").args(["--profile", "small", "-p", "add"]),
    )?;
    let add = root().join(TARGET_DIR).join(TARGET).join("small/add.wasm");
    let len = std::fs::metadata(&add).map_err(|e| format!("{}: {e}", add.display()))?.len();
    eprintln!("xtask: `add` alone on wasm32-unknown-unknown, tuned for size: {len} bytes");
    Ok(())
}

/// Debian's Chromium (installed with apt-get when missing, or skipped, saying so, where apt
/// cannot install it), `playwright-core` from the lockfile, then the browser test.
fn browser(node: &str, wasm: &Path) -> crate::Result {
    let Some(chromium) = chromium()? else {
        eprintln!(
            "xtask: SKIPPED the headless Chromium test of tests/unknown: apt-get could not install \
             Debian's chromium package (not root, or no such package here)"
        );
        return Ok(());
    };
    let dir = root().join("tests/unknown/browser");
    eprintln!(
        "xtask: installing playwright-core (drives headless Chromium for tests/unknown/browser) \
         from tests/unknown/browser/package-lock.json into tests/unknown/browser/node_modules"
    );
    run(
        "npm ci (tests/unknown/browser)",
        Command::new("npm").current_dir(&dir).args(["ci", "--no-audit", "--no-fund"]),
    )
    .map_err(|e| format!("{e} (the browser test needs npm, which comes with Node)"))?;
    run(
        "node --test tests/unknown/browser (headless Chromium, hosts/js, no WASI)",
        Command::new(node)
            .current_dir(root())
            .args(["--no-warnings", "--test", "tests/unknown/browser/browser.test.mjs"])
            .env("WASMEXPORT_UNKNOWN_WASM", wasm)
            .env("CHROMIUM", &chromium),
    )
}

/// `/usr/bin/chromium`, installed with apt-get (announced) when missing; `None` where apt-get
/// cannot install it.
fn chromium() -> crate::Result<Option<PathBuf>> {
    let path = PathBuf::from("/usr/bin/chromium");
    if path.exists() {
        return Ok(Some(path));
    }
    let why = "the browser test of tests/unknown";
    let installed = install("the package lists", why, Command::new("apt-get").arg("update"))
        .and_then(|()| {
            install("Chromium", why, Command::new("apt-get").args(["install", "-y", "chromium"]))
        });
    if let Err(e) = installed {
        eprintln!("xtask: {e}");
        return Ok(None);
    }
    Ok(path.exists().then_some(path))
}
