//! Slice parameters in a linear memory grown past 2 GiB, on wasmtime (whose default memory
//! reservation holds the 4 GiB a wasm32 memory can reach): a length inside memory but over
//! `isize::MAX`, which no Rust slice may have, traps with a line naming the export and the
//! parameter instead of becoming a slice.

use wasmexport_engine_tests::{Guest, Host, engine, module, trap_text};
use wasmtime::{Caller, Linker, Result};

const GIB: u64 = 1 << 30;
const PAGE: u64 = 64 * 1024;

/// The strings guest with its memory grown to at least `bytes` by the host.
fn strings_with_memory(bytes: u64) -> Guest {
    // The strings guest imports `test.echo`; these tests never call it.
    let no_echo = |linker: &mut Linker<Host>| -> Result<()> {
        linker.func_wrap(
            "test",
            "echo",
            |_: Caller<'_, Host>, _: u32, _: u32, _: u32, _: u32, _: u32| -> u32 {
                unreachable!("not called by these tests")
            },
        )?;
        Ok(())
    };
    let mut g = Guest::init_with_imports(engine(), &module("strings"), no_echo).unwrap();
    let memory = g.instance.get_memory(&mut g.store, "memory").unwrap();
    let pages = memory.size(&g.store);
    let want = bytes.div_ceil(PAGE);
    if want > pages {
        memory.grow(&mut g.store, want - pages).expect("growing memory past 2 GiB");
    }
    assert!(g.memory_size() as u64 >= bytes);
    g
}

#[test]
fn a_length_over_isize_max_inside_memory_traps_naming_export_and_parameter() {
    // 3 GiB at 64 KiB: inside a memory of 3 GiB and 64 KiB.
    let (ptr, len) = (PAGE as u32, (3 * GIB) as u32);
    let mut g = strings_with_memory(u64::from(ptr) + u64::from(len));
    for (export, param) in [("sum", "bytes"), ("chars", "s")] {
        let err = g.call::<(u32, u32), u32>(export, (ptr, len)).expect_err("expected a trap");
        assert!(err.downcast_ref::<wasmtime::Trap>().is_some(), "a trap: {}", trap_text(&err));
        let line = g.stderr().lines().last().unwrap_or_default().to_string();
        assert_eq!(
            line,
            format!(
                "wasmexport: export \"{export}\": parameter `{param}`: {len} bytes at 0x10000 are \
                 more than a slice may hold (2147483647 bytes, isize::MAX); pass at most that \
                 many bytes"
            )
        );
    }
    // The smallest length too long, 2 GiB, traps as well; the arguments were refused before
    // the call entered the runtime, so the instance still works.
    let err = g.call::<(u32, u32), u32>("sum", (ptr, 1 << 31)).expect_err("expected a trap");
    assert!(err.downcast_ref::<wasmtime::Trap>().is_some(), "a trap: {}", trap_text(&err));
    let line = g.stderr().lines().last().unwrap_or_default().to_string();
    assert!(
        line.contains("parameter `bytes`: 2147483648 bytes at 0x10000 are more than"),
        "{line}"
    );
    let p: u32 = g.call("alloc", 3).unwrap();
    let memory = g.instance.get_memory(&mut g.store, "memory").unwrap();
    memory.write(&mut g.store, p as usize, &[1, 2, 3]).unwrap();
    assert_eq!(g.call::<(u32, u32), u32>("sum", (p, 3)).unwrap(), 6);
}

#[test]
fn a_range_past_the_end_of_a_big_memory_still_names_the_end() {
    // Both too long and past the end: the end of memory is what the host got wrong.
    let mut g = strings_with_memory(2 * GIB + PAGE);
    let size = g.memory_size() as u64;
    let (ptr, len) = (PAGE as u32, (3 * GIB) as u32);
    let err = g.call::<(u32, u32), u32>("sum", (ptr, len)).expect_err("expected a trap");
    assert!(err.downcast_ref::<wasmtime::Trap>().is_some(), "a trap: {}", trap_text(&err));
    let line = g.stderr().lines().last().unwrap_or_default().to_string();
    assert_eq!(
        line,
        format!(
            "wasmexport: export \"sum\": parameter `bytes`: {len} bytes at 0x10000 run past the \
             end of linear memory ({size} bytes); pass a pointer and length inside the module's \
             memory"
        )
    );
}
