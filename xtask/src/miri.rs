//! `cargo xtask test`'s Miri step: the runtime's unit tests (`-p wasmexport --lib`), the
//! executor's model-based test among them with a few programs, under Miri with Tree Borrows,
//! so that the runtime's unsafe code (tasks, wakers, the pool, slice parameters) is checked
//! for undefined behaviour on every run.
//!
//! Miri is a component of the nightly toolchain only. Where the machine has no nightly, the
//! step says so (`xtask: SKIPPED Miri: ...`) and the tests go on; where nightly lacks the
//! component, it is installed (announced first), and skipped likewise if that fails.

use super::{Result, install, root, run};
use std::process::Command;

/// Programs of the executor's model-based test under Miri, after the failures it keeps: a
/// program takes 3 to 60 s there (natively, milliseconds). With 12, the unit tests took 5.5
/// minutes on a busy 2-core machine; with 6, 3.5 (the model alone 1.5 to 2.5); 4 keep the
/// step near 3 minutes, within the CI's budget. Natively, `cargo test` runs 300 programs and
/// `cargo xtask fuzz` 200,000.
const MODEL_CASES: &str = "4";

/// The Miri flags:
///
/// * `-Zmiri-tree-borrows`: Tree Borrows, the aliasing model meant to replace Stacked Borrows,
///   as the rules the unsafe code is written to.
/// * `-Zmiri-strict-provenance`: no pointer is made from a bare integer (a call's waker carries
///   its id as an address without provenance, never dereferenced).
/// * `-Zmiri-ignore-leaks`: tasks still alive when a host thread ends are never freed (the
///   executor's per-thread queue has no destructor; on wasm32 the one thread lasts as long as
///   the instance, whose memory goes with it). Two unit tests end their thread so: one keeps a
///   task that never completes, one spawns a task from a drop after its call has returned. The
///   tests also leak a few values on purpose, for `&'static` references (`Box::leak`,
///   `String::leak`). The runtime's own caches are freed: a thread's pool hands its blocks back.
/// * `-Zmiri-disable-isolation`: the model-based test reads its count of programs from the
///   environment and the failures it keeps from `runtime/proptest-regressions` (proptest finds
///   the file from the current directory), which an isolated program cannot. The unit tests'
///   timers run on a fake clock, so the host's clock, which isolation would hide, does not
///   make them vary.
const MIRIFLAGS: &str = "-Zmiri-tree-borrows -Zmiri-strict-provenance -Zmiri-ignore-leaks \
                         -Zmiri-disable-isolation";

/// Runs the runtime's unit tests under Miri, or says why it cannot.
pub fn test() -> Result {
    let nightly = |args: &[&str]| {
        Command::new("rustup").args(["run", "nightly"]).args(args).current_dir(root()).output()
    };
    if !nightly(&["rustc", "--version"]).is_ok_and(|o| o.status.success()) {
        eprintln!(
            "xtask: SKIPPED Miri: no nightly toolchain (`rustup run nightly rustc` fails); Miri \
             comes with nightly only: rustup toolchain install nightly --component miri"
        );
        return Ok(());
    }
    let installed = Command::new("rustup")
        .args(["component", "list", "--toolchain", "nightly", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let has = |component: &str| installed.lines().any(|l| l.starts_with(component));
    if !(has("miri") && has("rust-src")) {
        let added = install(
            "the nightly toolchain's miri and rust-src components",
            "the Miri step of the tests",
            Command::new("rustup").args([
                "component",
                "add",
                "miri",
                "rust-src",
                "--toolchain",
                "nightly",
            ]),
        );
        if let Err(e) = added {
            eprintln!("xtask: SKIPPED Miri: the nightly toolchain lacks miri, and {e}");
            return Ok(());
        }
    }
    run(
        "Miri: its standard library, built once (cargo +nightly miri setup)",
        miri_cargo().args(["miri", "setup"]),
    )?;
    run(
        &format!(
            "Miri (MIRIFLAGS={MIRIFLAGS}): the runtime's unit tests, the executor's model-based \
             test with {MODEL_CASES} programs"
        ),
        miri_cargo()
            .args(["miri", "test", "-p", "wasmexport", "--lib", "--target-dir", "target/miri"])
            .env("MIRIFLAGS", MIRIFLAGS)
            .env("WASMEXPORT_FUZZ_CASES", MODEL_CASES),
    )
}

/// `cargo` of the nightly toolchain, in the workspace, without the variables of the pinned
/// toolchain's cargo that runs the xtask.
fn miri_cargo() -> Command {
    let mut cmd = Command::new("rustup");
    cmd.args(["run", "nightly", "cargo"]).current_dir(root());
    for var in ["CARGO", "RUSTC", "RUSTDOC", "RUSTUP_TOOLCHAIN", "CARGO_TARGET_DIR"] {
        cmd.env_remove(var);
    }
    cmd
}
