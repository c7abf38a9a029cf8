//! The bytes of the `poll_oneoff` subscription the executor sends when it sleeps: a host reads
//! all 48 (some read fields wider than the ABI says, as pywasm reads the u32 clock id as a
//! u64), so every padding byte is written, as zero, whatever the guest's stack held before.
//! The host is wasmtime with WASI's `poll_oneoff` replaced by one that records the bytes.

use std::sync::{Arc, Mutex};
use wasmexport_engine_tests::{Guest, Host, debug_guest_path, engine, module, reentry_imports};
use wasmtime::{Caller, Linker, Module, Result};

/// The subscriptions the recording `poll_oneoff` saw, one per call.
type Seen = Arc<Mutex<Vec<[u8; 48]>>>;

/// The exec guest whose `poll_oneoff` records each subscription, waits its relative timeout
/// and answers with the clock's event.
fn exec_recording_subscriptions(module: &Module) -> (Guest, Seen) {
    let seen = Seen::default();
    let record = seen.clone();
    let poll = move |mut caller: Caller<'_, Host>, subs: u32, events: u32, count: u32, n: u32| {
        assert_eq!(count, 1, "one subscription");
        let memory = caller.get_export("memory").and_then(|e| e.into_memory()).unwrap();
        let mut subscription = [0u8; 48];
        memory.read(&caller, subs as usize, &mut subscription).unwrap();
        record.lock().unwrap().push(subscription);
        let timeout = u64::from_le_bytes(subscription[24..32].try_into().unwrap());
        std::thread::sleep(std::time::Duration::from_nanos(timeout));
        let mut event = [0u8; 32];
        event[..8].copy_from_slice(&subscription[..8]); // userdata; error 0, type 0 (clock)
        memory.write(&mut caller, events as usize, &event).unwrap();
        memory.write(&mut caller, n as usize, &1u32.to_le_bytes()).unwrap();
        0
    };
    let g = Guest::init_with_imports(engine(), module, |linker: &mut Linker<Host>| -> Result<()> {
        reentry_imports(linker)?;
        linker.allow_shadowing(true);
        linker.func_wrap("wasi_snapshot_preview1", "poll_oneoff", poll)?;
        Ok(())
    })
    .unwrap();
    (g, seen)
}

/// The subscription's fields by the witx layout for wasm32, and its padding bytes.
fn check(subscription: &[u8; 48], timeout_ns: u64) {
    let u64_at = |at: usize| u64::from_le_bytes(subscription[at..at + 8].try_into().unwrap());
    assert_eq!(subscription[8], 0, "tag: clock");
    assert_eq!(u32::from_le_bytes(subscription[16..20].try_into().unwrap()), 1, "monotonic");
    assert!(u64_at(24) <= timeout_ns && u64_at(24) > 0, "timeout {} ns", u64_at(24));
    assert_eq!(u64_at(32), 0, "precision");
    assert_eq!(u16::from_le_bytes([subscription[40], subscription[41]]), 0, "flags: relative");
    for padding in [9..16, 20..24, 42..48] {
        assert!(
            subscription[padding.clone()].iter().all(|&b| b == 0),
            "padding bytes {padding:?} are not zero: {subscription:02x?}"
        );
    }
}

/// Fills the guest's stack with non-zero bytes, then sleeps, and checks the subscription.
fn sleep_over_a_dirty_stack(module: &Module) {
    let (mut g, seen) = exec_recording_subscriptions(module);
    g.call::<u32, ()>("dirty_stack", 0xa5).unwrap();
    g.call::<u32, ()>("sleep_ms", 5).unwrap();
    let subscriptions = seen.lock().unwrap().clone();
    assert!(!subscriptions.is_empty(), "the sleep waits in poll_oneoff");
    for subscription in &subscriptions {
        check(subscription, 5_000_000);
    }
    assert_eq!(g.stderr(), "");
}

#[test]
fn every_byte_of_the_clock_subscription_is_written_even_over_a_dirty_stack() {
    // A debug build stores each field at its width, so a padding byte nobody writes keeps what
    // the stack held; an optimized one may happen to store zeros there with a wider field.
    let debug = Module::from_file(engine(), debug_guest_path("exec")).unwrap();
    sleep_over_a_dirty_stack(&debug);
    sleep_over_a_dirty_stack(&module("exec"));
}
