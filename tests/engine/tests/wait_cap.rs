//! `wasmexport::time::set_max_wait` on wasmtime with the `wait_cap` guest: with a cap, an epoch
//! interruption (Extism's timeout) ends a sleeping call within about one slice; without one,
//! only when the sleep is over. And what the slices cost in CPU.

use std::time::{Duration, Instant};
use wasmexport_engine_tests::{Guest, engine_with, guest_path};
use wasmtime::{Engine, Module, Trap, UpdateDeadline};

fn epoch_engine() -> Engine {
    engine_with(|c| {
        c.epoch_interruption(true);
    })
}

fn guest(engine: &Engine, max_wait_ms: u32) -> Guest {
    let module = Module::from_file(engine, guest_path("wait_cap")).unwrap();
    let mut g = Guest::with_imports(engine, &module, |_| Ok(())).unwrap();
    g.store.set_epoch_deadline(u64::MAX / 2);
    g.call::<(), ()>("_initialize", ()).unwrap();
    g.call::<u32, ()>("set_max_wait_ms", max_wait_ms).unwrap();
    g
}

/// Calls `sleep_ms(sleep)` with the epoch ticked after `after`; how long until it trapped.
fn interrupted_after(max_wait_ms: u32, sleep: u32, after: Duration) -> Duration {
    let engine = epoch_engine();
    let mut g = guest(&engine, max_wait_ms);
    g.store.set_epoch_deadline(1);
    g.store.epoch_deadline_callback(|_| Ok(UpdateDeadline::Interrupt));
    let ticker = engine.clone();
    let start = Instant::now();
    std::thread::spawn(move || {
        std::thread::sleep(after);
        ticker.increment_epoch();
    });
    let err = g.call::<u32, ()>("sleep_ms", sleep).unwrap_err();
    let took = start.elapsed();
    assert_eq!(err.downcast_ref::<Trap>(), Some(&Trap::Interrupt), "{err:?}");
    // The interrupted call poisons the instance, as any trap.
    g.store.set_epoch_deadline(u64::MAX / 2);
    g.call::<(i32, i32), i32>("add", (1, 2)).unwrap_err();
    assert!(g.stderr().contains("module poisoned"), "{}", g.stderr());
    took
}

#[test]
fn with_a_cap_an_epoch_timeout_ends_a_long_sleep_within_a_slice() {
    let took = interrupted_after(10, 1500, Duration::from_millis(200));
    eprintln!("1,500 ms sleep, 10 ms slices, epoch ticked at 200 ms: trapped after {took:?}");
    assert!(took >= Duration::from_millis(200), "{took:?}");
    assert!(took < Duration::from_millis(1000), "the timeout did not cut the sleep: {took:?}");
}

#[test]
fn without_a_cap_the_sleep_runs_to_its_end_first() {
    let took = interrupted_after(0, 600, Duration::from_millis(100));
    eprintln!("600 ms sleep, no cap, epoch ticked at 100 ms: trapped after {took:?}");
    assert!(took >= Duration::from_millis(600), "{took:?}");
}

/// CPU time of the calling thread, from /proc/thread-self/schedstat (nanoseconds).
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").expect("Linux /proc");
    Duration::from_nanos(stat.split(' ').next().unwrap().parse().unwrap())
}

#[test]
fn what_the_slices_cost() {
    let engine = epoch_engine();
    let mut costs = Vec::new();
    for max_wait_ms in [0, 10, 1] {
        let mut g = guest(&engine, max_wait_ms);
        g.call::<u32, ()>("sleep_ms", 1).unwrap(); // warm-up
        let (wall, cpu) = (Instant::now(), thread_cpu());
        g.call::<u32, ()>("sleep_ms", 500).unwrap();
        let (wall, cpu) = (wall.elapsed(), thread_cpu() - cpu);
        eprintln!("sleep_ms(500), max wait {max_wait_ms} ms (0: none): wall {wall:?}, cpu {cpu:?}");
        assert!(wall >= Duration::from_millis(500), "returned early: {wall:?}");
        costs.push(cpu);
    }
    // Slices wake the thread, they do not spin: even 1 ms slices cost a small part of the wait.
    assert!(costs.iter().all(|&c| c < Duration::from_millis(150)), "{costs:?}");
}
