//! Sleeps, with the cap on one blocking wait that `set_max_wait_ms` sets (0: no cap).

use std::time::Duration;
use wasmexport::time::{set_max_wait, sleep};
use wasmexport::wasmexport;

#[wasmexport]
fn set_max_wait_ms(ms: u32) {
    set_max_wait((ms > 0).then(|| Duration::from_millis(ms.into())));
}

#[wasmexport]
async fn sleep_ms(ms: u32) {
    sleep(Duration::from_millis(ms.into())).await
}

#[wasmexport]
fn add(x: i32, y: i32) -> i32 {
    x.wrapping_add(y)
}
