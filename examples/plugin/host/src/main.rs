//! `plugin-host PLUGIN.wasm [REQUESTS.log]`: runs the request filter plugin on a request log,
//! prints each decision and a summary, and exits non-zero if the plugin traps.

use plugin_host::{Decision, Plugin, parse_directory};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use wasmtime::error::Context as _;
use wasmtime::{Engine, Result};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(plugin) = args.next() else {
        eprintln!("usage: plugin-host PLUGIN.wasm [REQUESTS.log]");
        return ExitCode::FAILURE;
    };
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let log = args.next().map(PathBuf::from).unwrap_or_else(|| data.join("requests.log"));
    match run(Path::new(&plugin), &log, &data) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("plugin-host: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error's causes on one line, without the multi-line wasm backtrace a trap carries.
fn one_line(e: &wasmtime::Error) -> String {
    e.chain()
        .map(|cause| cause.to_string())
        .filter(|cause| !cause.starts_with("error while executing at wasm backtrace"))
        .map(|cause| cause.lines().next().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join(": ")
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn run(plugin: &Path, log: &Path, data: &Path) -> Result<()> {
    let config = read(&data.join("plugin.conf"))?;
    let directory = parse_directory(&read(&data.join("clients.tsv"))?)?;
    let requests = read(log)?;
    let engine = Engine::default();
    let mut plugin = Plugin::load(&engine, plugin, &config, directory)?;
    for (_, line) in &plugin.state().logs {
        println!("plugin: {line}");
    }
    plugin.echo_logs(true);

    let mut counts: BTreeMap<Decision, u32> = BTreeMap::new();
    let mut limited: BTreeMap<String, u32> = BTreeMap::new();
    let mut latencies = Vec::new();
    for (n, request) in requests.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let start = Instant::now();
        let outcome = plugin
            .on_request(request)
            .with_context(|| format!("the plugin trapped on request {} ({request:?})", n + 1))?;
        latencies.push(start.elapsed());
        *counts.entry(outcome.decision).or_default() += 1;
        if outcome.decision == Decision::RateLimited {
            let client = request.rsplit(' ').next().unwrap_or_default().to_string();
            *limited.entry(client).or_default() += 1;
        }
        let rewritten = outcome.rewritten.map(|p| format!(" -> {p}")).unwrap_or_default();
        println!("{:>4} {request:<32} {:?}{rewritten}", n + 1, outcome.decision);
    }

    latencies.sort();
    let median = latencies.get(latencies.len() / 2).copied().unwrap_or_default();
    println!("\n{} requests: {counts:?}", latencies.len());
    println!(
        "per-call latency: median {median:?}, max {:?}",
        latencies.last().copied().unwrap_or_default()
    );
    let state = plugin.state();
    println!(
        "tier lookups: {} answered from the plugin's cache (re-entrant cache_get), {} from the directory (then cache_put)",
        state.cache_hits, state.cache_misses
    );

    // The Go semantics, shown: the refill task sleeps on the plugin's timers, which fire only
    // while the host is inside the plugin.
    let Some((client, _)) = limited.iter().max_by_key(|(_, n)| **n) else { return Ok(()) };
    let refills = plugin.refills()?;
    let pause = Duration::from_millis(2100);
    println!(
        "\nrate limiting: the refill task has run {refills} times. Pausing {pause:?} without calling \
         the plugin: its tasks stay suspended between calls, so nothing refills meanwhile..."
    );
    std::thread::sleep(pause);
    println!("refills after the pause, before the next request: {}", plugin.refills()?);
    let request = format!("GET / {client}");
    let outcome = plugin.on_request(&request)?;
    println!(
        "{request}: {:?}: entering the plugin ran the due refill first (refills now {})",
        outcome.decision,
        plugin.refills()?
    );
    Ok(())
}
