//! The demo's decisions on the bundled log, checked against an independent model of the rules
//! in plugin.conf and clients.tsv; and the host's one-line errors.

use plugin_host::{BLOCKED, Decision, Outcome, PREMIUM, Plugin, STANDARD, parse_directory};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use wasmexport_engine_tests::build_guests;

fn data(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(file)
}

fn plugin_wasm() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = build_guests(&data("guest/Cargo.toml")).unwrap_or_else(|e| panic!("{e:#}"));
        dir.join("plugin.wasm")
    })
    .clone()
}

/// What plugin.conf says, applied by hand: no refill happens while the log runs (the refill
/// interval is 2 s and the log takes milliseconds).
fn expected(requests: &str, directory: &HashMap<String, u32>) -> Vec<Outcome> {
    let mut buckets: HashMap<&str, u32> = HashMap::new();
    let deny = Outcome { decision: Decision::Deny, rewritten: None };
    requests
        .lines()
        .map(|line| {
            let [method, path, client] = line.split(' ').collect::<Vec<_>>()[..] else {
                return deny.clone();
            };
            if method == "TRACE" || path.starts_with("/admin") || path.starts_with("/.git") {
                return deny.clone();
            }
            let tier = directory.get(client).copied().unwrap_or(STANDARD);
            if tier == BLOCKED {
                return deny.clone();
            }
            let rewritten = path.strip_prefix("/v1/").map(|rest| format!("/api/{rest}"));
            let tokens = buckets.entry(client).or_insert(20);
            if tier == PREMIUM || *tokens > 0 {
                if tier != PREMIUM {
                    *tokens -= 1;
                }
                Outcome { decision: Decision::Allow, rewritten }
            } else {
                Outcome { decision: Decision::RateLimited, rewritten: None }
            }
        })
        .collect()
}

#[test]
fn decisions_on_the_bundled_log_follow_the_rules() {
    let config = std::fs::read_to_string(data("plugin.conf")).unwrap();
    let directory =
        parse_directory(&std::fs::read_to_string(data("clients.tsv")).unwrap()).unwrap();
    let requests = std::fs::read_to_string(data("requests.log")).unwrap();
    let engine = wasmtime::Engine::default();
    let mut plugin = Plugin::load(&engine, &plugin_wasm(), &config, directory.clone()).unwrap();
    let got: Vec<Outcome> = requests.lines().map(|r| plugin.on_request(r).unwrap()).collect();
    let want = expected(&requests, &directory);
    for (n, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "request {}: {}", n + 1, requests.lines().nth(n).unwrap());
    }
    assert_eq!(got.len(), want.len());
    let count = |d| want.iter().filter(|o| o.decision == d).count();
    assert!(
        count(Decision::Allow) > 0 && count(Decision::Deny) > 0 && count(Decision::RateLimited) > 0
    );

    // Every request past the deny rules looked its client up; each client missed the cache once.
    let state = plugin.state();
    let looked_up = requests
        .lines()
        .filter(|l| {
            let w: Vec<_> = l.split(' ').collect();
            w.len() == 3
                && w[0] != "TRACE"
                && !w[1].starts_with("/admin")
                && !w[1].starts_with("/.git")
        })
        .count() as u32;
    assert_eq!(state.cache_hits + state.cache_misses, looked_up);
    assert_eq!(state.cache_misses, 6, "alice bob carol dave eve mallory");
    assert!(
        state
            .logs
            .iter()
            .any(|(_, l)| l.starts_with("configured: 1 denied methods, 2 denied paths"))
    );
    assert!(state.logs.iter().any(|(_, l)| l.starts_with("malformed request denied")));
}

#[test]
fn refill_runs_only_when_the_plugin_is_entered() {
    let config = "limit 1 100\n";
    let mut plugin =
        Plugin::load(&wasmtime::Engine::default(), &plugin_wasm(), config, HashMap::new()).unwrap();
    assert_eq!(plugin.on_request("GET / zed").unwrap().decision, Decision::Allow);
    assert_eq!(plugin.on_request("GET / zed").unwrap().decision, Decision::RateLimited);
    std::thread::sleep(std::time::Duration::from_millis(250));
    // Two intervals passed, but a plain export runs no task: nothing refilled yet.
    assert_eq!(plugin.refills().unwrap(), 0);
    // Entering with a call that waits runs the due refill before the decision.
    assert_eq!(plugin.on_request("GET / zed").unwrap().decision, Decision::Allow);
    assert_eq!(plugin.refills().unwrap(), 1);
}

#[test]
fn a_request_that_is_not_utf8_traps_and_the_plugin_goes_on() {
    let mut plugin =
        Plugin::load(&wasmtime::Engine::default(), &plugin_wasm(), "", HashMap::new()).unwrap();
    let err = plugin.on_request_bytes(b"GET /\xff zed").unwrap_err();
    assert!(err.downcast_ref::<wasmtime::Trap>().is_some(), "{err:?}");
    // The `&str` parameter was refused before the call entered the plugin's runtime.
    assert_eq!(plugin.on_request("GET / zed").unwrap().decision, Decision::Allow);
}

fn host(plugin: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_plugin-host")).arg(plugin).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn wat_file(name: &str, wat: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).to_path_buf();
    let path = dir.join(name);
    std::fs::write(&path, wat::parse_str(wat).unwrap()).unwrap();
    path
}

#[test]
fn bad_plugins_get_one_clear_line_each() {
    let (ok, err) = host(Path::new("/no/such/plugin.wasm"));
    assert!(!ok);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("plugin-host: cannot read plugin /no/such/plugin.wasm"), "{err}");

    let command = wat_file(
        "command.wasm",
        r#"(module (memory (export "memory") 1) (func (export "_start")))"#,
    );
    let (ok, err) = host(&command);
    assert!(!ok);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(
            "is not a reactor: it has no _initialize export (it is a command with _start)"
        ),
        "{err}"
    );

    let trapping = wat_file(
        "trapping.wasm",
        r#"(module
            (memory (export "memory") 1)
            (func (export "_initialize"))
            (func (export "alloc") (param i32) (result i32) i32.const 16)
            (func (export "dealloc") (param i32 i32))
            (func (export "on_request") (param i32 i32) (result i64) unreachable)
            (func (export "rewrite_ptr") (result i32) i32.const 0)
            (func (export "refills") (result i32) i32.const 0))"#,
    );
    let (ok, err) = host(&trapping);
    assert!(!ok);
    assert!(err.starts_with("plugin-host: the plugin trapped on request 1"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
