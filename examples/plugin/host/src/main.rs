//! Loads the example plugin in wasmtime, initializes it and calls it.

use std::process::ExitCode;
use wasmtime::{Engine, Linker, Module, Result, Store};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: plugin-host PLUGIN.wasm");
        return ExitCode::FAILURE;
    };
    match run(&path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("plugin-host: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(path: &str) -> Result<()> {
    let engine = Engine::default();
    let module = Module::from_file(&engine, path)?;
    let mut linker: Linker<WasiP1Ctx> = Linker::new(&engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |cx| cx)?;
    let wasi = WasiCtxBuilder::new().inherit_stderr().inherit_stdout().build_p1();
    let mut store = Store::new(&engine, wasi);
    let instance = linker.instantiate(&mut store, &module)?;
    instance.get_typed_func::<(), ()>(&mut store, "_initialize")?.call(&mut store, ())?;
    let add = instance.get_typed_func::<(i32, i32), i32>(&mut store, "add")?;
    println!("plugin add(2, 40) = {}", add.call(&mut store, (2, 40))?);
    Ok(())
}
