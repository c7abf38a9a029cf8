//! The reactor, executor and plugin guests on a third engine: wasmi, an interpreter, with
//! wasi-common's WASI. The same modules as on wasmtime and Node, unchanged.

use std::time::{Duration, Instant};
use wasmexport_engine_tests::wasmi_host::{Guest, Host, Result, call_back, is_trap, module};
use wasmexport_engine_tests::{build_guests, root};
use wasmi::{Caller, Error, Extern, Linker};

#[test]
fn reactor_values_names_and_init_hooks() {
    let mut g = Guest::init("basic").unwrap();
    assert_eq!(g.call::<(i32, i32), i32>("add", (i32::MAX, 1)).unwrap(), i32::MIN);
    assert_eq!(g.call::<i64, i64>("id_i64", i64::MIN).unwrap(), i64::MIN);
    assert_eq!(g.call::<u64, u64>("id_u64", u64::MAX).unwrap(), u64::MAX);
    assert_eq!(g.call::<f32, f32>("id_f32", -0.0).unwrap().to_bits(), (-0.0f32).to_bits());
    assert!(g.call::<f64, f64>("id_f64", f64::NAN).unwrap().is_nan());
    assert_eq!(g.call::<i32, i32>("not", 2).unwrap(), 0);
    assert_eq!(
        g.call::<(u32, u32), u32>("wasi:http/incoming-handler@0.2.0#handle", (4, 2)).unwrap(),
        42
    );
    assert_eq!(g.call::<(), i32>("type", ()).unwrap(), 7);
    g.call::<(), ()>("_initialize", ()).unwrap();
    assert_eq!(g.call::<(), u64>("init_order", ()).unwrap(), 123);
    assert_eq!(g.call::<(), u32>("init_runs", ()).unwrap(), 3);
}

#[test]
fn call_before_initialize_traps_with_its_line() {
    let basic = module(&wasmexport_engine_tests::guest_path("basic"));
    let mut g = Guest::with_imports(&basic, (), |_| Ok(())).unwrap();
    let err = g.call::<(i32, i32), i32>("add", (1, 2)).unwrap_err();
    assert!(is_trap(&err), "{err}");
    assert_eq!(
        g.stderr(),
        "wasmexport: export \"add\" called before runtime initialization: call _initialize first\n"
    );
}

#[test]
fn panic_prints_traps_and_poisons() {
    let mut g = Guest::init("basic").unwrap();
    let err = g.call::<i32, i32>("boom", 7).unwrap_err();
    assert!(is_trap(&err), "{err}");
    assert!(g.stderr().starts_with("wasmexport: panic in export \"boom\": boom with code 7 at "));
    let err = g.call::<(i32, i32), i32>("add", (1, 2)).unwrap_err();
    assert!(is_trap(&err), "{err}");
    assert!(g.stderr().ends_with(
        "wasmexport: module poisoned by an earlier panic: export \"add\" cannot run; create a new instance\n"
    ));
}

#[test]
fn async_exports_background_tasks_and_suspension_between_calls() {
    let mut g = Guest::init("exec").unwrap();
    assert_eq!(g.call::<(i32, i32), i32>("async_add", (40, 2)).unwrap(), 42);
    assert_eq!(g.call::<i32, i32>("spawn_and_await", 21).unwrap(), 42);
    assert_eq!(g.call::<(), i32>("start_bumper", ()).unwrap(), 0);
    assert_eq!(g.call::<(), i32>("counter", ()).unwrap(), 0);
    assert_eq!(g.call::<(), u32>("tasks", ()).unwrap(), 2, "the detached bumper is alive");
    let yields = g.call::<(), i32>("yields_until_bump", ()).unwrap();
    assert!((1..=2).contains(&yields), "bump seen after {yields} yields");
    assert_eq!(g.call::<(), i32>("counter", ()).unwrap(), 1);
    assert_eq!(g.call::<(), u32>("tasks", ()).unwrap(), 1);
    assert_eq!(g.call::<(), i32>("channels", ()).unwrap(), 55);
    assert_eq!(g.call::<(), u32>("polls_while_waiting", ()).unwrap(), 2);
}

#[test]
fn timers_wait_and_sleepers_overlap() {
    let mut g = Guest::init("exec").unwrap();
    let start = Instant::now();
    g.call::<u32, ()>("sleep_ms", 20).unwrap();
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(20), "returned early: {took:?}");
    assert!(took < Duration::from_millis(500), "far too late: {took:?}");

    let start = Instant::now();
    assert_eq!(g.call::<u32, u32>("two_sleepers", 200).unwrap(), 3);
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(200), "returned early: {took:?}");
    assert!(took < Duration::from_millis(390), "the sleepers ran one after the other: {took:?}");
    assert_eq!(g.call::<(), u32>("timeouts", ()).unwrap(), 3);
}

#[test]
fn deadlock_traps_with_the_export_name() {
    let mut g = Guest::init("exec").unwrap();
    assert_eq!(g.call::<(), i32>("wait_for_background", ()).unwrap(), 42);
    let err = g.call::<(), i32>("wait_forever", ()).unwrap_err();
    assert!(is_trap(&err), "{err}");
    assert_eq!(
        g.stderr(),
        "wasmexport: all tasks are asleep - deadlock! export \"wait_forever\" is waiting for \
         something that no task or timer can deliver\n"
    );
}

#[test]
fn panic_in_a_spawned_task_traps_and_poisons() {
    let mut g = Guest::init("exec").unwrap();
    let err = g.call::<(), i32>("panic_in_task", ()).unwrap_err();
    assert!(is_trap(&err), "{err}");
    // The line names the task by where it was spawned and by which export.
    let stderr = g.stderr();
    assert!(
        stderr.starts_with("wasmexport: panic in a task spawned at exec/src/lib.rs:"),
        "{stderr}"
    );
    assert!(stderr.contains(" by export \"panic_in_task\": task exploded at "), "{stderr}");
    assert!(is_trap(&g.call::<(i32, i32), i32>("add", (1, 2)).unwrap_err()));
    assert!(g.stderr().ends_with(
        "wasmexport: module poisoned by an earlier panic: export \"add\" cannot run; create a new instance\n"
    ));
}

#[test]
fn reentry_through_wasmimport_1000_deep() {
    // wasmi runs a call from a host function on the native stack of that host function.
    let run = || {
        let mut g = Guest::init("exec").unwrap();
        assert_eq!(g.call::<i32, i32>("recurse", 1000).unwrap(), 1000);
        assert_eq!(g.store.data().max_depth, 1000);
        assert_eq!(g.call::<i32, i32>("recurse_async", 1000).unwrap(), 1000);
        assert_eq!(g.call::<(), i32>("outer", ()).unwrap(), 107);
        assert_eq!(g.call::<(), i32>("outer_woken_from_nested", ()).unwrap(), 5);
        assert_eq!(g.store.data().depth, 0);
        assert_eq!(g.call::<(), u32>("tasks", ()).unwrap(), 1);
    };
    std::thread::Builder::new().stack_size(256 << 20).spawn(run).unwrap().join().unwrap();
}

/// What the plugin's host keeps: its config, the client directory, the log, cache statistics.
#[derive(Default)]
struct PluginHost {
    config: String,
    directory: std::collections::HashMap<String, u32>,
    logs: Vec<(u32, String)>,
    cache_hits: u32,
    cache_misses: u32,
}

fn memory<T>(caller: &Caller<'_, Host<T>>) -> Result<wasmi::Memory> {
    caller
        .get_export("memory")
        .and_then(Extern::into_memory)
        .ok_or_else(|| Error::new("the plugin exports no memory"))
}

fn read_guest<T>(caller: &Caller<'_, Host<T>>, ptr: u32, len: u32) -> Result<String> {
    let mut buf = vec![0; len as usize];
    memory(caller)?.read(caller, ptr as usize, &mut buf).map_err(Error::from)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// The plugin's imports (`host.log`, `host.config`, `host.lookup`), as the wasmtime host
/// (examples/plugin/host) defines them: `lookup` goes through the plugin's own cache, two
/// re-entrant calls.
fn plugin_imports(linker: &mut Linker<Host<PluginHost>>) -> Result<()> {
    type C<'a> = Caller<'a, Host<PluginHost>>;
    linker.func_wrap("host", "log", |mut caller: C<'_>, level: u32, ptr: u32, len: u32| {
        let text = read_guest(&caller, ptr, len)?;
        caller.data_mut().data.logs.push((level, text));
        Ok(())
    })?;
    linker.func_wrap("host", "config", |mut caller: C<'_>, ptr: u32, cap: u32| {
        let config = caller.data().data.config.clone().into_bytes();
        let n = config.len().min(cap as usize);
        memory(&caller)?.write(&mut caller, ptr as usize, &config[..n]).map_err(Error::from)?;
        Ok(config.len() as u32)
    })?;
    linker.func_wrap("host", "lookup", |mut caller: C<'_>, ptr: u32, len: u32| {
        let cached = call_back::<_, (u32, u32), i64>(&mut caller, "cache_get", (ptr, len))?;
        if let Ok(tier) = u32::try_from(cached) {
            caller.data_mut().data.cache_hits += 1;
            return Ok(tier);
        }
        let client = read_guest(&caller, ptr, len)?;
        let tier =
            caller.data().data.directory.get(&client).copied().unwrap_or(plugin_host::STANDARD);
        call_back::<_, (u32, u32, u32), ()>(&mut caller, "cache_put", (ptr, len, tier))?;
        caller.data_mut().data.cache_misses += 1;
        Ok(tier)
    })?;
    Ok(())
}

#[test]
fn plugin_decides_as_under_wasmtime() {
    let dir = root().join("examples/plugin");
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    let (config, requests) = (read("plugin.conf"), read("requests.log"));
    let directory = plugin_host::parse_directory(&read("clients.tsv")).unwrap();
    let wasm = build_guests(&dir.join("guest/Cargo.toml")).unwrap().join("plugin.wasm");

    let data =
        PluginHost { config: config.clone(), directory: directory.clone(), ..Default::default() };
    let mut g = Guest::init_with_imports(&module(&wasm), data, plugin_imports).unwrap();
    let mut on_request = |request: &str| -> Result<(u32, Option<String>)> {
        let len = request.len() as u32;
        let ptr = g.call::<u32, u32>("alloc", len)?;
        let memory = g.instance.get_memory(&g.store, "memory").unwrap();
        memory.write(&mut g.store, ptr as usize, request.as_bytes()).map_err(Error::from)?;
        let packed = g.call::<(u32, u32), u64>("on_request", (ptr, len))?;
        g.call::<(u32, u32), ()>("dealloc", (ptr, len))?;
        let rewritten = match (packed >> 32) as u32 {
            0 => None,
            n => {
                let at = g.call::<(), u32>("rewrite_ptr", ())?;
                let mut buf = vec![0; n as usize];
                memory.read(&g.store, at as usize, &mut buf).map_err(Error::from)?;
                Some(String::from_utf8(buf).unwrap())
            }
        };
        Ok((packed as u32, rewritten))
    };
    let got: Vec<_> = requests.lines().map(|r| on_request(r).unwrap()).collect();

    let mut wasmtime =
        plugin_host::Plugin::load(&wasmtime::Engine::default(), &wasm, &config, directory).unwrap();
    let want: Vec<_> = requests
        .lines()
        .map(|r| {
            let o = wasmtime.on_request(r).unwrap();
            (o.decision as u32, o.rewritten)
        })
        .collect();
    assert_eq!(got, want);
    assert!(want.iter().any(|(d, _)| *d == 2), "the log runs a client out of tokens");
    let (ours, theirs) = (&g.store.data().data, wasmtime.state());
    assert_eq!((ours.cache_hits, ours.cache_misses), (theirs.cache_hits, theirs.cache_misses));
    assert_eq!(ours.logs, theirs.logs);
}
