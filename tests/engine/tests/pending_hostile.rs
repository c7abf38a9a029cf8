//! The host-async ABI against a hostile (or buggy) host on wasmtime: tokens completed twice,
//! never handed out, 0, negative, far apart; buffers asked twice, empty, negative, too big,
//! overrun; re-entry from inside the import that starts an operation and from inside
//! `[task-return]`; futures dropped while the host holds their token; poisoning after a panic;
//! memory over a million stray completions. Every call either does what `docs/async-abi.md`
//! says or traps with a `wasmexport:` line.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasmexport_engine_tests::{Guest, Host, engine, engine_with, guest_path, module, trap_text};
use wasmtime::{Caller, Engine, Linker, Module};

const EXIT: i32 = 0;
const WAIT: i32 = 2;

type StartHook = Rc<dyn Fn(&mut Caller<'_, Host>, u32) -> u32>;
type ReturnHook = Rc<dyn Fn(&mut Caller<'_, Host>, i32, i64)>;

/// What the host saw, and what it does when the guest calls it.
#[derive(Default)]
struct Seen {
    /// (what, token) of each operation the guest started.
    started: Vec<(u32, u32)>,
    /// (call id, result) of each `[task-return]`.
    returned: Vec<(i32, i64)>,
    next_token: u32,
}

thread_local! {
    static SEEN: RefCell<Seen> = RefCell::default();
    /// Runs in `host.start` (with `what`), returns the token; unset: the next of a counter.
    static ON_START: RefCell<Option<StartHook>> = RefCell::default();
    /// Runs in every `[task-return]` after the result is recorded.
    static ON_RETURN: RefCell<Option<ReturnHook>> = RefCell::default();
}

fn on_start(hook: impl Fn(&mut Caller<'_, Host>, u32) -> u32 + 'static) {
    ON_START.set(Some(Rc::new(hook)));
}

fn on_return(hook: impl Fn(&mut Caller<'_, Host>, i32, i64) + 'static) {
    ON_RETURN.set(Some(Rc::new(hook)));
}

fn next_token() -> u32 {
    SEEN.with_borrow_mut(|s| {
        s.next_token += 1;
        s.next_token
    })
}

fn returned(caller: &mut Caller<'_, Host>, id: i32, value: i64) {
    SEEN.with_borrow_mut(|s| s.returned.push((id, value)));
    // Cloned out: a hook may re-enter the guest, which may return again.
    if let Some(hook) = ON_RETURN.with_borrow(Clone::clone) {
        hook(caller, id, value);
    }
}

/// The result returned for call `id`, taken.
fn take_result(id: i32) -> Option<i64> {
    SEEN.with_borrow_mut(|s| {
        let i = s.returned.iter().position(|&(r, _)| r == id)?;
        Some(s.returned.swap_remove(i).1)
    })
}

fn last_token() -> u32 {
    SEEN.with_borrow(|s| s.started.last().unwrap().1)
}

/// The pending guest on `engine`, initialized, with the hostile host's imports.
fn guest_on(engine: &Engine, module: &Module) -> Guest {
    SEEN.with_borrow_mut(|s| *s = Seen::default());
    ON_START.take();
    ON_RETURN.take();
    Guest::init_with_imports(engine, module, |linker: &mut Linker<Host>| {
        linker.func_wrap("host", "start", |mut caller: Caller<'_, Host>, what: u32| -> u32 {
            let token = match ON_START.with_borrow(Clone::clone) {
                Some(hook) => hook(&mut caller, what),
                None => next_token(),
            };
            SEEN.with_borrow_mut(|s| s.started.push((what, token)));
            token
        })?;
        for name in ["add_later", "echo", "len_after", "stuck", "await_value"].into_iter().chain([
            "value_or_timeout",
            "await_twice",
            "start_many",
        ]) {
            let import = format!("[task-return]{name}");
            linker.func_wrap(
                "wasmexport",
                &import,
                |mut caller: Caller<'_, Host>, id: i32, r: i32| {
                    returned(&mut caller, id, r.into());
                },
            )?;
        }
        for name in ["sum_bytes", "await_bytes", "bytes_len"] {
            let import = format!("[task-return]{name}");
            linker.func_wrap(
                "wasmexport",
                &import,
                |mut caller: Caller<'_, Host>, id: i32, r: i64| {
                    returned(&mut caller, id, r);
                },
            )?;
        }
        for name in ["nap", "panics_later"] {
            let import = format!("[task-return]{name}");
            linker.func_wrap("wasmexport", &import, |mut caller: Caller<'_, Host>, id: i32| {
                returned(&mut caller, id, 0);
            })?;
        }
        Ok(())
    })
    .unwrap()
}

fn guest() -> Guest {
    guest_on(engine(), &module("pending"))
}

fn complete(g: &mut Guest, token: u32, value: i32) -> i32 {
    g.call::<(i32, i32), i32>("wasmexport_complete", (token as i32, value)).unwrap()
}

fn buffer(g: &mut Guest, token: u32, len: i32) -> i32 {
    g.call::<(i32, i32), i32>("wasmexport_buffer", (token as i32, len)).unwrap()
}

fn write(g: &mut Guest, ptr: i32, bytes: &[u8]) {
    let memory = g.instance.get_memory(&mut g.store, "memory").unwrap();
    memory.write(&mut g.store, ptr as u32 as usize, bytes).unwrap();
}

/// Starts `await_value(token)`: the call's id, after checking it waits.
fn await_value(g: &mut Guest, token: u32) -> i32 {
    let status = g.call::<u32, i32>("await_value", token).unwrap();
    assert_eq!(status & 3, WAIT, "status {status:#x}");
    status >> 4
}

fn pages(g: &mut Guest) -> u32 {
    g.call::<(), u32>("pages", ()).unwrap()
}

fn tasks(g: &mut Guest) -> u32 {
    g.call::<(), u32>("tasks", ()).unwrap()
}

/// Calls export `name` of the guest from inside a host function.
fn call_in<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
    caller: &mut Caller<'_, Host>,
    name: &str,
    params: P,
) -> wasmtime::Result<R> {
    wasmexport_engine_tests::call_back(caller, name, params)
}

// Tokens.

#[test]
fn a_second_completion_before_the_future_takes_the_first_is_ignored() {
    let mut g = guest();
    // Two operations; the call awaits the first, so the second's value waits in the table.
    let status = g.call::<(u32, u32), i32>("start_many", (10, 2)).unwrap();
    assert_eq!(status & 3, WAIT);
    let (first, second) = SEEN.with_borrow(|s| (s.started[0].1, s.started[1].1));
    complete(&mut g, second, 20);
    complete(&mut g, second, 999);
    complete(&mut g, first, 1);
    assert_eq!(take_result(status >> 4), Some(21));
    assert_eq!(tasks(&mut g), 1);
    assert_eq!(g.stderr(), "");
}

#[test]
fn a_second_completion_after_the_future_took_the_first_waits_for_the_next_future() {
    // The documented outcome of that host error: the value is kept for the token's next future.
    let mut g = guest();
    let id = await_value(&mut g, 5);
    complete(&mut g, 5, 1);
    assert_eq!(take_result(id), Some(1));
    complete(&mut g, 5, 2);
    let status = g.call::<u32, i32>("await_value", 5).unwrap();
    assert_eq!(status & 3, EXIT, "the kept value: {status:#x}");
    assert_eq!(take_result(status >> 4), Some(2));
}

#[test]
fn tokens_of_every_shape_complete_their_own_future() {
    // 0, the highest, negative as an `i32`, and far apart: the ring's place of each collides
    // with others', so the hash map serves some of them.
    let tokens =
        [0u32, 1, u32::MAX, 1 << 31, (1 << 31) - 1, 64, 128, 1 << 14, 3 << 14, 0xdead_beef];
    let mut g = guest();
    let ids: Vec<i32> = tokens.iter().map(|&t| await_value(&mut g, t)).collect();
    for (i, &t) in tokens.iter().enumerate().rev() {
        complete(&mut g, t, i as i32 * 3);
    }
    for (i, id) in ids.into_iter().enumerate() {
        assert_eq!(take_result(id), Some(i as i64 * 3), "token {:#x}", tokens[i]);
    }
    // The same tokens completed before any future asks: each kept for its own.
    for (i, &t) in tokens.iter().enumerate() {
        complete(&mut g, t, -(i as i32));
    }
    for (i, &t) in tokens.iter().enumerate().rev() {
        let status = g.call::<u32, i32>("await_value", t).unwrap();
        assert_eq!(status & 3, EXIT, "token {t:#x}: {status:#x}");
        assert_eq!(take_result(status >> 4), Some(-(i as i64)));
    }
    assert_eq!(tasks(&mut g), 1);
}

#[test]
fn ten_thousand_random_tokens_in_flight_at_once() {
    let mut g = guest();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut random = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x as u32
    };
    let mut calls = Vec::new();
    let mut used = std::collections::HashSet::new();
    while calls.len() < 10_000 {
        let token = random();
        if used.insert(token) {
            calls.push((await_value(&mut g, token), token));
        }
    }
    // Half completed in an order of their own, the rest completed first and awaited after.
    calls.sort_by_key(|&(_, t)| t.wrapping_mul(2_654_435_761));
    for &(_, token) in &calls {
        complete(&mut g, token, token as i32 ^ 0x5555);
    }
    for (id, token) in calls {
        assert_eq!(take_result(id), Some(i64::from(token as i32 ^ 0x5555)), "token {token}");
    }
    let early: Vec<u32> = (0..10_000).map(|_| random()).collect();
    let early: Vec<u32> = early.into_iter().filter(|t| used.insert(*t)).collect();
    for &t in &early {
        complete(&mut g, t, t as i32 >> 3);
    }
    for &t in early.iter().rev() {
        let status = g.call::<u32, i32>("await_value", t).unwrap();
        assert_eq!(status & 3, EXIT);
        assert_eq!(take_result(status >> 4), Some(i64::from(t as i32 >> 3)));
    }
    assert_eq!(tasks(&mut g), 1);
}

#[test]
fn a_completion_after_the_future_was_dropped_is_ignored_and_the_token_can_serve_again() {
    let mut g = guest();
    // The timer wins: the operation's future is dropped while the host holds the token.
    let status = g.call::<(u32, u32), i32>("value_or_timeout", (1, 0)).unwrap();
    assert_eq!(status & 3, EXIT, "{status:#x}");
    assert_eq!(take_result(status >> 4), Some(-1));
    let token = last_token();
    assert_eq!(complete(&mut g, token, 77), -1);
    // The host hands the same token out again: the new future gets the new value.
    let id = await_value(&mut g, token);
    complete(&mut g, token, 78);
    assert_eq!(take_result(id), Some(78));
    // Dropped before its first poll: likewise.
    let token = g.call::<u32, u32>("start_and_drop", 2).unwrap();
    complete(&mut g, token, 5);
    let id = await_value(&mut g, token);
    complete(&mut g, token, 6);
    assert_eq!(take_result(id), Some(6));
    assert_eq!(tasks(&mut g), 1);
    assert_eq!(g.stderr(), "");
}

#[test]
fn a_completion_before_the_future_is_dropped_unpolled_goes_with_it() {
    let mut g = guest();
    on_start(|caller, _| {
        let token = next_token();
        call_in::<(i32, i32), i32>(caller, "wasmexport_complete", (token as i32, 9)).unwrap();
        token
    });
    let token = g.call::<u32, u32>("start_and_drop", 1).unwrap();
    ON_START.take();
    let id = await_value(&mut g, token);
    complete(&mut g, token, 10);
    assert_eq!(take_result(id), Some(10), "not the value of the dropped future");
}

#[test]
fn two_futures_awaiting_one_token_at_once_trap() {
    let mut g = guest();
    let err = g.call::<u32, i32>("await_twice", 4).unwrap_err();
    assert!(trap_text(&err).contains("wasm trap"), "{err:?}");
    assert!(
        g.stderr().contains(
            "wasmexport: two pending::value or pending::bytes futures wait for host token 4 at \
             once: the host completes a token once, for one future\n"
        ),
        "{}",
        g.stderr()
    );
}

// Buffers.

#[test]
fn a_second_buffer_for_a_token_replaces_the_first() {
    let mut g = guest();
    let id = g.call::<u32, i32>("await_bytes", 1).unwrap() >> 4;
    let a = buffer(&mut g, 1, 3);
    write(&mut g, a, &[1, 1, 1]);
    let b = buffer(&mut g, 1, 2);
    write(&mut g, b, &[7, 8]);
    complete(&mut g, 1, 2);
    assert_eq!(take_result(id), Some(15));
}

#[test]
fn an_empty_buffer_gives_no_bytes_and_a_longer_completion_an_error() {
    let mut g = guest();
    let id = g.call::<u32, i32>("bytes_len", 1).unwrap() >> 4;
    assert_eq!(buffer(&mut g, 1, 0), 0);
    complete(&mut g, 1, 0);
    assert_eq!(take_result(id), Some(0), "Ok, empty");
    let id = g.call::<u32, i32>("bytes_len", 2).unwrap() >> 4;
    assert_eq!(buffer(&mut g, 2, 0), 0);
    complete(&mut g, 2, 3);
    assert_eq!(take_result(id), Some(3 - 1_000_000), "Err(3)");
}

#[test]
fn a_completion_longer_than_the_buffer_or_negative_is_the_error_code() {
    let mut g = guest();
    for (token, value) in [(1u32, 5), (2, -3), (3, i32::MIN), (4, i32::MAX)] {
        let id = g.call::<u32, i32>("bytes_len", token).unwrap() >> 4;
        let ptr = buffer(&mut g, token, 4);
        write(&mut g, ptr, &[1, 2, 3, 4]);
        complete(&mut g, token, value);
        assert_eq!(take_result(id), Some(i64::from(value) - 1_000_000), "value {value}");
    }
    // Shorter: the first bytes.
    let id = g.call::<u32, i32>("await_bytes", 5).unwrap() >> 4;
    let ptr = buffer(&mut g, 5, 4);
    write(&mut g, ptr, &[1, 2, 3, 4]);
    complete(&mut g, 5, 2);
    assert_eq!(take_result(id), Some(3));
}

#[test]
fn a_bytes_token_completed_without_a_buffer_gets_the_code() {
    let mut g = guest();
    let id = g.call::<u32, i32>("bytes_len", 1).unwrap() >> 4;
    complete(&mut g, 1, 0);
    assert_eq!(take_result(id), Some(-1_000_000), "Err(0), not Ok(empty)");
}

#[test]
fn a_value_token_with_a_buffer_gets_the_value_and_the_buffer_is_freed() {
    let mut g = guest();
    let round = |g: &mut Guest, token: u32| {
        let id = await_value(g, token);
        let ptr = buffer(g, token, 4096);
        assert_ne!(ptr, 0);
        complete(g, token, 42);
        assert_eq!(take_result(id), Some(42));
    };
    for t in 0..100 {
        round(&mut g, t);
    }
    let before = pages(&mut g);
    for t in 100..20_100 {
        round(&mut g, t);
    }
    assert_eq!(pages(&mut g), before, "the buffers were not freed");
}

#[test]
fn a_negative_buffer_length_reserves_nothing_and_the_completion_is_the_code() {
    let mut g = guest();
    let id = g.call::<u32, i32>("bytes_len", 1).unwrap() >> 4;
    assert_eq!(buffer(&mut g, 1, -1), 0);
    assert_eq!(buffer(&mut g, 1, i32::MIN), 0);
    complete(&mut g, 1, 1);
    assert_eq!(take_result(id), Some(1 - 1_000_000));
}

/// The pending guest on an engine whose memories cannot grow past 64 MiB.
fn small_memory_guest() -> Guest {
    let engine = engine_with(|c| {
        c.memory_reservation(64 << 20).memory_may_move(false).memory_reservation_for_growth(0);
    });
    let module = Module::from_file(&engine, guest_path("pending")).unwrap();
    guest_on(&engine, &module)
}

#[test]
fn a_buffer_the_heap_cannot_give_is_0_and_the_completion_is_the_code() {
    let mut g = small_memory_guest();
    let id = g.call::<u32, i32>("bytes_len", 1).unwrap() >> 4;
    assert_eq!(buffer(&mut g, 1, i32::MAX), 0);
    assert_eq!(buffer(&mut g, 1, 1 << 30), 0);
    complete(&mut g, 1, 1 << 30);
    assert_eq!(take_result(id), Some((1 << 30) - 1_000_000));
    // The heap still serves what fits.
    let id = g.call::<u32, i32>("await_bytes", 2).unwrap() >> 4;
    let ptr = buffer(&mut g, 2, 1 << 20);
    assert_ne!(ptr, 0);
    write(&mut g, ptr, &[9; 3]);
    complete(&mut g, 2, 3);
    assert_eq!(take_result(id), Some(27));
    assert_eq!(g.stderr(), "");
}

#[test]
fn a_failed_second_buffer_leaves_no_buffer_behind() {
    // The doc: a host that gets 0 for a length above 0 writes nothing and completes the token
    // all the same, and the future gets the error, not bytes. An earlier buffer for the same
    // token must not stand in for the one that failed.
    let mut g = small_memory_guest();
    let id = g.call::<u32, i32>("bytes_len", 1).unwrap() >> 4;
    let ptr = buffer(&mut g, 1, 16);
    assert_ne!(ptr, 0);
    assert_eq!(buffer(&mut g, 1, i32::MAX), 0);
    complete(&mut g, 1, 16);
    assert_eq!(take_result(id), Some(16 - 1_000_000), "Err(16), not the old buffer");
    // Likewise after a negative length.
    let id = g.call::<u32, i32>("bytes_len", 2).unwrap() >> 4;
    assert_ne!(buffer(&mut g, 2, 16), 0);
    assert_eq!(buffer(&mut g, 2, -16), 0);
    complete(&mut g, 2, 16);
    assert_eq!(take_result(id), Some(16 - 1_000_000), "Err(16), not the old buffer");
}

#[test]
fn a_buffer_asked_after_the_completion_reserves_nothing_and_keeps_the_bytes() {
    let mut g = guest();
    // Completed before any future asks, then asked a buffer again (a host that completes
    // twice, or hands the token out again too early).
    let ptr = buffer(&mut g, 8, 3);
    write(&mut g, ptr, &[1, 2, 3]);
    complete(&mut g, 8, 3);
    assert_eq!(buffer(&mut g, 8, 3), 0);
    assert_eq!(buffer(&mut g, 8, -1), 0);
    let status = g.call::<u32, i32>("await_bytes", 8).unwrap();
    assert_eq!(status & 3, EXIT);
    assert_eq!(take_result(status >> 4), Some(6), "the bytes of the completion");
}

// Re-entry.

#[test]
fn the_host_reserves_and_completes_bytes_from_inside_the_import_that_starts_them() {
    let mut g = guest();
    on_start(|caller, _| {
        let token = next_token();
        let ptr = call_in::<(i32, i32), i32>(caller, "wasmexport_buffer", (token as i32, 3));
        let ptr = ptr.unwrap();
        let memory = caller.get_export("memory").unwrap().into_memory().unwrap();
        memory.write(&mut *caller, ptr as usize, &[5, 6, 7]).unwrap();
        assert_eq!(call_in::<(), i32>(caller, "wasmexport_drive", ()).unwrap(), -1);
        call_in::<(i32, i32), i32>(caller, "wasmexport_complete", (token as i32, 3)).unwrap();
        token
    });
    let status = g.call::<u32, i32>("sum_bytes", 1).unwrap();
    assert_eq!(status & 3, EXIT, "{status:#x}");
    assert_eq!(take_result(status >> 4), Some(18));
    assert_eq!(tasks(&mut g), 1);
    assert_eq!(g.stderr(), "");
}

#[test]
fn a_pending_export_called_again_from_inside_its_own_import() {
    let mut g = guest();
    let inner = Rc::new(RefCell::new(Vec::new()));
    let seen = inner.clone();
    on_start(move |caller, what| {
        let token = next_token();
        if what < 3 {
            // One level deeper: a call that waits, and one that completes at once.
            let status = call_in::<(u32, i32), i32>(caller, "add_later", (what + 1, 100));
            seen.borrow_mut().push((status.unwrap(), token));
        }
        if what == 3 {
            call_in::<(i32, i32), i32>(caller, "wasmexport_complete", (token as i32, 1000))
                .unwrap();
        }
        token
    });
    let outer = g.call::<(u32, i32), i32>("add_later", (1, 1)).unwrap();
    assert_eq!(outer & 3, WAIT);
    ON_START.take();
    let inner = inner.borrow().clone();
    // what 2's call (inside what 1's import) and what 3's (inside what 2's, completed at once).
    assert_eq!(inner.len(), 2, "{inner:?}");
    let (s3, s2) = (inner[0].0, inner[1].0);
    let t2 = SEEN.with_borrow(|s| s.started.iter().find(|&&(w, _)| w == 2).unwrap().1);
    assert_eq!(s3 & 3, EXIT, "{s3:#x}");
    assert_eq!(take_result(s3 >> 4), Some(1100));
    assert_eq!(s2 & 3, WAIT);
    complete(&mut g, t2, 20);
    assert_eq!(take_result(s2 >> 4), Some(120));
    let t1 = SEEN.with_borrow(|s| s.started.iter().find(|&&(w, _)| w == 1).unwrap().1);
    complete(&mut g, t1, 30);
    assert_eq!(take_result(outer >> 4), Some(31));
    assert_eq!(tasks(&mut g), 1);
    assert_eq!(g.stderr(), "");
}

#[test]
fn a_call_completed_from_inside_another_calls_import_returns_before_that_call_does() {
    let mut g = guest();
    let a = await_value(&mut g, 700);
    // Call B's import completes A's token: A's task runs in the nested drive, while B's task
    // is in the middle of its own poll, and A's result comes before B's status.
    let seen_in_import = Rc::new(Cell::new(None));
    let s = seen_in_import.clone();
    on_start(move |caller, _| {
        call_in::<(i32, i32), i32>(caller, "wasmexport_complete", (700, 5)).unwrap();
        s.set(take_result(a));
        let token = next_token();
        call_in::<(i32, i32), i32>(caller, "wasmexport_complete", (token as i32, 6)).unwrap();
        token
    });
    let b = g.call::<(u32, i32), i32>("add_later", (1, 1)).unwrap();
    ON_START.take();
    assert_eq!(seen_in_import.get(), Some(5), "A's result, during B's import");
    assert_eq!(b & 3, EXIT);
    assert_eq!(take_result(b >> 4), Some(7));
    assert_eq!(SEEN.with_borrow(|s| s.returned.len()), 0, "each result once");
    assert_eq!(tasks(&mut g), 1);
    assert_eq!(g.stderr(), "");
}

/// Completes `await_value(1)` with 3 while `hook` runs inside the first `[task-return]` of a
/// call other than `skip`: what `hook` got.
fn from_task_return<R: 'static>(
    g: &mut Guest,
    skip: i32,
    hook: impl Fn(&mut Caller<'_, Host>) -> R + 'static,
) -> R {
    let got = Rc::new(RefCell::new(None));
    let (fired, got2) = (Rc::new(Cell::new(false)), got.clone());
    on_return(move |caller, id, _| {
        if id != skip && !fired.replace(true) {
            *got2.borrow_mut() = Some(hook(caller));
        }
    });
    let id = await_value(g, 1);
    assert_eq!(complete(g, 1, 3), -1);
    ON_RETURN.take();
    assert_eq!(take_result(id), Some(3));
    got.take().expect("the hook ran")
}

#[test]
fn the_host_may_complete_drive_and_reserve_from_inside_task_return() {
    let mut g = guest();
    let other = await_value(&mut g, 500);
    let r = from_task_return(&mut g, other, |caller| {
        call_in::<(i32, i32), i32>(caller, "wasmexport_complete", (500, 7)).unwrap()
    });
    assert_eq!(r, -1);
    assert_eq!(take_result(other), Some(7), "completed from inside [task-return]");
    let r = from_task_return(&mut g, 0, |caller| {
        call_in::<(), i32>(caller, "wasmexport_drive", ()).unwrap()
    });
    assert_eq!(r, -1);
    let bytes = g.call::<u32, i32>("await_bytes", 600).unwrap() >> 4;
    let ptr = from_task_return(&mut g, bytes, |caller| {
        let ptr = call_in::<(i32, i32), i32>(caller, "wasmexport_buffer", (600, 2)).unwrap();
        let memory = caller.get_export("memory").unwrap().into_memory().unwrap();
        memory.write(&mut *caller, ptr as usize, &[20, 22]).unwrap();
        ptr
    });
    assert_ne!(ptr, 0);
    complete(&mut g, 600, 2);
    assert_eq!(take_result(bytes), Some(42));
    assert_eq!(tasks(&mut g), 1);
    assert_eq!(g.stderr(), "");
}

#[test]
fn the_host_may_call_a_pending_export_from_inside_task_return() {
    let mut g = guest();
    // During a later call (a completion's drive).
    let status = from_task_return(&mut g, 0, |caller| {
        call_in::<(u32, i32), i32>(caller, "add_later", (9, 1)).unwrap()
    });
    assert_eq!(status & 3, WAIT);
    complete(&mut g, last_token(), 10);
    assert_eq!(take_result(status >> 4), Some(11));
    // During the pending export's own call, before it returns `EXIT`.
    let nested = Rc::new(Cell::new(0));
    let n = nested.clone();
    on_return(move |caller, _, _| {
        if n.get() == 0 {
            n.set(call_in::<(u32, i32), i32>(caller, "add_later", (10, 2)).unwrap());
        }
    });
    let (ptr, len) = (0, 0);
    let status = g.call::<(i32, i32), i32>("echo", (ptr, len)).unwrap();
    ON_RETURN.take();
    assert_eq!(status & 3, EXIT);
    assert_eq!(take_result(status >> 4), Some(0));
    let nested = nested.get();
    assert_eq!(nested & 3, WAIT);
    assert_ne!(nested >> 4, status >> 4);
    complete(&mut g, last_token(), 20);
    assert_eq!(take_result(nested >> 4), Some(22));
    assert_eq!(tasks(&mut g), 1);
    assert_eq!(g.stderr(), "");
}

// Panics and poisoning.

#[test]
fn after_a_panic_in_a_pending_call_every_abi_export_traps_with_a_line() {
    let mut g = guest();
    let status = g.call::<u32, i32>("panics_later", 3).unwrap();
    assert_eq!(status & 3, WAIT);
    let token = last_token();
    assert!(g.call::<(i32, i32), i32>("wasmexport_complete", (token as i32, 0)).is_err());
    type Traps = fn(&mut Guest) -> bool;
    let calls: [(&str, Traps); 5] = [
        ("wasmexport_drive", |g| g.call::<(), i32>("wasmexport_drive", ()).is_err()),
        ("wasmexport_complete", |g| {
            g.call::<(i32, i32), i32>("wasmexport_complete", (1, 1)).is_err()
        }),
        ("wasmexport_buffer", |g| g.call::<(i32, i32), i32>("wasmexport_buffer", (1, 1)).is_err()),
        ("add_later", |g| g.call::<(u32, i32), i32>("add_later", (1, 1)).is_err()),
        ("await_value", |g| g.call::<u32, i32>("await_value", 1).is_err()),
    ];
    for (name, call) in calls {
        assert!(call(&mut g), "{name} ran on a poisoned instance");
        let line = format!(
            "wasmexport: module poisoned by an earlier panic: export \"{name}\" cannot run"
        );
        assert!(g.stderr().contains(&line), "{name}:\n{}", g.stderr());
    }
}

#[test]
fn a_panic_in_a_task_woken_from_inside_an_import_traps_and_poisons() {
    let mut g = guest();
    let status = g.call::<u32, i32>("panics_later", 1).unwrap();
    assert_eq!(status & 3, WAIT);
    let token = last_token();
    // The host completes that token from inside the next call's import: the panic unwinds
    // through the nested drive.
    on_start(move |caller, _| {
        let r = call_in::<(i32, i32), i32>(caller, "wasmexport_complete", (token as i32, 0));
        assert!(r.is_err(), "the nested completion traps");
        next_token()
    });
    let err = g.call::<(u32, i32), i32>("add_later", (2, 0));
    assert!(err.is_err(), "the outer call went on after a trap inside its import: {err:?}");
    let stderr = g.stderr();
    assert!(stderr.contains("the pending call panics"), "{stderr}");
    assert!(
        stderr.ends_with(
            "wasmexport: module poisoned by an earlier panic; the call that made the host call \
             cannot go on; create a new instance\n"
        ),
        "{stderr}"
    );
    assert!(g.call::<(), i32>("wasmexport_drive", ()).is_err());
}

// Memory.

#[test]
fn memory_stays_flat_over_400_000_completions_of_dropped_futures() {
    let mut g = guest();
    let rounds = |g: &mut Guest, n: u32| {
        for i in 0..n {
            // Polled, then dropped (the timer won) ...
            let status = g.call::<(u32, u32), i32>("value_or_timeout", (i, 0)).unwrap();
            assert_eq!(take_result(status >> 4), Some(-1));
            complete(g, last_token(), 1);
            // ... and dropped before its first poll.
            let token = g.call::<u32, u32>("start_and_drop", i).unwrap();
            complete(g, token, 1);
            SEEN.with_borrow_mut(|s| s.started.clear());
        }
    };
    rounds(&mut g, 1_000);
    let (pages_before, tasks_before) = (pages(&mut g), tasks(&mut g));
    rounds(&mut g, 200_000);
    assert_eq!(pages(&mut g), pages_before, "linear memory grew");
    assert_eq!(tasks(&mut g), tasks_before);
}

#[test]
fn completions_no_future_asks_for_are_kept_and_their_memory_is_reused_once_taken() {
    // The guest cannot tell a stray token from one completed before its future asks: each is
    // kept. Once futures took them, the memory serves the next ones.
    let mut g = guest();
    let round = |g: &mut Guest, base: u32| {
        for t in base..base + 200_000 {
            complete(g, t, 1);
        }
        for t in base..base + 200_000 {
            let status = g.call::<u32, i32>("await_value", t).unwrap();
            assert_eq!(status & 3, EXIT);
        }
        SEEN.with_borrow_mut(|s| s.returned.clear());
    };
    round(&mut g, 0);
    let after_one = pages(&mut g);
    round(&mut g, 7 << 24);
    assert_eq!(pages(&mut g), after_one, "the second round took new memory");
}
