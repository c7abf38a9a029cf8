//! Timers: a task waiting on a timer blocks in `poll_oneoff`, it does not spin. Alone in its
//! test binary, so that the process's CPU time is this test's.

use std::time::{Duration, Instant};
use wasmexport_engine_tests::{Guest, engine, module, reentry_imports};

/// User plus system CPU time of this process, from /proc/self/stat (in clock ticks of 10 ms).
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("Linux /proc");
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

#[test]
fn sleeping_export_uses_far_less_cpu_than_wall_time() {
    let mut g = Guest::init_with_imports(engine(), &module("exec"), reentry_imports).unwrap();
    g.call::<u32, ()>("sleep_ms", 1).unwrap(); // warm-up
    let (wall, cpu) = (Instant::now(), process_cpu());
    g.call::<u32, ()>("sleep_ms", 600).unwrap();
    let (wall, cpu) = (wall.elapsed(), process_cpu() - cpu);
    eprintln!("sleep_ms(600): wall {wall:?}, cpu {cpu:?}");
    assert!(wall >= Duration::from_millis(600), "returned early: {wall:?}");
    assert!(cpu < Duration::from_millis(150), "spun while sleeping: cpu {cpu:?} of wall {wall:?}");
}
