//! A wasmtime host for the request filter plugin in `examples/plugin/guest`: loads it, wires its
//! imports (`host.config`, `host.lookup`, `host.log`), and feeds it requests.

use std::collections::HashMap;
use std::path::Path;
use wasmtime::error::Context as _;
use wasmtime::{
    Caller, Engine, Extern, Instance, Linker, Memory, Module, Result, Store, TypedFunc, bail,
};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;

/// What the plugin decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Decision {
    /// Pass the request on.
    Allow,
    /// Refuse it.
    Deny,
    /// Refuse it for now: the client's token bucket is empty.
    RateLimited,
}

/// A decision and, if the plugin rewrote the path, the new path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The decision.
    pub decision: Decision,
    /// The rewritten path, if any.
    pub rewritten: Option<String>,
}

/// The client tiers the host's directory knows.
pub const BLOCKED: u32 = 0;
/// See [`BLOCKED`]; unlisted clients are standard.
pub const STANDARD: u32 = 1;
/// See [`BLOCKED`].
pub const PREMIUM: u32 = 2;

/// Parses `clients.tsv`: `client<TAB>tier` lines, `#` comments.
pub fn parse_directory(text: &str) -> Result<HashMap<String, u32>> {
    let mut directory = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(client), Some(tier), None) = (words.next(), words.next(), words.next()) else {
            bail!("clients line {}: expected `client tier`: {line:?}", n + 1);
        };
        let tier = match tier {
            "blocked" => BLOCKED,
            "standard" => STANDARD,
            "premium" => PREMIUM,
            other => bail!("clients line {}: unknown tier {other:?}", n + 1),
        };
        directory.insert(client.to_string(), tier);
    }
    Ok(directory)
}

/// The store's data: WASI, what the imports serve, and what they observed.
pub struct State {
    wasi: WasiP1Ctx,
    config: Vec<u8>,
    directory: HashMap<String, u32>,
    /// Every line the plugin logged, with its level.
    pub logs: Vec<(u32, String)>,
    /// Lookups answered from the plugin's cache (a re-entrant `cache_get` that hit).
    pub cache_hits: u32,
    /// Lookups answered from the directory, then cached with a re-entrant `cache_put`.
    pub cache_misses: u32,
    /// Whether log lines are also printed to stderr as they come.
    pub echo_logs: bool,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("logs", &self.logs.len())
            .field("cache_hits", &self.cache_hits)
            .field("cache_misses", &self.cache_misses)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin").field("state", self.store.data()).finish_non_exhaustive()
    }
}

/// A loaded and initialized plugin.
pub struct Plugin {
    store: Store<State>,
    memory: Memory,
    alloc: TypedFunc<u32, u32>,
    dealloc: TypedFunc<(u32, u32), ()>,
    on_request: TypedFunc<(u32, u32), u64>,
    rewrite_ptr: TypedFunc<(), u32>,
    refills: TypedFunc<(), u32>,
}

impl Plugin {
    /// Loads the plugin at `path`, links its imports and runs `_initialize` (which reads
    /// `config` through the `host.config` import).
    pub fn load(
        engine: &Engine,
        path: &Path,
        config: &str,
        directory: HashMap<String, u32>,
    ) -> Result<Plugin> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read plugin {}", path.display()))?;
        let module = Module::new(engine, &bytes)
            .with_context(|| format!("{} is not a valid wasm module", path.display()))?;
        if module.get_export("_initialize").is_none() {
            let hint = if module.get_export("_start").is_some() {
                " (it is a command with _start)"
            } else {
                ""
            };
            bail!(
                "{} is not a reactor: it has no _initialize export{hint}; build the plugin as a \
                 crate-type = [\"cdylib\"] for wasm32-wasip1",
                path.display()
            );
        }
        let wasi = WasiCtxBuilder::new().inherit_stdout().inherit_stderr().build_p1();
        let state = State {
            wasi,
            config: config.as_bytes().to_vec(),
            directory,
            logs: Vec::new(),
            cache_hits: 0,
            cache_misses: 0,
            echo_logs: false,
        };
        let mut store = Store::new(engine, state);
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |s: &mut State| &mut s.wasi)?;
        link_host_imports(&mut linker)?;
        let instance = linker.instantiate(&mut store, &module)?;
        let memory =
            instance.get_memory(&mut store, "memory").context("the plugin exports no memory")?;
        let initialize: TypedFunc<(), ()> = typed(&mut store, &instance, "_initialize")?;
        let mut plugin = Plugin {
            alloc: typed(&mut store, &instance, "alloc")?,
            dealloc: typed(&mut store, &instance, "dealloc")?,
            on_request: typed(&mut store, &instance, "on_request")?,
            rewrite_ptr: typed(&mut store, &instance, "rewrite_ptr")?,
            refills: typed(&mut store, &instance, "refills")?,
            memory,
            store,
        };
        initialize.call(&mut plugin.store, ()).context("the plugin trapped in _initialize")?;
        Ok(plugin)
    }

    /// The store's data (logs, cache statistics).
    pub fn state(&self) -> &State {
        self.store.data()
    }

    /// Prints the plugin's log lines to stderr as they come.
    pub fn echo_logs(&mut self, on: bool) {
        self.store.data_mut().echo_logs = on;
    }

    /// Hands one request line (`METHOD PATH CLIENT`) to the plugin.
    pub fn on_request(&mut self, request: &str) -> Result<Outcome> {
        self.on_request_bytes(request.as_bytes())
    }

    /// Hands the plugin a request as raw bytes. The plugin's `on_request` takes a `&str`: the
    /// host writes the bytes into a buffer from the plugin's `alloc` and passes pointer and
    /// length; bytes that are not UTF-8 trap before the plugin's code runs (with a
    /// `wasmexport:` line on stderr), and the plugin stays usable for the next request.
    pub fn on_request_bytes(&mut self, request: &[u8]) -> Result<Outcome> {
        let len = u32::try_from(request.len()).context("request too long")?;
        let ptr = self.alloc.call(&mut self.store, len)?;
        self.memory.write(&mut self.store, ptr as usize, request)?;
        let packed = self.on_request.call(&mut self.store, (ptr, len))?;
        self.dealloc.call(&mut self.store, (ptr, len))?;
        let decision = match packed as u32 {
            0 => Decision::Allow,
            1 => Decision::Deny,
            2 => Decision::RateLimited,
            other => bail!("the plugin returned an unknown decision {other}"),
        };
        let rewrite_len = (packed >> 32) as usize;
        let rewritten = if rewrite_len == 0 {
            None
        } else {
            let at = self.rewrite_ptr.call(&mut self.store, ())? as usize;
            let mut buf = vec![0; rewrite_len];
            self.memory.read(&self.store, at, &mut buf)?;
            Some(String::from_utf8(buf).context("rewritten path is not UTF-8")?)
        };
        Ok(Outcome { decision, rewritten })
    }

    /// How often the plugin's refill task has run. A plain export: calling it runs no task.
    pub fn refills(&mut self) -> Result<u32> {
        self.refills.call(&mut self.store, ())
    }
}

fn typed<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
    store: &mut Store<State>,
    instance: &Instance,
    name: &str,
) -> Result<TypedFunc<P, R>> {
    instance.get_typed_func(&mut *store, name).with_context(|| {
        format!(
            "the plugin lacks the `{name}` export of the request filter ABI (or its type differs)"
        )
    })
}

/// Reads `len` bytes at `ptr` of the calling plugin's memory.
fn read_guest(caller: &mut Caller<'_, State>, ptr: u32, len: u32) -> Result<Vec<u8>> {
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        bail!("the plugin exports no memory");
    };
    let mut buf = vec![0; len as usize];
    memory.read(&*caller, ptr as usize, &mut buf)?;
    Ok(buf)
}

fn link_host_imports(linker: &mut Linker<State>) -> Result<()> {
    linker.func_wrap(
        "host",
        "log",
        |mut caller: Caller<'_, State>, level: u32, ptr: u32, len: u32| -> Result<()> {
            let text = String::from_utf8_lossy(&read_guest(&mut caller, ptr, len)?).into_owned();
            if caller.data().echo_logs {
                eprintln!(
                    "plugin log [{}]: {text}",
                    ["debug", "info", "warn"].get(level as usize).unwrap_or(&"?")
                );
            }
            caller.data_mut().logs.push((level, text));
            Ok(())
        },
    )?;
    linker.func_wrap(
        "host",
        "config",
        |mut caller: Caller<'_, State>, ptr: u32, cap: u32| -> Result<u32> {
            let config = caller.data().config.clone();
            let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
                bail!("the plugin exports no memory");
            };
            let n = config.len().min(cap as usize);
            memory.write(&mut caller, ptr as usize, &config[..n])?;
            Ok(config.len() as u32)
        },
    )?;
    // The tier lookup goes through the plugin's own cache: two re-entrant export calls.
    linker.func_wrap(
        "host",
        "lookup",
        |mut caller: Caller<'_, State>, ptr: u32, len: u32| -> Result<u32> {
            let cache_get = export::<(u32, u32), i64>(&mut caller, "cache_get")?;
            let cached = cache_get.call(&mut caller, (ptr, len))?;
            if let Ok(tier) = u32::try_from(cached) {
                caller.data_mut().cache_hits += 1;
                return Ok(tier);
            }
            let client = String::from_utf8_lossy(&read_guest(&mut caller, ptr, len)?).into_owned();
            let tier = caller.data().directory.get(&client).copied().unwrap_or(STANDARD);
            let cache_put = export::<(u32, u32, u32), ()>(&mut caller, "cache_put")?;
            cache_put.call(&mut caller, (ptr, len, tier))?;
            caller.data_mut().cache_misses += 1;
            Ok(tier)
        },
    )?;
    Ok(())
}

fn export<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
    caller: &mut Caller<'_, State>,
    name: &str,
) -> Result<TypedFunc<P, R>> {
    let Some(Extern::Func(f)) = caller.get_export(name) else {
        bail!("the plugin has no `{name}` export");
    };
    f.typed(&*caller)
}
