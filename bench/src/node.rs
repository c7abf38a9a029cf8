//! The V8 figures: runs `bench/node/bench.mjs` under the machine's `node` on the same guests
//! and reads its JSON.

use crate::Guests;
use serde_json::{Value, json};
use std::process::Command;
use wasmexport_engine_tests::root;

/// A time from the Node harness: the median of its samples, in ns, and half the interquartile
/// range in percent.
#[derive(Clone, Copy, Debug)]
pub struct Time {
    /// ns.
    pub median: f64,
    /// ± percent.
    pub spread: f64,
}

/// What `bench.mjs` printed.
#[derive(Debug)]
pub struct Node(Value);

impl Node {
    /// Runs the harness (about a minute on an idle machine). `Err` says why there are no V8
    /// figures: no `node`, or the harness failed.
    pub fn run(gs: &Guests) -> Result<Node, String> {
        let path = |p: &std::path::Path| Value::String(p.display().to_string());
        let opt = |p: &Option<std::path::PathBuf>| p.as_deref().map_or(Value::Null, path);
        let guests = json!({
            "raw": path(&gs.raw),
            "ours": path(&gs.ours),
            "floor": path(&gs.floor_tasks),
            "go_add": opt(&gs.go_add),
            "go_tasks": opt(&gs.go_tasks),
        });
        let out = Command::new("node")
            .args(["--expose-gc", "--no-warnings"])
            .arg(root().join("bench/node/bench.mjs"))
            .arg(guests.to_string())
            .output()
            .map_err(|e| format!("no V8 figures: running node: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "no V8 figures: bench/node/bench.mjs failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        serde_json::from_slice(&out.stdout)
            .map(Node)
            .map_err(|e| format!("no V8 figures: bench/node/bench.mjs printed no JSON: {e}"))
    }

    /// `node --version` and V8's.
    pub fn version(&self) -> String {
        format!(
            "Node {} (V8 {})",
            self.0["node"].as_str().unwrap_or("?"),
            self.0["v8"].as_str().unwrap_or("?")
        )
    }

    /// The time of `figure` (`add`, `roundtrip`, `instantiate_wasi`, ...) for guest `id`.
    pub fn time(&self, figure: &str, id: &str) -> Option<Time> {
        let t = &self.0[figure][id];
        Some(Time { median: t["ns"].as_f64()?, spread: t["spread"].as_f64()? })
    }

    /// The WASI functions guest `id` imports.
    pub fn imports(&self, id: &str) -> Vec<String> {
        self.0["imports"][id]
            .as_array()
            .map(|a| a.iter().filter_map(|n| n.as_str().map(String::from)).collect())
            .unwrap_or_default()
    }

    /// What importing WASI function `name` adds to an instantiation, in ns: from `node:wasi`,
    /// and as a JS function.
    pub fn import_cost(&self, name: &str) -> Option<(f64, f64)> {
        let c = &self.0["import_cost"][name];
        Some((c["wasi"].as_f64()?, c["stub"].as_f64()?))
    }
}
