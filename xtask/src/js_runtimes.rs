//! The JavaScript host library (hosts/js) under Bun and Deno, in `cargo xtask test`: both
//! runtimes come from the npm registry (each ships its binary in a platform package, such as
//! `@oven/bun-linux-x64` and `@deno/linux-x64-glibc`), installed into `target/js-runtimes` with
//! scripts off, and run the same `node:test` files as Node (`bun test`, `deno test`) on the
//! guest that `cargo xtask test` builds into target/hosts-js. Each run is bounded in time.

use super::{Result, install, root, run_in_group};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const BUN: &str = "1.4.4";
const DENO: &str = "2.9.6";
const DIR: &str = "target/js-runtimes";
const GUEST: &str = "target/hosts-js/wasm32-wasip1/release/hostjs_guest.wasm";
/// A healthy run takes seconds; a hang is cut off here rather than at CI's limit.
const LIMIT: Duration = Duration::from_secs(120);

/// Installs Bun and Deno when missing, then runs hosts/js/test under each.
pub fn test() -> Result {
    let (bun, deno) = runtimes()?;
    // Deno's permissions match paths as given: no `xtask/..` in them.
    let root = root().canonicalize().map_err(|e| format!("the repository's root: {e}"))?;
    let deno = deno.canonicalize().map_err(|e| format!("{}: {e}", deno.display()))?;
    let dir = root.join(DIR);
    // The tests' scratch files (the guest's stderr, the child scripts) go here, not in /tmp:
    // Deno may write there and nowhere else.
    let tmp = dir.join("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| format!("creating {}: {e}", tmp.display()))?;
    let guest = root.join(GUEST);

    let mut cmd = Command::new(&bun);
    cmd.current_dir(root.join("hosts/js"))
        .args(["test", "--timeout", "60000", "./test/"])
        .env("TMPDIR", &tmp)
        .env("HOSTJS_GUEST_WASM", &guest);
    run_in_group(
        &format!("bun test hosts/js/test (the JavaScript host library under Bun {BUN})"),
        &mut cmd,
        Some(LIMIT),
    )?;

    // Only what the tests need: reading the library, its tests and the guest; the scratch
    // directory; the environment (child_process copies it); a loopback server; Deno itself,
    // for the child processes of the keep-alive tests.
    let read = [root.join("hosts/js"), guest.clone(), tmp.clone()];
    let read = read.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(",");
    let mut cmd = Command::new(&deno);
    cmd.current_dir(&root)
        .arg("test")
        .arg(format!("--allow-read={read}"))
        .arg(format!("--allow-write={}", tmp.display()))
        .args(["--allow-env", "--allow-net=127.0.0.1", "--no-prompt"])
        .arg(format!("--allow-run={}", deno.display()))
        .arg("hosts/js/test/")
        .env("TMPDIR", &tmp)
        .env("HOSTJS_GUEST_WASM", &guest)
        .env("DENO_DIR", dir.join("deno-dir"))
        .env("DENO_NO_UPDATE_CHECK", "1")
        // Cargo sets LD_LIBRARY_PATH for what it runs, and Deno lets a subprocess inherit that
        // (or LD_PRELOAD) only under a blanket --allow-run.
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("LD_PRELOAD");
    run_in_group(
        &format!("deno test hosts/js/test (the JavaScript host library under Deno {DENO})"),
        &mut cmd,
        Some(LIMIT),
    )
}

/// The Bun and Deno binaries of the pinned versions in target/js-runtimes, installed there
/// with npm when either is missing. The packages' postinstall scripts are not run (they only
/// put the binary in place of the `bin` entry, and Bun's downloads a platform package itself
/// when npm installed none): the binaries are taken from the platform packages that npm
/// installs as optional dependencies.
fn runtimes() -> Result<(PathBuf, PathBuf)> {
    let dir = root().join(DIR);
    let found =
        || Some((binary(&dir, "@oven", "bin/bun", BUN)?, binary(&dir, "@deno", "deno", DENO)?));
    if let Some(found) = found() {
        return Ok(found);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {DIR}: {e}"))?;
    install(
        &format!("Bun {BUN} and Deno {DENO} from npm into {DIR}"),
        "hosts/js is tested under Bun and Deno too",
        Command::new("npm")
            .current_dir(root())
            .args(["install", "--prefix", DIR, "--no-audit", "--no-fund", "--ignore-scripts"])
            .args(["--save-exact", &format!("bun@{BUN}"), &format!("deno@{DENO}")]),
    )
    .map_err(|e| format!("{e} (Bun and Deno are installed with npm, which comes with Node)"))?;
    found().ok_or_else(|| {
        format!(
            "npm installed bun@{BUN} and deno@{DENO} into {DIR}, but no platform package of \
             either has a binary of that version that runs here"
        )
    })
}

/// The binary at `file` in one of the `scope`'s platform packages under `dir`'s node_modules
/// whose `--version` names `version`.
fn binary(dir: &Path, scope: &str, file: &str, version: &str) -> Option<PathBuf> {
    let packages = std::fs::read_dir(dir.join("node_modules").join(scope)).ok()?;
    packages.filter_map(|p| Some(p.ok()?.path().join(file))).find(|bin| {
        Command::new(bin).arg("--version").output().is_ok_and(|o| {
            let out = String::from_utf8_lossy(&o.stdout);
            o.status.success() && out.split_whitespace().any(|w| w == version)
        })
    })
}

/// This step alone, on the guest `cargo xtask test` built:
/// `cargo test -p xtask -- --ignored --nocapture js_runtimes`.
#[cfg(test)]
mod tests {
    #[test]
    #[ignore = "installs Bun and Deno and runs hosts/js/test under them; part of cargo xtask test"]
    fn js_runtimes() {
        super::test().unwrap();
    }
}
