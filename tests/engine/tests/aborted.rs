//! Aborted calls on wasmtime with the `abort` guest: a call unwound by a trap that the runtime never
//! sees poisons the instance; re-entry through `#[wasmimport]` stays allowed.

use std::time::Duration;
use wasmexport_engine_tests::{
    Guest, Host, call_back, debug_guest_path, engine_with, module, on_big_stack, reentry_imports,
    trap_text,
};
use wasmtime::{Caller, Engine, Linker, Module, Result, Trap, UpdateDeadline, bail};

const POISONED: &str = "wasmexport: module poisoned: an earlier call did not return (it trapped); export \"add\" \
     cannot run; create a new instance";

/// The `test` imports of the abort guest.
fn imports(linker: &mut Linker<Host>) -> Result<()> {
    linker.func_wrap("test", "fail", || -> Result<i32> { bail!("the host function failed") })?;
    linker.func_wrap("test", "double", |x: i32| x * 2)?;
    linker.func_wrap("test", "reenter_plain", |mut caller: Caller<'_, Host>, n: i32| {
        let f = caller.get_export("recurse_plain").and_then(|e| e.into_func()).unwrap();
        f.typed::<i32, i32>(&caller)?.call(&mut caller, n)
    })?;
    linker.func_wrap("test", "swallow_nested_trap", |mut caller: Caller<'_, Host>| {
        let f = caller.get_export("trap_now").and_then(|e| e.into_func()).unwrap();
        let err = f.typed::<(), i32>(&caller)?.call(&mut caller, ()).unwrap_err();
        assert_eq!(err.downcast_ref::<Trap>(), Some(&Trap::UnreachableCodeReached));
        Ok(0)
    })?;
    linker.func_wrap("test", "reenter_fat", |mut caller: Caller<'_, Host>, n: i32| {
        call_back::<i32, i32>(&mut caller, "recurse_fat", n)
    })?;
    reentry_imports(linker)
}

/// An initialized guest on `engine`, its store set up by `setup` first.
fn guest_on(engine: &Engine, setup: impl FnOnce(&mut Guest)) -> Guest {
    let module = Module::from_file(engine, wasmexport_engine_tests::guest_path("abort")).unwrap();
    instance_of(engine, &module, setup)
}

/// An initialized instance of `module`, its store set up by `setup` first.
fn instance_of(engine: &Engine, module: &Module, setup: impl FnOnce(&mut Guest)) -> Guest {
    let mut g = Guest::with_imports(engine, module, imports).unwrap();
    setup(&mut g);
    g.call::<(), ()>("_initialize", ()).unwrap();
    g
}

fn guest() -> Guest {
    Guest::init_with_imports(wasmexport_engine_tests::engine(), &module("abort"), imports).unwrap()
}

/// The next call traps with the poisoned line, and so do the calls after it.
fn assert_poisoned(g: &mut Guest) {
    let before = g.stderr();
    let err = g.call::<(i32, i32), i32>("add", (1, 2)).unwrap_err();
    assert_eq!(err.downcast_ref::<Trap>(), Some(&Trap::UnreachableCodeReached), "{err:?}");
    let printed = g.stderr()[before.len()..].to_string();
    assert!(printed.starts_with(POISONED), "printed: {printed:?}");
    // It stays poisoned.
    assert!(g.call::<(i32, i32), i32>("add", (1, 2)).is_err());
    assert!(g.call::<(), u32>("tasks", ()).is_err());
    // Also an export whose body needs a frame on the shadow stack: its check comes first.
    let before = g.stderr().len();
    assert!(g.call::<u32, u32>("framed", 3).is_err());
    let printed = g.stderr()[before..].to_string();
    assert!(printed.contains("export \"framed\" cannot run; create a new instance"), "{printed:?}");
}

#[test]
fn a_plain_import_that_returns_keeps_working() {
    let mut g = guest();
    for x in 0..100 {
        assert_eq!(g.call::<i32, i32>("double_via_plain", x).unwrap(), 2 * x);
    }
    assert_eq!(g.call::<(i32, i32), i32>("add", (1, 2)).unwrap(), 3);
    assert_eq!(g.stderr(), "");
}

#[test]
fn a_host_import_that_traps_poisons_the_instance() {
    let mut g = guest();
    assert_eq!(g.call::<(i32, i32), i32>("add", (1, 2)).unwrap(), 3);
    let err = g.call::<(), i32>("call_failing_plain", ()).unwrap_err();
    assert!(format!("{err:?}").contains("the host function failed"), "{err:?}");
    assert_poisoned(&mut g);
}

#[test]
fn fuel_exhaustion_poisons_the_instance() {
    let engine = engine_with(|c| {
        c.consume_fuel(true);
    });
    let mut g = guest_on(&engine, |g| g.store.set_fuel(1_000_000).unwrap());
    assert_eq!(g.call::<u64, u64>("spin", 10).unwrap(), 45);
    let err = g.call::<u64, u64>("spin", u64::MAX).unwrap_err();
    assert_eq!(err.downcast_ref::<Trap>(), Some(&Trap::OutOfFuel), "{err:?}");
    g.store.set_fuel(1_000_000).unwrap();
    assert_poisoned(&mut g);
}

#[test]
fn epoch_interruption_poisons_the_instance() {
    let engine = engine_with(|c| {
        c.epoch_interruption(true);
    });
    let mut g = guest_on(&engine, |g| g.store.set_epoch_deadline(1));
    g.store.epoch_deadline_callback(|_| Ok(UpdateDeadline::Interrupt));
    let ticker = engine.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        ticker.increment_epoch();
    });
    let err = g.call::<u64, u64>("spin", u64::MAX).unwrap_err();
    assert_eq!(err.downcast_ref::<Trap>(), Some(&Trap::Interrupt), "{err:?}");
    g.store.set_epoch_deadline(u64::MAX / 2);
    assert_poisoned(&mut g);
}

#[test]
fn stack_exhaustion_poisons_the_instance() {
    let mut g = guest();
    assert_eq!(g.call::<u32, u32>("deep", 100).unwrap(), 100);
    let err = g.call::<u32, u32>("deep", u32::MAX).unwrap_err();
    assert_eq!(err.downcast_ref::<Trap>(), Some(&Trap::StackOverflow), "{err:?}");
    assert_poisoned(&mut g);
}

#[test]
fn reentry_through_wasmimport_is_allowed_through_a_plain_import_it_poisons() {
    let mut g = guest();
    // `recurse` re-enters through `#[wasmimport] fn reenter`.
    assert_eq!(g.call::<i32, i32>("recurse", 20).unwrap(), 20);
    assert_eq!(g.store.data().max_depth, 20);
    assert_eq!(g.call::<u32, u32>("deep", 10).unwrap(), 10);
    // `recurse_plain` re-enters through a plain `extern` import: indistinguishable from a call
    // made after a trap left the module mid-call, so refused, saying what to do.
    assert_eq!(g.call::<i32, i32>("recurse_plain", 0).unwrap(), 0);
    let err = g.call::<i32, i32>("recurse_plain", 2).unwrap_err();
    assert_eq!(err.downcast_ref::<Trap>(), Some(&Trap::UnreachableCodeReached), "{err:?}");
    assert_eq!(
        g.stderr(),
        "wasmexport: module poisoned: an earlier call did not return (it trapped); export \
         \"recurse_plain\" cannot run; create a new instance (if this call came from inside a \
         host import, declare that import with #[wasmimport]: only then is re-entering \
         allowed)\n"
    );
    assert_poisoned(&mut g);
}

#[test]
fn a_nested_trap_that_the_host_swallows_stops_the_outer_call() {
    let mut g = guest();
    let err = g.call::<(), i32>("call_swallowing", ()).unwrap_err();
    assert_eq!(err.downcast_ref::<Trap>(), Some(&Trap::UnreachableCodeReached), "{err:?}");
    assert_eq!(
        g.stderr(),
        "wasmexport: module poisoned: export \"trap_now\", called from inside a host import, did \
         not return (it trapped, and the host went on); the call that made the host call cannot \
         go on; create a new instance\n"
    );
    assert_poisoned(&mut g);
}

/// The documented limit: a trap raised by a `#[wasmimport]` host function itself leaves the
/// module exactly as a host call in flight does, so the next call runs as a re-entrant call
/// (the runtime's state is whole at every `#[wasmimport]` call, so it runs correctly); the
/// trapped call's task is never resumed and still counts in `task_count()`.
#[test]
fn a_trap_raised_by_a_wasmimport_host_fn_is_taken_for_a_host_call_in_flight() {
    let mut g = guest();
    assert_eq!(g.call::<(), u32>("tasks", ()).unwrap(), 1);
    let err = g.call::<(), i32>("call_failing", ()).unwrap_err();
    assert!(format!("{err:?}").contains("the host function failed"), "{err:?}");
    assert_eq!(g.call::<(i32, i32), i32>("add", (1, 2)).unwrap(), 3);
    // This call, the trapped `call_failing` and the task it spawned.
    assert_eq!(g.call::<(), u32>("tasks", ()).unwrap(), 3);
    assert_eq!(g.call::<i32, i32>("recurse", 5).unwrap(), 5);
    assert_eq!(g.stderr(), "");
}

#[test]
fn a_deadlock_poisons_the_instance_and_later_calls_say_so() {
    let mut g = guest();
    let err = g.call::<(), ()>("wait_forever", ()).unwrap_err();
    assert_eq!(err.downcast_ref::<Trap>(), Some(&Trap::UnreachableCodeReached), "{err:?}");
    assert_eq!(
        g.stderr(),
        "wasmexport: all tasks are asleep - deadlock! export \"wait_forever\" is waiting for \
         something that no task or timer can deliver\n"
    );
    for _ in 0..2 {
        let before = g.stderr().len();
        let err = g.call::<(i32, i32), i32>("add", (1, 2)).unwrap_err();
        assert_eq!(err.downcast_ref::<Trap>(), Some(&Trap::UnreachableCodeReached), "{err:?}");
        assert_eq!(
            &g.stderr()[before..],
            "wasmexport: module poisoned by a deadlock in export \"wait_forever\": export \"add\" \
             cannot run; create a new instance\n"
        );
    }
    assert!(g.call::<(), u32>("tasks", ()).is_err());
}

#[test]
fn a_misuse_the_runtime_traps_on_poisons_the_instance_and_later_calls_say_so() {
    let mut g = guest();
    let err = g.call::<(), u32>("join_twice", ()).unwrap_err();
    assert_eq!(err.downcast_ref::<Trap>(), Some(&Trap::UnreachableCodeReached), "{err:?}");
    assert_eq!(g.stderr(), "wasmexport: a JoinHandle was polled after it completed\n");
    let err = g.call::<(i32, i32), i32>("add", (1, 2)).unwrap_err();
    assert_eq!(err.downcast_ref::<Trap>(), Some(&Trap::UnreachableCodeReached), "{err:?}");
    assert!(
        g.stderr().ends_with(
            "wasmexport: module poisoned by an earlier trap in export \"join_twice\": export \
             \"add\" cannot run; create a new instance\n"
        ),
        "{}",
        g.stderr()
    );
}

/// Each level of `recurse_fat` holds 16 KiB of the shadow stack (the linear-memory stack that
/// rustc places below the data): it runs out long before the engine's own stack, the access
/// below it traps, and `__stack_pointer` stays where the trap left it.
#[test]
fn shadow_stack_exhaustion_poisons_the_instance() {
    let mut g = guest();
    assert_eq!(g.call::<i32, i32>("recurse_fat", 10).unwrap(), 10);
    let err = g.call::<i32, i32>("recurse_fat", 1_000_000).unwrap_err();
    assert_eq!(err.downcast_ref::<Trap>(), Some(&Trap::MemoryOutOfBounds), "{err:?}");
    let depth = g.store.data().max_depth;
    eprintln!("16 KiB more per level: the shadow stack ran out at depth {depth}");
    // One copy of each call's future on the shadow stack, not two (it is built where it is
    // polled): 1 MiB / 16 KiB = 64 levels at most.
    assert!((48..=64).contains(&depth), "the shadow stack ran out at depth {depth}");
    assert_poisoned(&mut g);
}

/// Plain async re-entry, with an engine stack big enough that the shadow stack (1 MiB, rustc's
/// default) runs out first.
#[test]
fn deep_async_reentry_exhausts_the_shadow_stack_and_poisons_the_instance() {
    on_big_stack(|| {
        let engine = engine_with(|c| {
            c.max_wasm_stack(256 << 20).async_stack_size(257 << 20);
        });
        let mut g = guest_on(&engine, |_| {});
        let err = g.call::<i32, i32>("recurse_async", 1_000_000).unwrap_err();
        assert_eq!(err.downcast_ref::<Trap>(), Some(&Trap::MemoryOutOfBounds), "{err:?}");
        let depth = g.store.data().max_depth;
        eprintln!(
            "async re-entry ran out of shadow stack at depth {depth}: {} bytes per level",
            (1 << 20) / depth
        );
        // Under 128 bytes a level (the future, the waker, the executor's bookkeeping).
        assert!(depth > 8192, "{depth}");
        assert_poisoned(&mut g);
    });
}

/// Sweeps fuel over one call of `double_via_import` (a `#[wasmimport]` call and nothing else)
/// in the abort guest at `path`: fuel that runs out anywhere in it must leave the instance
/// either untouched (the next call runs and counts only itself) or poisoned, never looking like
/// a host call still in flight (the next call would run and count the trapped call as a task).
/// Returns how many fuel amounts left it untouched and how many poisoned it.
fn sweep_fuel_over_a_wasmimport_call(path: &std::path::Path) -> (u32, u32) {
    let engine = engine_with(|c| {
        c.consume_fuel(true);
    });
    let module = Module::from_file(&engine, path).unwrap();
    let (mut ran_on, mut poisoned) = (0, 0);
    for fuel in 0.. {
        let mut g = instance_of(&engine, &module, |g| g.store.set_fuel(u64::MAX / 2).unwrap());
        g.store.set_fuel(fuel).unwrap();
        let err = match g.call::<i32, i32>("double_via_import", 21) {
            Ok(x) => {
                assert_eq!(x, 42);
                break;
            }
            Err(err) => err,
        };
        assert_eq!(err.downcast_ref::<Trap>(), Some(&Trap::OutOfFuel), "fuel {fuel}: {err:?}");
        g.store.set_fuel(u64::MAX / 2).unwrap();
        let before = g.stderr().len();
        match g.call::<(), u32>("tasks", ()) {
            Ok(n) => {
                assert_eq!(n, 1, "fuel {fuel}: the trapped call still counts as a task");
                ran_on += 1;
            }
            Err(err) => {
                let printed = &g.stderr()[before..];
                assert!(printed.starts_with("wasmexport: module poisoned"), "{}", trap_text(&err));
                poisoned += 1;
            }
        }
    }
    eprintln!(
        "{}: {ran_on} fuel amounts left the instance untouched, {poisoned} poisoned it",
        path.display()
    );
    (ran_on, poisoned)
}

/// A debug build makes every helper a real call, and wasmtime checks fuel on entry to each:
/// the end of the in-flight mark must still follow the host function's return with no call in
/// between.
#[test]
fn fuel_running_out_anywhere_around_a_wasmimport_call_poisons_in_a_debug_build() {
    let (_, poisoned) = sweep_fuel_over_a_wasmimport_call(&debug_guest_path("abort"));
    assert!(poisoned > 0);
}

/// A release build checks fuel only on entry to the export (the wrapper and the gate are
/// inlined into it), before the gate is touched.
#[test]
fn fuel_running_out_anywhere_around_a_wasmimport_call_poisons_in_a_release_build() {
    let (untouched, _) =
        sweep_fuel_over_a_wasmimport_call(&wasmexport_engine_tests::guest_path("abort"));
    assert!(untouched > 0);
}
