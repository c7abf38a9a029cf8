//! The boundary's types on wasmtime, with the `strings` and `renamed` guests: strings and
//! byte buffers as pointer and length (checked: bounds, overlaps, UTF-8), `usize`/`isize`,
//! pointers to host-layout structs, an import taking `&str`, names the expansion cannot
//! collide with, `#[cfg]`'d parameters, `()` aliases, and a renamed dependency.

use wasmexport_engine_tests::{Guest, Host, engine, module, trap_text};
use wasmtime::{Caller, Extern, Linker, Result, ValType};

/// The `test.echo(ptr, len, tag, out_ptr, out_len) -> len` import: writes the text it reads
/// back reversed into the out buffer and returns how many bytes it read.
fn echo(linker: &mut Linker<Host>) -> Result<()> {
    linker.func_wrap(
        "test",
        "echo",
        |mut caller: Caller<'_, Host>, ptr: u32, len: u32, tag: u32, out: u32, cap: u32| {
            assert_eq!(tag, 7, "the `_` parameter crosses in its place");
            let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
                panic!("no memory export");
            };
            let mut text = vec![0; len as usize];
            memory.read(&caller, ptr as usize, &mut text)?;
            assert!(std::str::from_utf8(&text).is_ok());
            text.reverse();
            text.truncate(cap as usize);
            memory.write(&mut caller, out as usize, &text)?;
            Ok(len)
        },
    )?;
    Ok(())
}

fn strings() -> Guest {
    Guest::init_with_imports(engine(), &module("strings"), echo).unwrap()
}

/// Copies `bytes` into a fresh guest buffer from its `alloc` export; returns the pointer.
fn put(g: &mut Guest, bytes: &[u8]) -> u32 {
    let ptr: u32 = g.call("alloc", bytes.len() as u32).unwrap();
    let memory = g.instance.get_memory(&mut g.store, "memory").unwrap();
    memory.write(&mut g.store, ptr as usize, bytes).unwrap();
    ptr
}

fn read(g: &mut Guest, ptr: u32, len: usize) -> Vec<u8> {
    let memory = g.instance.get_memory(&mut g.store, "memory").unwrap();
    let mut buf = vec![0; len];
    memory.read(&g.store, ptr as usize, &mut buf).unwrap();
    buf
}

/// Calls `export` expecting a trap; returns the guest's last stderr line.
fn trap_line<P: wasmtime::WasmParams>(g: &mut Guest, export: &str, params: P) -> String {
    let err = g.call::<P, u32>(export, params).expect_err("expected a trap");
    assert!(err.downcast_ref::<wasmtime::Trap>().is_some(), "a trap: {}", trap_text(&err));
    g.stderr().lines().last().unwrap_or_default().to_string()
}

#[test]
fn slices_and_strings_cross_as_pointer_and_length() {
    let mut g = strings();
    let text = "héllo, wörld";
    let p = put(&mut g, text.as_bytes());
    let n = text.len() as u32;
    assert_eq!(g.call::<(u32, u32), u32>("chars", (p, n)).unwrap(), 12);
    assert_eq!(
        g.call::<(u32, u32), u32>("sum", (p, n)).unwrap(),
        text.bytes().map(u32::from).sum::<u32>()
    );
    let dst = put(&mut g, &[0; 32]);
    assert_eq!(g.call::<(u32, u32, u32, u32), u32>("upper", (p, n, dst, 32)).unwrap(), 14);
    assert_eq!(read(&mut g, dst, 14), "HÉLLO, WÖRLD".as_bytes());
    // The async export holds its `&str` across awaits.
    assert_eq!(g.call::<(u32, u32), u32>("chars_later", (p, n)).unwrap(), 24);
}

#[test]
fn the_wasm_signatures_are_the_documented_lowering() {
    let module = module("strings");
    let sig = |name: &str| {
        let ty = module.get_export(name).unwrap().func().unwrap().clone();
        let params: Vec<_> = ty.params().map(|t| matches!(t, ValType::I32)).collect();
        (params, ty.results().len())
    };
    // &str, &[u8], &mut [u8]: two i32s each; usize, isize: one i32.
    assert_eq!(sig("upper"), (vec![true; 4], 1));
    assert_eq!(sig("offset"), (vec![true; 2], 1));
    assert_eq!(sig("chars_later"), (vec![true; 2], 1));
    // The #[cfg]'d-out `&str` (two i32s) is gone; `-> Unit` is no result.
    assert_eq!(sig("configured"), (vec![true; 2], 1));
    assert_eq!(sig("unit"), (vec![true], 0));
    let mut g = strings();
    assert_eq!(g.call::<(u32, i32), u32>("offset", (100, -58)).unwrap(), 42);
    assert_eq!(g.call::<(u32, u32), u32>("configured", (4, 2)).unwrap(), 42);
    g.call::<u32, ()>("unit", 1).unwrap();
}

#[test]
fn an_empty_slice_ignores_its_pointer() {
    let mut g = strings();
    for ptr in [0, 1, u32::MAX] {
        assert_eq!(g.call::<(u32, u32), u32>("chars", (ptr, 0)).unwrap(), 0);
        assert_eq!(g.call::<(u32, u32), u32>("sum", (ptr, 0)).unwrap(), 0);
    }
    assert_eq!(g.stderr(), "");
}

#[test]
fn invalid_utf8_traps_naming_export_and_parameter_and_the_next_call_runs() {
    let mut g = strings();
    let p = put(&mut g, b"ok \xff\xfe");
    let line = trap_line(&mut g, "chars", (p, 5));
    assert_eq!(
        line,
        "wasmexport: export \"chars\": parameter `s` is not UTF-8 (invalid byte at offset 3); \
         a &str parameter takes UTF-8 text (take &[u8] for other bytes)"
    );
    // The argument was refused before the call entered the runtime: the instance is usable.
    assert_eq!(g.call::<(u32, u32), u32>("chars", (p, 3)).unwrap(), 3);
    let line = trap_line(&mut g, "chars_later", (p, 5));
    assert!(line.contains("export \"chars_later\": parameter `s` is not UTF-8"), "{line}");
    assert_eq!(g.call::<(u32, u32), u32>("chars_later", (p, 3)).unwrap(), 6);
}

#[test]
fn a_range_outside_linear_memory_traps_instead_of_reading() {
    let mut g = strings();
    let size = g.memory_size() as u32;
    let line = trap_line(&mut g, "sum", (size - 4, 8));
    assert_eq!(
        line,
        format!(
            "wasmexport: export \"sum\": parameter `bytes`: 8 bytes at {:#x} run past the end of \
             linear memory ({size} bytes); pass a pointer and length inside the module's memory",
            size - 4
        )
    );
    // Wrapping past 4 GiB does not make it valid.
    let line = trap_line(&mut g, "sum", (u32::MAX - 1, 4));
    assert!(line.contains("parameter `bytes`: 4 bytes at 0xfffffffe run past the end"), "{line}");
    let line = trap_line(&mut g, "chars", (0, 3));
    assert!(
        line.contains("export \"chars\": parameter `s`: a null pointer with length 3"),
        "{line}"
    );
    // The last byte of memory is fine, and the instance still works.
    assert_eq!(g.call::<(u32, u32), u32>("sum", (size - 1, 1)).unwrap(), 0);
}

#[test]
fn a_mutable_buffer_overlapping_another_traps() {
    let mut g = strings();
    let p = put(&mut g, b"abcdefgh");
    // `dst` starts inside `src`.
    let line = trap_line(&mut g, "upper", (p, 8, p + 4, 8));
    assert_eq!(
        line,
        "wasmexport: export \"upper\": parameters `src` and `dst` share bytes, and one is \
         &mut [u8]: a mutable buffer must not overlap another buffer parameter; pass disjoint \
         buffers"
    );
    let line = trap_line(&mut g, "swap", (p, 4, p, 4));
    assert!(line.contains("parameters `a` and `b` share bytes"), "{line}");
    // Shared buffers may overlap; adjacent mutable ones do not overlap; empty ones never do.
    assert_eq!(g.call::<(u32, u32, u32, u32), u32>("sum2", (p, 2, p, 1)).unwrap(), 97 + 98 + 97);
    assert_eq!(g.call::<(u32, u32, u32, u32), u32>("swap", (p, 4, p + 4, 4)).unwrap(), 4);
    assert_eq!(read(&mut g, p, 8), b"efghabcd");
    assert_eq!(g.call::<(u32, u32, u32, u32), u32>("swap", (p, 0, p, 4)).unwrap(), 0);
}

#[test]
fn an_import_takes_str_and_mut_slices_as_pointer_and_length() {
    let mut g = strings();
    assert_eq!(g.call::<u32, u32>("call_echo", 3).unwrap(), 18);
}

#[test]
fn pointers_to_host_layout_structs() {
    let mut g = strings();
    let mut point = Vec::new();
    point.extend(30i32.to_le_bytes());
    point.extend(10i32.to_le_bytes());
    point.extend([2, 0, 0, 0]);
    let p = put(&mut g, &point);
    assert_eq!(g.call::<u32, i32>("point_sum", p).unwrap(), 42);
}

#[test]
fn user_names_do_not_collide_with_generated_ones() {
    let mut g = strings();
    assert_eq!(g.call::<(u32, u32), u32>("__wasmexport_shim", (4, 2)).unwrap(), 402);
}

#[test]
fn a_renamed_dependency_works_with_crate_path() {
    let mut g = Guest::init_with_imports(engine(), &module("renamed"), echo).unwrap();
    assert_eq!(g.call::<u32, u32>("ready", 2).unwrap(), 42);
    let p = put(&mut g, b"four");
    assert_eq!(g.call::<(u32, u32), u32>("len of", (p, 4)).unwrap(), 4);
    let mut pair = Vec::new();
    pair.extend(40u32.to_le_bytes());
    pair.extend(2u32.to_le_bytes());
    let p = put(&mut g, &pair);
    assert_eq!(g.call::<u32, u32>("pair_sum", p).unwrap(), 42);
    assert_eq!(g.call::<(), u32>("call_echo", ()).unwrap(), 2 + u32::from(b'b'));
}
