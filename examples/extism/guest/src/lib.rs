//! An Extism plugin written with wasmexport, without extism-pdk: a line filter whose export is
//! `async`, fans its lines out to background tasks, and runs under a deadline.
//!
//! # Exports
//!
//! Extism calls exports as `() -> i32`: 0 is success; otherwise the call fails with the error
//! the plugin set.
//!
//! * `filter` (async): the input is text; the output is its lines (each ending in `\n`) without
//!   those that contain a word of the config value `deny` (comma-separated, any case). Each
//!   line is checked by a background task that first waits `delay_ms` (config, default 0: a
//!   stand-in for a lookup), so the waits overlap; if the checks take longer than `deadline_ms`
//!   (config, default 1000) the call fails with an error.
//! * `stats`: `calls=C kept=K dropped=D`, the totals since the plugin was created.
//! * `sleep_ms` (async): waits as many milliseconds as the input says, in a background task.
//! * `crash`: panics with the input as the message: the plugin is poisoned from then on.
//!
//! # Traps reach the host
//!
//! Extism hides a guest's stderr, where wasmexport writes its `wasmexport:` line before a
//! trap. The init hook registers a trap reporter that passes each such line to Extism as the
//! call's error (`error_set`) and to the host's logger at error level (`log_error`).
//! The hook calls no kernel function itself: Extism's Python SDK also runs `_initialize` on a
//! throwaway instance, where calling the kernel crashes the host process.
//!
//! # Timeouts
//!
//! Extism's `timeout_ms` interrupts wasm code, not a wait inside the host's `poll_oneoff`, so
//! the init hook caps one blocking wait at 10 ms (`set_max_wait`): a sleeping call then ends
//! within about 10 ms of the timeout.

mod kernel;

use kernel::Level;
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;
use wasmexport::time::{sleep, timeout};
use wasmexport::{spawn, wasmexport};

thread_local! {
    static CALLS: Cell<u64> = const { Cell::new(0) };
    static KEPT: Cell<u64> = const { Cell::new(0) };
    static DROPPED: Cell<u64> = const { Cell::new(0) };
}

#[wasmexport::init]
fn setup() {
    // Sleeps wait in 10 ms slices, so that Extism's `timeout_ms` can end a sleeping call.
    wasmexport::time::set_max_wait(Some(Duration::from_millis(10)));
    wasmexport::set_trap_reporter(|line| {
        kernel::set_error(line);
        kernel::log(Level::Error, line);
    });
}

/// Ends a call: sets the output and returns 0, or sets the error and returns 1.
fn finish(result: Result<String, String>) -> i32 {
    match result {
        Ok(out) => {
            kernel::output(out.as_bytes());
            0
        }
        Err(message) => {
            kernel::set_error(&message);
            1
        }
    }
}

/// A config value in milliseconds, or `default` when unset.
fn config_ms(key: &str, default: u64) -> Result<Duration, String> {
    match kernel::config(key) {
        None => Ok(Duration::from_millis(default)),
        Some(v) => v
            .trim()
            .parse()
            .map(Duration::from_millis)
            .map_err(|_| format!("config {key}: {v:?} is not a number of milliseconds")),
    }
}

fn input_text() -> Result<String, String> {
    String::from_utf8(kernel::input()).map_err(|_| "the input is not UTF-8".to_string())
}

#[wasmexport]
async fn filter() -> i32 {
    finish(filter_lines().await)
}

async fn filter_lines() -> Result<String, String> {
    CALLS.set(CALLS.get() + 1);
    let text = input_text()?;
    let deny: Rc<[String]> = kernel::config("deny")
        .unwrap_or_default()
        .split(',')
        .map(|w| w.trim().to_lowercase())
        .filter(|w| !w.is_empty())
        .collect();
    let delay = config_ms("delay_ms", 0)?;
    let deadline = config_ms("deadline_ms", 1000)?;

    // One background task per line; their waits overlap.
    let checks: Vec<_> = text
        .lines()
        .map(|line| {
            let (line, deny) = (line.to_string(), deny.clone());
            spawn(async move {
                if !delay.is_zero() {
                    sleep(delay).await;
                }
                let lower = line.to_lowercase();
                (!deny.iter().any(|w| lower.contains(w.as_str()))).then_some(line)
            })
        })
        .collect();
    let lines = checks.len();
    let verdicts = async {
        let mut kept = String::new();
        for check in checks {
            if let Some(line) = check.await {
                kept.push_str(&line);
                kept.push('\n');
            }
        }
        kept
    };
    let kept = timeout(deadline, verdicts).await.map_err(|_| {
        format!("filter: the checks of {lines} lines took longer than {}ms", deadline.as_millis())
    })?;

    let kept_lines = kept.lines().count() as u64;
    let dropped = lines as u64 - kept_lines;
    KEPT.set(KEPT.get() + kept_lines);
    DROPPED.set(DROPPED.get() + dropped);
    kernel::log(Level::Info, &format!("filter: kept {kept_lines} of {lines} lines"));
    if dropped > 0 {
        kernel::log(Level::Warn, &format!("filter: dropped {dropped} lines"));
    }
    Ok(kept)
}

#[wasmexport]
fn stats() -> i32 {
    finish(Ok(format!("calls={} kept={} dropped={}", CALLS.get(), KEPT.get(), DROPPED.get())))
}

#[wasmexport]
async fn sleep_ms() -> i32 {
    finish(sleep_in_task().await)
}

async fn sleep_in_task() -> Result<String, String> {
    let text = input_text()?;
    let ms =
        text.trim().parse().map_err(|_| format!("sleep_ms: the input {text:?} is not a number"))?;
    spawn(sleep(Duration::from_millis(ms))).await;
    Ok(String::new())
}

#[wasmexport]
fn crash() -> i32 {
    let message = input_text().unwrap_or_default();
    panic!("{message}");
}
