//! A probe, not a middleware to copy: its `handle_request` is an `async fn` that sleeps with
//! [`wasmexport::time::sleep`] for the plugin config's `sleepMs` (default 100) and reports on
//! the response what the two clocks said, so that a test can see how timers behave in a host.
//!
//! * `x-probe-monotonic-us`: the sleep's length on the monotonic clock (`Instant`);
//! * `x-probe-wall-us`: on the wall clock (`SystemTime`).
//!
//! A request with an `x-probe-panic` header panics instead, to show what a panic does there.
//!
//! In Traefik the monotonic clock is wazero's fake one (0, 1 ms, 2 ms, ... one step per
//! reading) and `poll_oneoff` returns at once, so the executor's wait reads the clock again
//! and again until the deadline: the sleep ends after about `sleepMs` readings, in a fraction
//! of `sleepMs` of real time, which the wall clock (real in Traefik) shows.

use keygate_core::{REQUEST, RESPONSE, decimal, json};
use std::cell::Cell;
use std::time::{Duration, Instant, SystemTime};
use wasmexport::time::sleep;
use wasmexport::{wasmexport, wasmimport};

#[wasmimport(module = "http_handler", name = "get_config")]
fn get_config(buf: &mut [u8]) -> i32;
#[wasmimport(module = "http_handler", name = "set_header_value")]
fn set_header_value(kind: i32, name: &str, value: &str);
#[wasmimport(module = "http_handler", name = "get_header_values")]
fn get_header_values(kind: i32, name: &str, buf: &mut [u8]) -> i64;
#[wasmimport(module = "http_handler", name = "log")]
fn log(level: i32, message: &str);

thread_local! {
    static SLEEP_MS: Cell<u64> = const { Cell::new(100) };
}

#[wasmexport::init]
fn setup() {
    // Traefik drops a guest's stderr: wasmexport's line before a trap goes to its log instead.
    wasmexport::set_trap_reporter(|line| {
        // SAFETY: `log` reads `line` during the call (level 2: error).
        unsafe { log(2, line) }
    });
    // SAFETY: the host writes at most `buf.len()` bytes into `buf` and returns the length.
    let mut config = vec![0; unsafe { get_config(&mut []) }.max(0) as usize];
    // SAFETY: as above.
    unsafe { get_config(&mut config) };
    let ms = match json::parse(&config).ok().as_ref().and_then(|c| c.get("sleepMs")) {
        Some(json::Value::Number(n)) => *n as u64,
        Some(json::Value::String(s)) => s.parse().expect("sleepMs is not a number"),
        _ => 100,
    };
    SLEEP_MS.set(ms);
}

fn header(name: &str, micros: u128) {
    let mut digits = [0; 20];
    // SAFETY: the host reads `name` and the value during the call.
    unsafe { set_header_value(RESPONSE, name, decimal(micros as u64, &mut digits)) }
}

/// Sleeps, then reports both clocks' view of it and lets the request go on.
#[wasmexport]
async fn handle_request() -> i64 {
    // SAFETY: the host writes at most `buf.len()` (0) bytes.
    if unsafe { get_header_values(REQUEST, "x-probe-panic", &mut []) } != 0 {
        panic!("the probe was asked to panic");
    }
    let (monotonic, wall) = (Instant::now(), SystemTime::now());
    sleep(Duration::from_millis(SLEEP_MS.get())).await;
    header("x-probe-monotonic-us", monotonic.elapsed().as_micros());
    header("x-probe-wall-us", wall.elapsed().map_or(0, |d| d.as_micros()));
    1
}

/// Nothing to do after the next handler.
#[wasmexport]
fn handle_response(_req_ctx: i32, _is_error: i32) {}
