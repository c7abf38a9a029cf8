//! WASI hosts that cannot wait on a clock: some have no clock subscriptions in `poll_oneoff`.
//! A sleep there traps with a `wasmexport:` line that says so, instead of spinning or hanging.
//! The hosts are wasmtime with WASI's `poll_oneoff` replaced.

use wasmexport_engine_tests::{Guest, Host, engine, module, reentry_imports};
use wasmtime::{Caller, Linker, Result};

/// The exec guest with `poll_oneoff` replaced by `poll`, called as (subscriptions, events,
/// count, nevents pointer) and answering an errno.
fn exec_with_poll_oneoff(
    poll: impl Fn(Caller<'_, Host>, i32, i32, i32, i32) -> i32 + Send + Sync + 'static,
) -> Guest {
    Guest::init_with_imports(engine(), &module("exec"), |linker: &mut Linker<Host>| -> Result<()> {
        reentry_imports(linker)?;
        linker.allow_shadowing(true);
        linker.func_wrap("wasi_snapshot_preview1", "poll_oneoff", poll)?;
        Ok(())
    })
    .unwrap()
}

fn assert_sleep_traps(mut g: Guest, answer: &str) {
    // Calls that do not wait are unaffected.
    assert_eq!(g.call::<(i32, i32), i32>("async_add", (40, 2)).unwrap(), 42);
    let err = g.call::<u32, ()>("sleep_ms", 20).unwrap_err();
    assert!(err.downcast_ref::<wasmtime::Trap>().is_some(), "a trap: {err:?}");
    assert_eq!(
        g.stderr(),
        format!(
            "wasmexport: the WASI host cannot wait for a timer: poll_oneoff with a clock \
             subscription {answer}; a call that waits for a timer with nothing else to do \
             needs a host whose poll_oneoff supports clock subscriptions; elsewhere, let the \
             host's event loop run the timers: call wasmexport::drive() from an export the host \
             calls again (a tick), or make the export #[wasmexport(pending)]\n"
        )
    );
    // The trap left the call half-way, as any trap does.
    assert!(g.call::<(i32, i32), i32>("add", (1, 2)).is_err());
    let last = g.stderr().lines().last().unwrap().to_string();
    assert!(
        last.starts_with("wasmexport: module poisoned: an earlier call did not return"),
        "{last}"
    );
}

#[test]
fn poll_oneoff_that_fails_traps_with_its_errno() {
    const ENOTSUP: i32 = 58;
    let g = exec_with_poll_oneoff(|_, _, _, _, _| ENOTSUP);
    assert_sleep_traps(g, "failed with errno 58");
}

#[test]
fn poll_oneoff_that_returns_no_event_traps() {
    let g = exec_with_poll_oneoff(|mut caller, _, _, _, nevents| {
        let memory = caller.get_export("memory").and_then(|e| e.into_memory()).unwrap();
        memory.write(&mut caller, nevents as usize, &0u32.to_le_bytes()).unwrap();
        0
    });
    assert_sleep_traps(g, "returned without the clock's event (0 events)");
}

#[test]
fn poll_oneoff_that_writes_the_event_but_not_the_count_still_sleeps() {
    // As `@bjorn3/browser_wasi_shim` does: it waits, writes the clock's event, and leaves the
    // event count alone.
    let mut g = exec_with_poll_oneoff(|mut caller, subscriptions, events, _, _| {
        let memory = caller.get_export("memory").and_then(|e| e.into_memory()).unwrap();
        let mut subscription = [0u8; 48];
        memory.read(&caller, subscriptions as usize, &mut subscription).unwrap();
        let timeout = u64::from_le_bytes(subscription[24..32].try_into().unwrap());
        std::thread::sleep(std::time::Duration::from_nanos(timeout));
        let mut event = [0u8; 32];
        event[..8].copy_from_slice(&subscription[..8]); // userdata; error 0, type 0 (clock)
        memory.write(&mut caller, events as usize, &event).unwrap();
        0
    });
    let start = std::time::Instant::now();
    g.call::<u32, ()>("sleep_ms", 20).unwrap();
    assert!(start.elapsed() >= std::time::Duration::from_millis(20), "{:?}", start.elapsed());
    assert_eq!(g.call::<u32, u32>("two_sleepers", 50).unwrap(), 3);
    assert_eq!(g.stderr(), "");
}
