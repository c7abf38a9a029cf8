//! The executor's guarantees on wasmtime with the `exec` guest.

use std::time::{Duration, Instant};
use wasmexport_engine_tests::{
    Guest, engine_with, guest_path, module, on_big_stack, reentry_imports,
};
use wasmtime::{Engine, Module};

fn exec() -> Guest {
    Guest::init_with_imports(wasmexport_engine_tests::engine(), &module("exec"), reentry_imports)
        .unwrap()
}

fn is_trap(err: &wasmtime::Error) -> bool {
    err.downcast_ref::<wasmtime::Trap>().is_some()
}

#[test]
fn e1_async_export_and_allocation_free_sync_calls() {
    let mut g = exec();
    assert_eq!(g.call::<(i32, i32), i32>("async_add", (40, 2)).unwrap(), 42);
    g.call::<(i32, i32), i32>("add", (1, 1)).unwrap(); // warm-up
    let before = g.call::<(), u64>("allocs", ()).unwrap();
    for i in 0..1000 {
        assert_eq!(g.call::<(i32, i32), i32>("add", (i, 1)).unwrap(), i + 1);
    }
    let after = g.call::<(), u64>("allocs", ()).unwrap();
    assert_eq!(after, before, "a plain fn export allocated {} times in 1000 calls", after - before);
}

#[test]
fn e2_spawn_join_handle_and_task_count() {
    let mut g = exec();
    assert_eq!(g.call::<i32, i32>("spawn_and_await", 21).unwrap(), 42);
    // Only the call asking is alive.
    assert_eq!(g.call::<(), u32>("tasks", ()).unwrap(), 1);
    g.call::<(), i32>("start_bumper", ()).unwrap();
    // The detached task is alive though its handle was dropped.
    assert_eq!(g.call::<(), u32>("tasks", ()).unwrap(), 2);
}

#[test]
fn e3_e4_background_tasks_run_only_while_a_call_waits() {
    let mut g = exec();
    assert_eq!(g.call::<(), i32>("start_bumper", ()).unwrap(), 0);
    // The export returned before the bump, and nothing ran behind the host's back since.
    assert_eq!(g.call::<(), i32>("counter", ()).unwrap(), 0);
    assert_eq!(g.call::<(), i32>("counter", ()).unwrap(), 0);
    // A call that waits lets the background task run: it yields once, then bumps.
    let yields = g.call::<(), i32>("yields_until_bump", ()).unwrap();
    assert!((1..=2).contains(&yields), "bump seen after {yields} yields");
    assert_eq!(g.call::<(), i32>("counter", ()).unwrap(), 1);
    assert_eq!(g.call::<(), u32>("tasks", ()).unwrap(), 1, "the bumper finished and was freed");
}

#[test]
fn e5_sleep_waits_and_sleepers_overlap() {
    let mut g = exec();
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
fn e6_deadlock_traps_with_the_export_name() {
    let mut g = exec();
    assert_eq!(g.call::<(), i32>("wait_for_background", ()).unwrap(), 42);
    let err = g.call::<(), i32>("wait_forever", ()).unwrap_err();
    assert!(is_trap(&err), "{err:?}");
    assert_eq!(
        g.stderr(),
        "wasmexport: all tasks are asleep - deadlock! export \"wait_forever\" is waiting for \
         something that no task or timer can deliver\n"
    );
}

#[test]
fn e7_nested_calls_and_a_task_that_outlives_its_call() {
    let mut g = exec();
    assert_eq!(g.call::<i32, i32>("recurse", 10).unwrap(), 10);
    assert_eq!(g.store.data().max_depth, 10);
    assert_eq!(g.call::<i32, i32>("recurse_async", 10).unwrap(), 10);
    // The task spawned in the nested `inner_spawns` call is awaited by `outer`.
    assert_eq!(g.call::<(), i32>("outer", ()).unwrap(), 107);
    assert_eq!(g.call::<(), u32>("tasks", ()).unwrap(), 1);
    // The outer call is woken by a task that runs in the nested call's run loop, which cannot
    // poll it: the outer loop must, once the nested call has returned (else: deadlock trap).
    assert_eq!(g.call::<(), i32>("outer_woken_from_nested", ()).unwrap(), 5);
    assert_eq!(g.store.data().depth, 0);
    assert_eq!(g.call::<(), u32>("tasks", ()).unwrap(), 1);
}

/// How deep `recurse` gets through the host before the engine's stack limit traps it.
fn max_depth(engine: &Engine, guest: &str) -> u32 {
    let module = Module::from_file(engine, guest_path(guest)).unwrap();
    let mut g = Guest::init_with_imports(engine, &module, reentry_imports).unwrap();
    let err = g.call::<i32, i32>("recurse", 1_000_000).unwrap_err();
    assert!(is_trap(&err), "{guest}: {err:?}");
    g.store.data().max_depth
}

#[test]
fn e7_nesting_depth_is_at_least_half_of_raw_and_1000_deep_works() {
    on_big_stack(|| {
        let engine = engine_with(|c| {
            c.max_wasm_stack(1 << 20);
        });
        let raw = max_depth(&engine, "raw");
        let ours = max_depth(&engine, "exec");
        eprintln!("max re-entrant depth with a 1 MiB wasm stack: raw {raw}, wasmexport {ours}");
        assert!(ours * 2 >= raw, "wasmexport reached {ours}, raw extern \"C\" {raw}");

        let engine = engine_with(|c| {
            c.max_wasm_stack(64 << 20).async_stack_size(65 << 20);
        });
        let module = Module::from_file(&engine, guest_path("exec")).unwrap();
        let mut g = Guest::init_with_imports(&engine, &module, reentry_imports).unwrap();
        assert_eq!(g.call::<i32, i32>("recurse", 1000).unwrap(), 1000);
        assert_eq!(g.store.data().max_depth, 1000);
        assert_eq!(g.call::<i32, i32>("recurse_async", 1000).unwrap(), 1000);
    });
}

#[test]
fn e8_panic_in_a_spawned_task_traps_and_poisons() {
    let mut g = exec();
    let err = g.call::<(), i32>("panic_in_task", ()).unwrap_err();
    assert!(is_trap(&err), "{err:?}");
    let stderr = g.stderr();
    let prefix = task_panic_prefix("lib.rs", "panic_in_task", "panic_in_task");
    assert!(stderr.starts_with(&format!("{prefix}task exploded at ")), "{stderr}");
    let err = g.call::<(i32, i32), i32>("add", (1, 2)).unwrap_err();
    assert!(is_trap(&err));
    assert!(g.stderr().ends_with(
        "wasmexport: module poisoned by an earlier panic: export \"add\" cannot run; create a new instance\n"
    ));
}

#[test]
fn e9_third_party_futures_and_no_busy_polling() {
    let mut g = exec();
    assert_eq!(g.call::<(), i32>("channels", ()).unwrap(), 55);
    // Polled once at the start and once after the sender's wake-up, not once per yield of the
    // 20 yields the sending task makes meanwhile.
    assert_eq!(g.call::<(), u32>("polls_while_waiting", ()).unwrap(), 2);
}

#[test]
fn e10_memory_and_task_count_stay_flat() {
    let mut g = exec();
    for i in 0..1000 {
        assert_eq!(g.call::<i32, i32>("spawn_one", i).unwrap(), i + 1);
    }
    let memory = g.memory_size();
    let live = g.call::<(), i64>("live_bytes", ()).unwrap();
    for i in 0..100_000 {
        g.call::<i32, i32>("spawn_one", i).unwrap();
    }
    assert_eq!(g.memory_size(), memory, "linear memory grew");
    assert_eq!(g.call::<(), i64>("live_bytes", ()).unwrap(), live, "live heap bytes grew");
    assert_eq!(g.call::<(), u32>("tasks", ()).unwrap(), 1);
}

/// The exact text the guest's panic hook writes for a task started at the line of
/// `tests/guests/exec/src/FILE` marked `// spawn site: MARK`, by export `export`.
fn task_panic_prefix(file: &str, mark: &str, export: &str) -> String {
    let path = wasmexport_engine_tests::root().join("tests/guests/exec/src").join(file);
    let source = std::fs::read_to_string(path).unwrap();
    let needle = format!("// spawn site: {mark}");
    let (line, text) = source.lines().enumerate().find(|(_, l)| l.ends_with(&needle)).unwrap();
    let column = text.find("spawn(").unwrap() + 1;
    format!(
        "wasmexport: panic in a task spawned at exec/src/{file}:{}:{column} by export \"{export}\": ",
        line + 1
    )
}

#[test]
fn e9_a_call_that_wakes_itself_and_finishes_leaves_nothing_queued() {
    let mut g = exec();
    for _ in 0..1000 {
        assert_eq!(g.call::<(), u32>("self_wake_ready", ()).unwrap(), 1);
    }
    let memory = g.memory_size();
    let live = g.call::<(), i64>("live_bytes", ()).unwrap();
    for _ in 0..200_000 {
        g.call::<(), u32>("self_wake_ready", ()).unwrap();
    }
    assert_eq!(g.memory_size(), memory, "linear memory grew");
    assert_eq!(g.call::<(), i64>("live_bytes", ()).unwrap(), live, "live heap bytes grew");
    // Nothing left behind polls the next call that waits.
    assert_eq!(g.call::<(), u32>("polls_while_waiting", ()).unwrap(), 2);
}

#[test]
fn e9_a_futures_unordered_call_leaves_no_extra_poll_behind() {
    let mut g = exec();
    // One child of a `FuturesUnordered` completes the other: the call wakes itself and finishes.
    assert_eq!(g.call::<(), u32>("futures_unordered", ()).unwrap(), 3);
    assert_eq!(g.call::<(), u32>("polls_while_waiting", ()).unwrap(), 2);
    assert_eq!(g.call::<(), u32>("tasks", ()).unwrap(), 1);
}

#[test]
fn e9_a_stale_waker_does_not_poll_a_later_call() {
    let mut g = exec();
    // A waker kept from a finished call, fired during a later call at the same level.
    assert_eq!(g.call::<(), u32>("keep_waker", ()).unwrap(), 1);
    assert_eq!(g.call::<(), u32>("polls_with_stale_wake", ()).unwrap(), 2);
    assert_eq!(g.call::<(), u32>("tasks", ()).unwrap(), 1);
}

#[test]
fn e1_an_async_export_done_in_its_first_poll_allocates_nothing() {
    let mut g = exec();
    g.call::<(), u32>("self_wake_ready", ()).unwrap(); // warm-up
    let before = g.call::<(), u64>("allocs", ()).unwrap();
    for _ in 0..1000 {
        assert_eq!(g.call::<(), u32>("self_wake_ready", ()).unwrap(), 1);
        assert_eq!(g.call::<(), u32>("keep_waker", ()).unwrap(), 1);
    }
    let after = g.call::<(), u64>("allocs", ()).unwrap();
    assert_eq!(after, before, "{} allocations in 2,000 calls", after - before);
}

/// An engine whose calls trap once `secs` seconds have passed (epoch interruption), so that a
/// call that would spin forever fails the test instead of hanging it.
fn exec_with_deadline(secs: u64) -> Guest {
    let engine = engine_with(|c| {
        c.epoch_interruption(true);
    });
    let module = Module::from_file(&engine, guest_path("exec")).unwrap();
    let mut g = Guest::with_imports(&engine, &module, reentry_imports).unwrap();
    g.store.set_epoch_deadline(1);
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(secs));
        engine.increment_epoch();
    });
    g.call::<(), ()>("_initialize", ()).unwrap();
    g
}

#[test]
fn e5_a_call_that_keeps_yielding_does_not_starve_timers() {
    let mut g = exec_with_deadline(20);
    let start = Instant::now();
    assert_eq!(g.call::<u32, i32>("yield_until_timer", 20).expect("the call spun forever"), 7);
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(20), "returned early: {took:?}");
    assert!(took < Duration::from_secs(5), "far too late: {took:?}");
}

#[test]
fn e5_a_timer_due_between_calls_runs_before_a_yield_resumes() {
    let mut g = exec();
    g.call::<u32, ()>("arm_timer", 5).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(g.call::<(), i32>("yield_sees_timer", ()).unwrap(), 1);
    // Not yet due: the yield does not wait for it.
    g.call::<u32, ()>("arm_timer", 60_000).unwrap();
    assert_eq!(g.call::<(), i32>("yield_sees_timer", ()).unwrap(), 0);
}

#[test]
fn e9_wakers_that_use_the_runtime_in_clone_wake_and_drop() {
    let mut g = exec();
    let tasks = g.call::<(), u32>("meddling_wakers", ());
    assert!(tasks.is_ok(), "{tasks:?}\n{}", g.stderr());
    assert_eq!(g.stderr(), "");
    // The meddlers' own spawned tasks run during the next call that waits.
    g.call::<(i32, i32), i32>("async_add", (1, 2)).unwrap();
    assert_eq!(g.call::<(), u32>("tasks", ()).unwrap(), 1);
}

#[test]
fn e8_a_task_panic_names_where_the_task_was_spawned_and_by_which_export() {
    let mut g = exec();
    g.call::<(), ()>("spawn_panicker", ()).unwrap();
    let err = g.call::<u32, ()>("sleep_ms", 1).unwrap_err();
    assert!(is_trap(&err), "{err:?}");
    let stderr = g.stderr();
    let prefix = task_panic_prefix("guarantees.rs", "spawn_panicker", "spawn_panicker");
    assert!(stderr.starts_with(&format!("{prefix}boom at exec/src/guarantees.rs:")), "{stderr}");

    // A task started by a task names the export that started the first one.
    let mut g = exec();
    g.call::<(), ()>("spawn_spawner", ()).unwrap();
    assert!(g.call::<u32, ()>("sleep_ms", 1).is_err());
    let prefix = task_panic_prefix("guarantees.rs", "spawn_spawner", "spawn_spawner");
    assert!(g.stderr().starts_with(&format!("{prefix}deep at ")), "{}", g.stderr());
}

#[test]
fn e2_task_outputs_of_every_size_and_alignment_come_back_whole() {
    let mut g = exec();
    for seed in [0, 1, 200, 0x7fff_ffff] {
        let wrong = g.call::<u32, u32>("task_outputs", seed).unwrap();
        assert_eq!(wrong, 0, "seed {seed}: outputs that came back wrong, by bit: {wrong:#b}");
    }
    assert_eq!(g.call::<(), u32>("tasks", ()).unwrap(), 1, "every task was freed");
}

#[test]
fn e2_a_task_output_is_dropped_once_by_whoever_ends_up_with_it() {
    let mut g = exec();
    // See `output_drops`: the drop count after each of its five steps.
    assert_eq!(g.call::<(), u32>("output_drops", ()).unwrap(), 1123);
}
