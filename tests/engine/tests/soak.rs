//! Soaks and storms, for correctness and flat memory (their timings are figures in
//! `cargo xtask bench`, not assertions here).

use wasmexport_engine_tests::{Guest, module, reentry_imports};

fn exec() -> Guest {
    Guest::init_with_imports(wasmexport_engine_tests::engine(), &module("exec"), reentry_imports)
        .unwrap()
}

/// What must not grow: linear memory, live heap bytes, tasks alive (seen from a call). Taken
/// after three calls that wait, so that a detached task started just before has finished.
fn footprint(g: &mut Guest) -> (usize, i64, u32) {
    for _ in 0..3 {
        g.call::<(i32, i32), i32>("async_add", (0, 0)).unwrap();
    }
    let live = g.call::<(), i64>("live_bytes", ()).unwrap();
    let tasks = g.call::<(), u32>("tasks", ()).unwrap();
    (g.memory_size(), live, tasks)
}

/// One call of the mix: sync, async, spawn-and-await, a detached task that finishes during a
/// later call, and now and then a short sleep (a 0 ms one every 1,000 calls, 1 ms every 50,000).
fn call(g: &mut Guest, i: u32) {
    let x = i as i32;
    match i % 4 {
        0 => assert_eq!(g.call::<(i32, i32), i32>("add", (x, 1)).unwrap(), x.wrapping_add(1)),
        1 => assert_eq!(g.call::<(i32, i32), i32>("async_add", (x, 2)).unwrap(), x.wrapping_add(2)),
        2 => assert_eq!(g.call::<i32, i32>("spawn_and_await", x).unwrap(), x.wrapping_mul(2)),
        _ => {
            g.call::<(), i32>("start_bumper", ()).unwrap();
        }
    }
    if i.is_multiple_of(50_000) {
        g.call::<u32, ()>("sleep_ms", 1).unwrap();
    } else if i.is_multiple_of(1_000) {
        g.call::<u32, ()>("sleep_ms", 0).unwrap();
    }
}

#[test]
fn a_million_mixed_calls_leave_memory_and_tasks_flat() {
    let mut g = exec();
    const WARM_UP: u32 = 20_000;
    const CALLS: u32 = 1_000_000;
    for i in 0..WARM_UP {
        call(&mut g, i);
    }
    let settled = footprint(&mut g);
    for i in WARM_UP..CALLS {
        call(&mut g, i);
        if i.is_multiple_of(100_000) {
            assert_eq!(footprint(&mut g), settled, "after {i} calls (memory, live bytes, tasks)");
        }
    }
    assert_eq!(footprint(&mut g), settled, "after {CALLS} calls (memory, live bytes, tasks)");
    // Every bumper started has run: the counter counts them all.
    let bumpers = CALLS / 4;
    g.call::<u32, ()>("sleep_ms", 0).unwrap();
    assert_eq!(g.call::<(), i32>("counter", ()).unwrap(), bumpers as i32);
}

#[test]
fn one_call_spawns_and_awaits_100000_tasks() {
    let mut g = exec();
    let n: u32 = 100_000;
    let sum = (0..n).fold(0u32, u32::wrapping_add);
    assert_eq!(g.call::<u32, u32>("spawn_many", n).unwrap(), sum);
    assert_eq!(g.call::<(), u32>("tasks", ()).unwrap(), 1);
    // A second storm reuses what the first grew: no more linear memory.
    let before = g.memory_size();
    assert_eq!(g.call::<u32, u32>("spawn_many", n).unwrap(), sum);
    assert_eq!(g.memory_size(), before);
    assert_eq!(g.call::<(), u32>("tasks", ()).unwrap(), 1);
}

#[test]
fn a_million_calls_of_futures_patterns_leave_memory_flat() {
    // `mix` runs one of: `FuturesUnordered` whose children complete each other, `join!`,
    // `select!`, a `futures::channel` oneshot and mpsc, `async-channel`, self-waking futures.
    let mut g = exec();
    const CALLS: u32 = 1_000_000;
    for i in 0..1_000 {
        assert_eq!(g.call::<u32, u32>("mix", i).unwrap(), i % 6 + 1);
    }
    let settled = footprint(&mut g);
    // Looked up once: a lookup by name per call would be most of this test's time.
    let mix = g.instance.get_typed_func::<u32, u32>(&mut g.store, "mix").unwrap();
    for i in 1_000..CALLS {
        assert_eq!(mix.call(&mut g.store, i).unwrap(), i % 6 + 1);
        if i.is_multiple_of(100_000) {
            assert_eq!(footprint(&mut g), settled, "after {i} calls (memory, live bytes, tasks)");
        }
    }
    assert_eq!(footprint(&mut g), settled, "after {CALLS} calls (memory, live bytes, tasks)");
    // A call that waits is still polled once at the start and once per wake.
    assert_eq!(g.call::<(), u32>("polls_while_waiting", ()).unwrap(), 2);
}
