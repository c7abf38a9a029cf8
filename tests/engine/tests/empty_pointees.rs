//! Pointers to empty types (Go's `*struct{}`) on wasmtime, with the `handles` guest: `*mut ()`,
//! `*const ()` and pointers to empty `#[repr(C)]` structs cross exports and imports as one `i32`
//! each, and every value comes through unchanged, in both directions (the guest never reads
//! through them, so any address is a valid handle).

use wasmexport_engine_tests::{Guest, Host, engine, module};
use wasmtime::{ExternType, Linker, Result, ValType};

/// The `handles` imports: `open(key)` hands out `key * 16 + 0x1000`; `describe(session, raw)`
/// packs both handles into one number; `pass_back(h)` returns `h`.
fn imports(linker: &mut Linker<Host>) -> Result<()> {
    linker.func_wrap("handles", "open", |key: u32| key.wrapping_mul(16).wrapping_add(0x1000))?;
    linker.func_wrap("handles", "describe", |session: u32, raw: u32| {
        session.wrapping_mul(31) ^ raw
    })?;
    linker.func_wrap("handles", "pass_back", |h: u32| h)?;
    Ok(())
}

fn handles() -> Guest {
    Guest::init_with_imports(engine(), &module("handles"), imports).unwrap()
}

/// The wasm params and results of a func type, as `I32` or not.
fn i32s(params: impl Iterator<Item = ValType>) -> Vec<bool> {
    params.map(|t| matches!(t, ValType::I32)).collect()
}

#[test]
fn each_pointer_to_an_empty_type_is_one_i32() {
    let module = module("handles");
    let export = |name: &str| {
        let ty = module.get_export(name).unwrap().func().unwrap().clone();
        (i32s(ty.params()), i32s(ty.results()))
    };
    assert_eq!(export("session"), (vec![true], vec![true]));
    assert_eq!(export("ask"), (vec![true, true], vec![true]));
    assert_eq!(export("keep"), (vec![true], vec![]));
    assert_eq!(export("kept"), (vec![], vec![true]));
    assert_eq!(export("token"), (vec![], vec![true]));
    let import = |name: &str| {
        let import = module.imports().find(|i| i.name() == name).unwrap();
        let ExternType::Func(ty) = import.ty() else { panic!("{name} is not a func") };
        (import.module().to_string(), i32s(ty.params()), i32s(ty.results()))
    };
    assert_eq!(import("open"), ("handles".into(), vec![true], vec![true]));
    assert_eq!(import("describe"), ("handles".into(), vec![true, true], vec![true]));
    assert_eq!(import("pass_back"), ("handles".into(), vec![true], vec![true]));
    // A pending export's result crosses through its `[task-return]` import: id, then handle.
    assert_eq!(
        import("[task-return]session_later"),
        ("wasmexport".into(), vec![true, true], vec![])
    );
}

#[test]
fn handles_cross_unchanged_both_ways() {
    let mut g = handles();
    // Host to guest and back through an import: the host's handle comes out of the export.
    for key in [0u32, 1, 7, 0x0fff_ffff] {
        let want = key.wrapping_mul(16).wrapping_add(0x1000);
        assert_eq!(g.call::<u32, u32>("session", key).unwrap(), want, "key {key}");
    }
    // Guest to host through an import: both parameters reach it as given, the high bit too.
    for (session, raw) in [(0u32, 0u32), (0x1010, 8), (0xffff_fff0, 0x8000_0000), (3, u32::MAX)] {
        let want = session.wrapping_mul(31) ^ raw;
        assert_eq!(g.call::<(u32, u32), u32>("ask", (session, raw)).unwrap(), want);
    }
    // Kept by the guest between calls.
    assert_eq!(g.call::<(), u32>("kept", ()).unwrap(), 0, "null until one is kept");
    for h in [0xdead_beefu32, 1, 0] {
        g.call::<u32, ()>("keep", h).unwrap();
        assert_eq!(g.call::<(), u32>("kept", ()).unwrap(), h);
    }
    // The guest's own zero-sized static: an address in its memory, through the host and back.
    let token = g.call::<(), u32>("token", ()).unwrap();
    assert!(token != 0 && (token as usize) < g.memory_size(), "token at {token:#x}");
    assert_eq!(g.stderr(), "");
}
