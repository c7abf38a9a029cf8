//! Traps this crate causes on purpose: one `wasmexport:` line on stderr, then `unreachable`.
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

/// Writes all of `bytes` to fd 2: straight to WASI's `fd_write` on wasm (which std imports
/// anyway), so that no lock and no `std::io` error type is involved.
fn write_stderr(bytes: &[u8]) {
    #[cfg(target_family = "wasm")]
    {
        let mut bytes = bytes;
        #[repr(C)]
        struct Ciovec {
            buf: *const u8,
            len: usize,
        }
        #[link(wasm_import_module = "wasi_snapshot_preview1")]
        unsafe extern "C" {
            fn fd_write(fd: u32, iovs: *const Ciovec, iovs_len: usize, nwritten: *mut usize)
            -> u16;
        }
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
