use wasmexport::wasmexport;

// Every problem in one fn is reported.
#[wasmexport]
fn narrow(a: u8, b: i16, c: usize, d: isize, e: i128, f: char) -> u16 {
    let _ = (a, b, c, d, e, f);
    0
}

#[wasmexport]
fn borrowed(s: &str, b: &[u8], v: [u8; 4]) -> (i32, i32) {
    let _ = (s, b, v);
    (0, 0)
}

#[wasmexport]
fn owned(s: String) -> impl Copy {
    let _ = s;
    0
}

#[wasmexport]
fn fat(s: *const str, b: *mut [u8]) {
    let _ = (s, b);
}

#[wasmexport]
fn never() -> ! {
    loop {}
}

#[wasmexport]
fn callback(f: fn(i32) -> i32, t: ()) {
    let _ = (f, t);
}

fn main() {}
