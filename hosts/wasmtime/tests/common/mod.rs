//! What the tests share: the guest module (built once per test process, in release mode, into
//! `target/hosts-wasmtime`) and a host for it whose `host.number(x)` and `host.bytes(n)` do what
//! each test asks.

#![allow(dead_code)] // each test file uses a part

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use wasmexport_host::{Builder, Completion, Host};
use wasmtime::{Engine, Module};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The guest module, compiled for the shared engine.
pub fn module() -> Module {
    static MODULE: OnceLock<Module> = OnceLock::new();
    MODULE
        .get_or_init(|| {
            let target_dir = root().join("target/hosts-wasmtime");
            let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guest/Cargo.toml");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let out = Command::new(cargo)
                .args(["build", "--release", "--quiet", "--target", "wasm32-wasip1"])
                .arg("--manifest-path")
                .arg(&manifest)
                .arg("--target-dir")
                .arg(&target_dir)
                .output()
                .expect("running cargo to build the test guest");
            assert!(
                out.status.success(),
                "building {} failed:\n{}",
                manifest.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            let wasm = target_dir.join("wasm32-wasip1/release/host_guest.wasm");
            Module::from_file(&Engine::default(), &wasm).unwrap_or_else(|e| panic!("{e:?}"))
        })
        .clone()
}

/// A boxed operation future.
pub type Op = Pin<Box<dyn Future<Output = Completion> + Send>>;

/// The guest's async imports: `number(x)` and `bytes(n)` run the futures these return.
#[derive(Clone)]
pub struct Imports {
    pub number: Arc<dyn Fn(i32) -> Op + Send + Sync>,
    pub bytes: Arc<dyn Fn(i32) -> Op + Send + Sync>,
}

impl Default for Imports {
    /// `number(x)` completes with `x * 10` at once; `bytes(n)` with the bytes `1..=n`.
    fn default() -> Imports {
        Imports {
            number: Arc::new(|x| Box::pin(async move { Completion::Value(x * 10) })),
            bytes: Arc::new(|n| {
                Box::pin(async move { Completion::Bytes((1..=n).map(|b| b as u8).collect()) })
            }),
        }
    }
}

/// Imports whose `number(x)` completes with `x * 10` after `x % spread` milliseconds, so that
/// calls finish out of order.
pub fn staggered(spread: i32) -> Imports {
    Imports {
        number: Arc::new(move |x| -> Op {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis((x % spread) as u64)).await;
                Completion::Value(x * 10)
            })
        }),
        ..Imports::default()
    }
}

/// Imports whose `number(x)` completes with `x * 10` at once for `x < 100` and never before the
/// returned gate opens otherwise.
pub fn gated() -> (Imports, Arc<Semaphore>) {
    let gate = Arc::new(Semaphore::new(0));
    let imports = Imports {
        number: Arc::new({
            let gate = gate.clone();
            move |x| -> Op {
                let gate = gate.clone();
                Box::pin(async move {
                    if x >= 100 {
                        let _pass = gate.acquire().await;
                    }
                    Completion::Value(x * 10)
                })
            }
        }),
        ..Imports::default()
    };
    (imports, gate)
}

/// A tokio task that counts a tick every `period`, for as long as the runtime lets it run.
pub fn ticker(period: Duration) -> (Arc<AtomicU32>, JoinHandle<()>) {
    let ticks = Arc::new(AtomicU32::new(0));
    let task = tokio::spawn({
        let ticks = ticks.clone();
        async move {
            loop {
                tokio::time::sleep(period).await;
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    (ticks, task)
}

/// A builder for the guest with `imports`, its stderr kept off the test's output.
pub fn builder(imports: Imports) -> Builder {
    let mut builder = Host::builder(&module());
    builder.forward_stderr(false);
    let number = imports.number;
    builder
        .async_import("host", "number", move |call| Ok(number(call.i32(0)?)))
        .expect("host.number");
    let bytes = imports.bytes;
    builder.async_import("host", "bytes", move |call| Ok(bytes(call.i32(0)?))).expect("host.bytes");
    builder
}

/// The guest with `imports`, started.
pub async fn start(imports: Imports) -> Host {
    builder(imports).start().await.unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `f`, a test or a call, for at most two minutes, far beyond what any takes: a call that
/// never resolves fails its test (naming `what`) instead of hanging the test run.
pub async fn patiently<F: Future>(what: &str, f: F) -> F::Output {
    match tokio::time::timeout(std::time::Duration::from_secs(120), f).await {
        Ok(out) => out,
        Err(_) => panic!("{what} did not finish within 2 minutes"),
    }
}

/// The guest's live tasks, its `task_count()` call included.
pub async fn task_count(host: &Host) -> u32 {
    host.call::<(), u32>("task_count", ()).await.expect("task_count")
}
