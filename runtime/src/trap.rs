//! Traps this crate causes on purpose: one `wasmexport:` line on stderr, then `unreachable`.
//!
//! On wasm32-unknown-unknown there is no stderr (no WASI `fd_write`): the line goes to the trap
//! reporter only, and nowhere when none is set, so that the module imports nothing of its own.
//!
//! The line is formatted into a buffer on the stack, not a `String`: a trap must not depend on
//! the allocator (the heap may be what went wrong), and it keeps `alloc::fmt::format` out of
//! modules that never format anything else.

use std::cell::Cell;
use std::fmt::{self, Write as _};

/// One line of at most `N` bytes (`N` > 4); what does not fit is cut, ending in `...`.
struct Line<const N: usize> {
    buf: [u8; N],
    len: usize,
    cut: bool,
}

impl<const N: usize> Line<N> {
    fn new() -> Self {
        Line { buf: [0; N], len: 0, cut: false }
    }

    fn finish(&mut self) -> &[u8] {
        let end: &[u8] = if self.cut { b"...\n" } else { b"\n" };
        for (dst, src) in self.buf.iter_mut().skip(self.len).zip(end) {
            *dst = *src;
        }
        self.len += end.len();
        self.buf.get(..self.len).unwrap_or_default()
    }
}

impl<const N: usize> fmt::Write for Line<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Room is kept for the end: "...\n" if cut, else "\n".
        let room = N - 4 - self.len;
        let take = if s.len() <= room {
            s.len()
        } else {
            self.cut = true;
            // Cut on a char boundary, so the line stays UTF-8.
            (0..=room).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0)
        };
        // Byte by byte rather than slicing: no index can fail, so no panic message (and its
        // formatting code) comes with it.
        let free = self.buf.iter_mut().skip(self.len);
        for (dst, src) in free.zip(s.bytes().take(take)) {
            *dst = src;
        }
        self.len += take;
        Ok(())
    }
}

/// WASI's `ciovec`: one buffer for `fd_write` to read.
#[cfg(all(target_family = "wasm", not(target_os = "unknown")))]
#[repr(C)]
struct Ciovec {
    buf: *const u8,
    len: usize,
}

#[cfg(all(target_family = "wasm", not(target_os = "unknown")))]
#[link(wasm_import_module = "wasi_snapshot_preview1")]
unsafe extern "C" {
    fn fd_write(fd: u32, iovs: *const Ciovec, iovs_len: usize, nwritten: *mut usize) -> u16;
}

/// Writes all of `bytes` to fd 2: straight to WASI's `fd_write` on wasm (which std imports
/// anyway), so that no lock and no `std::io` error type is involved. On wasm32-unknown-unknown,
/// which has no stderr, nothing.
fn write_stderr(bytes: &[u8]) {
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    let _ = bytes;
    #[cfg(all(target_family = "wasm", not(target_os = "unknown")))]
    {
        let mut bytes = bytes;
        while !bytes.is_empty() {
            let iov = Ciovec { buf: bytes.as_ptr(), len: bytes.len() };
            let mut written = 0;
            // SAFETY: `iov` points at `bytes`, live and unchanged for the call, and `written`
            // is a valid place for the count; WASI's fd_write reads the one iovec and writes
            // only `written`.
            let errno = unsafe { fd_write(2, &iov, 1, &mut written) };
            if errno != 0 || written == 0 {
                return;
            }
            bytes = bytes.get(written..).unwrap_or_default();
        }
    }
    #[cfg(not(target_family = "wasm"))]
    {
        use std::io::Write as _;
        let _ = std::io::stderr().write_all(bytes);
    }
}

thread_local! {
    /// The fn given to `set_trap_reporter`, if any.
    static REPORTER: Cell<Option<fn(&str)>> = const { Cell::new(None) };
    /// True while the reporter runs: a line it causes (it panicked, or it called back into the
    /// module and that call trapped) goes to stderr only, so that a failing reporter cannot
    /// recurse.
    static REPORTING: Cell<bool> = const { Cell::new(false) };
}

/// See `wasmexport::set_trap_reporter`.
pub(crate) fn set_reporter(reporter: fn(&str)) {
    REPORTER.set(Some(reporter));
}

/// Writes `wasmexport: {msg}` and a newline to fd 2 in one write, then hands the line (without
/// the newline) to the reporter, if one is set and it is not the reporter's own failure.
pub(crate) fn report(msg: fmt::Arguments<'_>) {
    let mut line = Line::<1024>::new();
    let _ = write!(line, "wasmexport: {msg}");
    let bytes = line.finish();
    write_stderr(bytes);
    to_reporter(bytes);
}

/// Hands a finished line (without its newline) to the reporter, if one is set and this is not
/// the reporter's own failure.
fn to_reporter(bytes: &[u8]) {
    let Some(reporter) = REPORTER.get() else { return };
    if REPORTING.replace(true) {
        return;
    }
    let text = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    // SAFETY: `Line` only ever holds whole `str`s, cut on char boundaries, and ASCII ends, so
    // its bytes are UTF-8. (Checking would cost every module about 1 KB of UTF-8 validation.)
    reporter(unsafe { std::str::from_utf8_unchecked(text) });
    REPORTING.set(false);
}

/// Hands `wasmexport: ` and the parts to the reporter, as [`report`] does, without writing them
/// to stderr again; kept out of line so that [`trap_static`] itself needs no stack frame.
#[cfg(target_family = "wasm")]
#[cold]
#[inline(never)]
fn report_parts(a: &str, b: &str, c: &str, d: &str, e: &str) {
    if REPORTER.get().is_none() || REPORTING.get() {
        return;
    }
    let mut line = Line::<1024>::new();
    let _ = line.write_str("wasmexport: ");
    for part in [a, b, c, d, e] {
        let _ = line.write_str(part);
    }
    to_reporter(line.finish());
}

/// Writes `wasmexport: {msg}` to fd 2 in one write, then traps.
///
/// On targets other than wasm (the crate's own host-side tests) it panics with the same text
/// instead, so that tests can observe it.
#[cold]
#[inline(never)]
pub(crate) fn trap(msg: fmt::Arguments<'_>) -> ! {
    #[cfg(target_family = "wasm")]
    {
        report(msg);
        core::arch::wasm32::unreachable()
    }
    #[cfg(not(target_family = "wasm"))]
    {
        panic!("wasmexport: {msg}")
    }
}

/// How many pieces a line of [`trap_static`] has: the prefix, five parts, the newline.
#[cfg(all(target_family = "wasm", not(target_os = "unknown")))]
const PIECES: usize = 7;

/// The iovecs and the count of [`trap_static`]: in static memory, not on the stack.
#[cfg(all(target_family = "wasm", not(target_os = "unknown")))]
static mut IOVS: [Ciovec; PIECES] = [const { Ciovec { buf: std::ptr::null(), len: 0 } }; PIECES];
#[cfg(all(target_family = "wasm", not(target_os = "unknown")))]
static mut WRITTEN: usize = 0;

/// Writes `wasmexport: ` followed by `a` to `e` and a newline to fd 2 in one `fd_write`, then
/// traps; for the refusals at an export's entry.
///
/// Those may run after a trap unwound a call without restoring `__stack_pointer`, the global
/// that holds the top of the linear-memory stack rustc gives every frame that needs memory:
/// after the stack ran out it points below the start of memory, and any frame faults. So this
/// uses none: no formatting, the iovecs and the count in statics, every local a wasm local
/// (which a release build keeps out of memory; a debug build spills them: see `_host_imports`).
#[cold]
#[inline(never)]
pub(crate) fn trap_static(
    a: &'static str,
    b: &'static str,
    c: &'static str,
    d: &'static str,
    e: &'static str,
) -> ! {
    #[cfg(target_family = "wasm")]
    {
        // Without WASI (wasm32-unknown-unknown) there is no stderr: the reporter only.
        #[cfg(not(target_os = "unknown"))]
        let iovs = (&raw mut IOVS).cast::<Ciovec>();
        #[cfg(not(target_os = "unknown"))]
        // SAFETY: `iovs` points at `IOVS`, `PIECES` iovecs, which only this fn uses; wasm32-wasip1
        // has one thread and this fn does not return, so no two runs overlap. Each iovec points
        // at a `'static` str; `fd_write` reads the iovecs from `first` on and writes only
        // `WRITTEN`. `first < PIECES` wherever an iovec is indexed.
        unsafe {
            let piece = |s: &'static str| Ciovec { buf: s.as_ptr(), len: s.len() };
            iovs.write(piece("wasmexport: "));
            iovs.add(1).write(piece(a));
            iovs.add(2).write(piece(b));
            iovs.add(3).write(piece(c));
            iovs.add(4).write(piece(d));
            iovs.add(5).write(piece(e));
            iovs.add(6).write(piece("\n"));
            let mut first = 0;
            while first < PIECES {
                let errno = fd_write(2, iovs.add(first), PIECES - first, &raw mut WRITTEN);
                let mut left = WRITTEN;
                if errno != 0 || left == 0 {
                    break;
                }
                // Skip what was written; go on from the middle of a piece after a short write.
                while first < PIECES && left >= (*iovs.add(first)).len {
                    left -= (*iovs.add(first)).len;
                    first += 1;
                }
                if first < PIECES {
                    let iov = &mut *iovs.add(first);
                    iov.buf = iov.buf.add(left);
                    iov.len -= left;
                }
            }
        }
        // The line is on stderr; now the reporter, if one is set (a static load: no frame
        // here), which needs a frame of its own. If the stack is what ran out, that frame
        // faults: the host sees a trap all the same, one that says "out of bounds" instead of
        // "unreachable", and stderr has the line.
        if REPORTER.get().is_some() && !REPORTING.get() {
            report_parts(a, b, c, d, e);
        }
        core::arch::wasm32::unreachable()
    }
    #[cfg(not(target_family = "wasm"))]
    {
        panic!("wasmexport: {a}{b}{c}{d}{e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<const N: usize>(text: &str) -> String {
        let mut line = Line::<N>::new();
        let _ = line.write_str(text);
        String::from_utf8(line.finish().to_vec()).unwrap()
    }

    #[test]
    fn a_line_that_fits_ends_in_a_newline() {
        assert_eq!(line::<16>("hello"), "hello\n");
        assert_eq!(line::<9>("hello"), "hello\n");
    }

    use std::cell::RefCell;

    thread_local!(static SEEN: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) });

    fn record_and_report_again(line: &str) {
        SEEN.with_borrow_mut(|seen| seen.push(line.to_string()));
        report(format_args!("from inside the reporter"));
    }

    #[test]
    fn the_reporter_gets_each_line_once_and_is_not_reentered() {
        set_reporter(record_and_report_again);
        report(format_args!("first {}", 1));
        report(format_args!("second"));
        assert_eq!(
            SEEN.take(),
            ["wasmexport: first 1", "wasmexport: second"],
            "the lines of the reporter's own reports did not reach it"
        );
    }

    #[test]
    fn a_long_line_is_cut_on_a_char_boundary() {
        assert_eq!(line::<10>("hello world"), "hello ...\n");
        // 'é' is two bytes: the cut does not split it.
        assert_eq!(line::<9>("abcdéfgh"), "abcd...\n");
        assert_eq!(line::<8>("ééééé"), "éé...\n");
    }
}
