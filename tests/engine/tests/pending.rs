//! The host-async ABI on wasmtime, spoken by a host written here from `docs/async-abi.md`:
//! pending exports and their status, `[task-return]` imports, host completions (values, bytes,
//! early ones, from inside an import), drives, timers under a host whose `poll_oneoff` cannot
//! wait (as Envoy's), the deadlock of a call nothing can wake, panics, `task_count()`, many
//! calls at once and flat memory.

use std::cell::RefCell;
use std::time::{Duration, Instant};
use wasmexport_engine_tests::{Guest, Host, engine, module};
use wasmtime::{Caller, Linker};

const EXIT: i32 = 0;
const WAIT: i32 = 2;
const TIMER: i32 = 8;

/// What the host saw: the operations the guest started (`what`, token) and the results the
/// guest returned (call id, result).
#[derive(Default)]
struct Seen {
    started: Vec<(u32, u32)>,
    returned: Vec<(i32, i64)>,
    next_token: u32,
}

thread_local!(static SEEN: RefCell<Seen> = RefCell::default());

fn returned(id: i32, value: i64) {
    SEEN.with_borrow_mut(|s| s.returned.push((id, value)));
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

/// `what` 99: the host completes the operation with 1 from inside `start`, before the guest
/// awaits it.
const AT_ONCE: u32 = 99;

/// The pending guest, initialized, with the host's imports; `no_wait`: `poll_oneoff` answers at
/// once without the clock's event, as Envoy's does.
fn guest(no_wait: bool) -> Guest {
    SEEN.with_borrow_mut(|s| *s = Seen::default());
    Guest::init_with_imports(engine(), &module("pending"), |linker: &mut Linker<Host>| {
        linker.func_wrap("host", "start", |mut caller: Caller<'_, Host>, what: u32| -> u32 {
            let token = SEEN.with_borrow_mut(|s| {
                s.next_token += 1;
                s.started.push((what, s.next_token));
                s.next_token
            });
            if what == AT_ONCE {
                let complete = caller.get_export("wasmexport_complete").unwrap();
                let complete = complete.into_func().unwrap().typed::<(i32, i32), i32>(&caller);
                complete.unwrap().call(&mut caller, (token as i32, 1)).unwrap();
            }
            token
        })?;
        for name in ["add_later", "echo", "len_after"] {
            let import = format!("[task-return]{name}");
            linker.func_wrap("wasmexport", &import, |id: i32, r: i32| returned(id, r.into()))?;
        }
        linker.func_wrap("wasmexport", "[task-return]sum_bytes", returned)?;
        linker.func_wrap("wasmexport", "[task-return]nap", |id: i32| returned(id, 0))?;
        if no_wait {
            linker.allow_shadowing(true);
            linker.func_wrap(
                "wasi_snapshot_preview1",
                "poll_oneoff",
                |mut caller: Caller<'_, Host>, _: i32, _: i32, _: i32, nevents: i32| -> i32 {
                    let memory = caller.get_export("memory").unwrap().into_memory().unwrap();
                    memory.write(&mut caller, nevents as usize, &0u32.to_le_bytes()).unwrap();
                    0
                },
            )?;
        }
        Ok(())
    })
    .unwrap()
}

fn complete(g: &mut Guest, token: u32, value: i32) -> i32 {
    g.call::<(i32, i32), i32>("wasmexport_complete", (token as i32, value)).unwrap()
}

/// Writes `text` past the end of the guest's memory (a page the host grew for it): the
/// pointer and length to pass.
fn lend(g: &mut Guest, text: &[u8]) -> (i32, i32) {
    let memory = g.instance.get_memory(&mut g.store, "memory").unwrap();
    let at = memory.grow(&mut g.store, 1).unwrap() * 65536;
    memory.write(&mut g.store, at as usize, text).unwrap();
    (at as i32, text.len() as i32)
}

#[test]
fn a_pending_export_returns_at_once_and_its_result_comes_when_the_host_completes() {
    let mut g = guest(false);
    let status = g.call::<(u32, i32), i32>("add_later", (7, 5)).unwrap();
    assert_eq!(status & 0b1111, WAIT, "status {status:#x}");
    let id = status >> 4;
    assert!(id >= 1);
    assert_eq!(take_result(id), None, "no result before the host completes");
    assert_eq!(g.call::<(), u32>("tasks", ()).unwrap(), 2, "the pending call is a task");
    // The host completes the operation it was asked to start.
    let token = SEEN.with_borrow(|s| s.started.clone());
    assert_eq!(token.len(), 1);
    assert_eq!(token[0].0, 7);
    assert_eq!(complete(&mut g, token[0].1, 30), -1, "no timer armed");
    assert_eq!(take_result(id), Some(35));
    assert_eq!(g.call::<(), u32>("tasks", ()).unwrap(), 1);
    // A second completion of the same token is ignored.
    assert_eq!(complete(&mut g, token[0].1, 30), -1);
    assert_eq!(SEEN.with_borrow(|s| s.returned.len()), 0);
    assert_eq!(g.stderr(), "");
}

#[test]
fn a_call_that_completes_during_its_call_exits_with_its_result_delivered() {
    let mut g = guest(false);
    let (ptr, len) = lend(&mut g, b"hello");
    let status = g.call::<(i32, i32), i32>("echo", (ptr, len)).unwrap();
    assert_eq!(status & 0b1111, EXIT, "status {status:#x}");
    assert_eq!(take_result(status >> 4), Some(5));
    // Completed from inside the import that started it, before the guest awaited it.
    let status = g.call::<(u32, i32), i32>("add_later", (AT_ONCE, 10)).unwrap();
    assert_eq!(status & 0b1111, EXIT, "status {status:#x}");
    assert_eq!(take_result(status >> 4), Some(11));
    assert_eq!(g.call::<(), u32>("tasks", ()).unwrap(), 1);
}

#[test]
fn bytes_reach_the_future_through_a_buffer_the_guest_owns() {
    let mut g = guest(false);
    let status = g.call::<u32, i32>("sum_bytes", 1).unwrap();
    assert_eq!(status & 3, WAIT);
    let token = last_token();
    let ptr = g.call::<(i32, i32), i32>("wasmexport_buffer", (token as i32, 4)).unwrap();
    assert!(ptr > 0);
    let memory = g.instance.get_memory(&mut g.store, "memory").unwrap();
    memory.write(&mut g.store, ptr as usize, &[1, 2, 3, 40]).unwrap();
    complete(&mut g, token, 4);
    assert_eq!(take_result(status >> 4), Some(46));
    // Completed without a buffer: the code.
    let status = g.call::<u32, i32>("sum_bytes", 2).unwrap();
    complete(&mut g, last_token(), -5);
    assert_eq!(take_result(status >> 4), Some(-5 - 1_000_000));
    // No bytes: an empty buffer, so `Ok` with nothing rather than the code 0.
    let status = g.call::<u32, i32>("sum_bytes", 3).unwrap();
    let token = last_token() as i32;
    assert_eq!(g.call::<(i32, i32), i32>("wasmexport_buffer", (token, 0)).unwrap(), 0);
    complete(&mut g, token as u32, 0);
    assert_eq!(take_result(status >> 4), Some(0));
}

#[test]
fn a_pending_call_keeps_a_copy_of_its_string() {
    let mut g = guest(false);
    let (ptr, len) = lend(&mut g, b"abc");
    let status = g.call::<(i32, i32, u32), i32>("len_after", (ptr, len, 5)).unwrap();
    assert_eq!(status & 0b1111, WAIT | TIMER, "waits on a timer: {status:#x}");
    // The host reuses the bytes it lent once the call has returned.
    let memory = g.instance.get_memory(&mut g.store, "memory").unwrap();
    memory.write(&mut g.store, ptr as usize, b"zzz").unwrap();
    std::thread::sleep(Duration::from_millis(6));
    assert_eq!(g.call::<(), i32>("wasmexport_drive", ()).unwrap(), -1);
    assert_eq!(take_result(status >> 4), Some(97 + 98 + 99));
}

#[test]
fn timers_fire_at_the_drives_of_a_host_whose_poll_oneoff_cannot_wait() {
    let mut g = guest(true);
    g.call::<(u32, u32), ()>("start_ticker", (20, 3)).unwrap();
    let status = g.call::<u32, i32>("nap", 50).unwrap();
    assert_eq!(status & 0b1111, WAIT | TIMER);
    let start = Instant::now();
    let mut next = g.call::<(), i32>("wasmexport_drive", ()).unwrap();
    assert!((1..=20).contains(&next), "the ticker's first deadline: {next} ms");
    // The host calls back when it is told to, never blocking in the guest.
    let mut drives = 0;
    while next >= 0 {
        std::thread::sleep(Duration::from_millis(next as u64));
        next = g.call::<(), i64>("tick", ()).unwrap() as i32;
        drives += 1;
        assert!(drives < 100, "the drives do not converge");
    }
    assert!(start.elapsed() >= Duration::from_millis(50), "{:?}", start.elapsed());
    assert_eq!(g.call::<(), u32>("ticks", ()).unwrap(), 3);
    assert_eq!(take_result(status >> 4), Some(0), "the nap returned");
    assert_eq!(g.stderr(), "");
}

#[test]
fn the_hosts_drive_runs_what_a_plain_export_queued_and_is_idle_only_when_nothing_is_left() {
    let mut g = guest(true);
    let drive = |g: &mut Guest| g.call::<(), i32>("wasmexport_drive", ()).unwrap();
    assert_eq!(drive(&mut g), -1, "nothing queued, no timer");
    // `task_count` counts the export that asks, too.
    let idle_count = g.call::<(), u32>("tasks", ()).unwrap();
    // The task is queued, not run: a plain export returns before it runs.
    g.call::<(u32, u32), ()>("start_ticker", (2, 1)).unwrap();
    assert_eq!(g.call::<(), u32>("tasks", ()).unwrap(), idle_count + 1);
    // The drive runs it: it arms its timer, and the drive says when to call again.
    let next = drive(&mut g);
    assert!((0..=2).contains(&next), "the ticker's deadline: {next} ms");
    // Armed: the drive is not idle, even before the deadline.
    while g.call::<(), u32>("ticks", ()).unwrap() == 0 {
        std::thread::sleep(Duration::from_millis(1));
        drive(&mut g);
    }
    assert_eq!(g.call::<(), u32>("tasks", ()).unwrap(), idle_count, "the ticker finished");
    assert_eq!(drive(&mut g), -1, "idle again");
    assert_eq!(g.stderr(), "");
}

#[test]
fn a_pending_export_whose_future_never_completes_still_imports_its_task_return() {
    // Hosts find pending exports by their `[task-return]` imports: the import must stay even
    // where the compiler sees that the call is never made (`stuck` awaits `pending()`).
    let module = module("pending");
    let imports: Vec<String> = module
        .imports()
        .filter(|i| i.module() == "wasmexport")
        .map(|i| i.name().to_string())
        .collect();
    for export in ["stuck", "add_later", "nap"] {
        let name = format!("[task-return]{export}");
        assert!(imports.contains(&name), "{name} missing from {imports:?}");
    }
}

#[test]
fn a_pending_call_nothing_can_wake_traps_as_a_deadlock_naming_it() {
    let mut g = guest(false);
    let err = g.call::<(), i32>("stuck", ()).unwrap_err();
    assert!(err.downcast_ref::<wasmtime::Trap>().is_some(), "a trap: {err:?}");
    assert_eq!(
        g.stderr(),
        "wasmexport: all tasks are asleep - deadlock! pending export \"stuck\" is waiting for \
         something that nothing can ever deliver (no waker of its task is left: no timer, host \
         operation, task or channel can wake it)\n"
    );
    assert!(g.call::<(), i32>("wasmexport_drive", ()).is_err());
    assert!(g.stderr().ends_with("module poisoned by a deadlock in export \"stuck\": export \"wasmexport_drive\" cannot run; create a new instance\n"), "{}", g.stderr());
}

#[test]
fn a_panic_in_a_pending_call_traps_and_poisons() {
    let mut g = guest(false);
    let status = g.call::<u32, i32>("panics_later", 3).unwrap();
    assert_eq!(status & 3, WAIT);
    let token = last_token();
    let err = g.call::<(i32, i32), i32>("wasmexport_complete", (token as i32, 0)).unwrap_err();
    assert!(err.downcast_ref::<wasmtime::Trap>().is_some(), "a trap: {err:?}");
    let stderr = g.stderr();
    assert!(stderr.contains("the pending call panics"), "{stderr}");
    assert!(stderr.contains("by export \"panics_later\""), "{stderr}");
    assert!(g.call::<(), u32>("ticks", ()).is_err(), "poisoned");
}

#[test]
fn ten_thousand_overlapping_pending_calls() {
    let mut g = guest(false);
    let mut calls = Vec::new();
    for i in 0..10_000u32 {
        let status = g.call::<(u32, i32), i32>("add_later", (1000 + i, i as i32)).unwrap();
        assert_eq!(status & 3, WAIT);
        calls.push((status >> 4, last_token(), i));
    }
    assert_eq!(g.call::<(), u32>("tasks", ()).unwrap(), 10_001);
    // Completed in another order than they started.
    calls.sort_by_key(|&(_, token, _)| token.wrapping_mul(2_654_435_761));
    for &(_, token, i) in &calls {
        complete(&mut g, token, i as i32);
    }
    for (id, _, i) in calls {
        assert_eq!(take_result(id), Some(2 * i64::from(i)), "call {id}");
    }
    assert_eq!(g.call::<(), u32>("tasks", ()).unwrap(), 1);
}

#[test]
fn memory_stays_flat_over_a_million_pending_round_trips() {
    let mut g = guest(false);
    let round_trips = |g: &mut Guest, n: u32| {
        for i in 0..n {
            let status = g.call::<(u32, i32), i32>("add_later", (1000 + i, 1)).unwrap();
            complete(g, last_token(), 2);
            assert_eq!(take_result(status >> 4), Some(3));
            SEEN.with_borrow_mut(|s| s.started.clear());
        }
    };
    round_trips(&mut g, 1_000);
    let (pages, tasks) =
        (g.call::<(), u32>("pages", ()).unwrap(), g.call::<(), u32>("tasks", ()).unwrap());
    round_trips(&mut g, 1_000_000);
    assert_eq!(g.call::<(), u32>("pages", ()).unwrap(), pages, "linear memory grew");
    assert_eq!(g.call::<(), u32>("tasks", ()).unwrap(), tasks);
}
