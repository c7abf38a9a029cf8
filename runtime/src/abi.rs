//! The types that cross the wasm boundary, checked by traits so that aliases and newtypes are
//! seen through: `type Handle = u32;` passes, `type Byte = u8;` and `struct Id(u32)` do not.
//!
//! * [`WasmType`]: one wasm value (the scalars, `usize`/`isize`, thin pointers to a
//!   [`HostLayout`] type); parameters and results.
//! * [`WasmResult`]: what a fn may return: a [`WasmType`] or `()` (an alias of it included).
//! * [`WasmSlice`]: `&str`, `&[u8]`, `&mut [u8]` parameters, two wasm values each (pointer,
//!   then length), checked on the way in: in bounds, not aliasing a mutable one, UTF-8.

use crate::trap::trap;
use std::ffi::c_void;

mod sealed {
    pub trait Sealed {}
}

/// A type that a `#[wasmexport]` or `#[wasmimport]` fn may take or return as one wasm value.
///
/// Implemented for `i32`, `u32`, `i64`, `u64`, `f32`, `f64`, `bool`, `usize`, `isize` and thin
/// raw pointers to a [`HostLayout`] type, and sealed: the macros rely on this list being exactly
/// what a wasm signature can carry.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot cross the wasm boundary",
    label = "not a wasm value type",
    note = "#[wasmexport] and #[wasmimport] fns take and return i32, u32, i64, u64, f32, f64, bool, usize, isize, *const T or *mut T (or an alias of one); parameters may also be &str, &[u8] or &mut [u8]"
)]
pub trait WasmType: sealed::Sealed {
    /// The type in the wasm signature.
    type Abi;
    /// Converts a Rust value to its wasm form.
    fn into_abi(self) -> Self::Abi;
    /// Converts a wasm value to its Rust form; never undefined behaviour, whatever the host sent.
    fn from_abi(abi: Self::Abi) -> Self;
}

macro_rules! same {
    ($($t:ty)*) => {$(
        impl sealed::Sealed for $t {}
        impl WasmType for $t {
            type Abi = $t;
            #[inline(always)]
            fn into_abi(self) -> $t { self }
            #[inline(always)]
            fn from_abi(abi: $t) -> $t { abi }
        }
    )*};
}
// `usize` and `isize` are Go's `uintptr`: an `i32` on wasm32.
same!(i32 u32 i64 u64 f32 f64 usize isize);

impl sealed::Sealed for bool {}
/// An `i32` in wasm, as in Go: any non-zero value the host passes is `true`, so a host that
/// sends 2 cannot create an invalid `bool`.
impl WasmType for bool {
    type Abi = i32;
    #[inline(always)]
    fn into_abi(self) -> i32 {
        self as i32
    }
    #[inline(always)]
    fn from_abi(abi: i32) -> bool {
        abi != 0
    }
}

macro_rules! pointer {
    ($($ptr:tt)*) => {$(
        // Unbounded, so that a pointee without a host layout fails `WasmType`'s bound alone.
        impl<T> sealed::Sealed for *$ptr T {}
        impl<T: HostLayout> WasmType for *$ptr T {
            type Abi = *$ptr T;
            #[inline(always)]
            fn into_abi(self) -> *$ptr T {
                self
            }
            #[inline(always)]
            fn from_abi(abi: *$ptr T) -> *$ptr T {
                abi
            }
        }
    )*};
}
pointer!(const mut);

/// What a `#[wasmexport]` or `#[wasmimport]` fn may return: one [`WasmType`], or nothing.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned across the wasm boundary",
    label = "not a wasm result type",
    note = "a #[wasmexport] or #[wasmimport] fn returns nothing or one of i32, u32, i64, u64, f32, f64, bool, usize, isize, *const T or *mut T; to return a string or bytes, return a pointer and write the length through a `*mut u32` parameter"
)]
pub trait WasmResult: sealed::Sealed {
    /// The result type in the wasm signature (`()` for none).
    type Abi;
    /// Converts a Rust value to its wasm form.
    fn into_abi(self) -> Self::Abi;
    /// Converts a wasm value to its Rust form.
    fn from_abi(abi: Self::Abi) -> Self;
}

impl<T: WasmType> WasmResult for T {
    type Abi = T::Abi;
    #[inline(always)]
    fn into_abi(self) -> T::Abi {
        WasmType::into_abi(self)
    }
    #[inline(always)]
    fn from_abi(abi: T::Abi) -> T {
        WasmType::from_abi(abi)
    }
}

impl sealed::Sealed for () {}
/// `type Unit = (); fn f() -> Unit` returns nothing.
impl WasmResult for () {
    type Abi = ();
    #[inline(always)]
    fn into_abi(self) {}
    #[inline(always)]
    fn from_abi(_: ()) {}
}

/// A type whose layout a wasm host can rely on, so that a `*const T` or `*mut T` to it may cross
/// the boundary (Go's `structs.HostLayout`).
///
/// Implemented for the scalars, `u8`, `i8`, `u16`, `i16`, [`c_void`], `()`, raw pointers and
/// arrays of these, and, through `#[derive(wasmexport::HostLayout)]`, for `#[repr(C)]` and
/// `#[repr(transparent)]` structs whose fields all have a host layout. `*mut ()` and a pointer to
/// an empty `#[repr(C)]` struct (`struct Empty {}` or `struct Empty;`, size 0) are Go's
/// `*struct{}`: opaque handles, one `i32` in wasm.
///
/// # Safety
/// The type's size, alignment and field offsets must be fixed by a `repr` a host can compute
/// (C's rules on wasm32), and every field must be `HostLayout` too. Use the derive, which
/// checks both, rather than implementing this by hand.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no layout a wasm host can rely on",
    label = "no host layout",
    note = "a #[wasmexport] or #[wasmimport] pointer may point to i32, u32, i64, u64, f32, f64, bool, usize, isize, u8, i8, u16, i16, c_void, `()`, a raw pointer, an array of these, or a #[repr(C)] struct (an empty one too) marked #[derive(wasmexport::HostLayout)]"
)]
pub unsafe trait HostLayout {}

macro_rules! host_layout {
    ($($t:ty)*) => {$(
        // SAFETY: a primitive's layout is fixed by the target (wasm32's C ABI).
        unsafe impl HostLayout for $t {}
    )*};
}
host_layout!(i32 u32 i64 u64 f32 f64 bool usize isize u8 i8 u16 i16 c_void);
// SAFETY: `()` has size 0 and alignment 1, like Go's `struct{}`: a pointer to it is an opaque
// handle (`*mut ()`) whose pointee the host never reads.
unsafe impl HostLayout for () {}
// SAFETY: an array is its elements back to back; the elements have a host layout.
unsafe impl<T: HostLayout, const N: usize> HostLayout for [T; N] {}
// SAFETY: a thin pointer is one `usize` (an `i32` on wasm32).
unsafe impl<T: HostLayout> HostLayout for *const T {}
// SAFETY: as for `*const T`.
unsafe impl<T: HostLayout> HostLayout for *mut T {}

/// A parameter that crosses as two wasm values, pointer then length: `&str`, `&[u8]` and
/// `&mut [u8]` (Go's `string`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot cross the wasm boundary",
    label = "not a wasm parameter type",
    note = "the references a #[wasmexport] or #[wasmimport] fn may take are &str, &[u8] and &mut [u8] (each crosses as a pointer and a length); pass other data through a raw pointer"
)]
pub trait WasmSlice: sealed::Sealed + Sized {
    /// True for `&mut [u8]`: it must not share bytes with any other slice parameter.
    const MUTABLE: bool;
    /// The pointer and length a `#[wasmimport]` call passes.
    fn into_raw(self) -> (*mut u8, usize);
    /// The parameter from the pointer and length the host passed to export `export`; traps
    /// with a line naming `param` if they are not a valid slice (see `bytes_arg`) or, for
    /// `&str`, not UTF-8.
    ///
    /// # Safety
    /// For the lifetime chosen, the bytes belong to the export call: nothing else reads (for
    /// `&mut [u8]`) or writes them, as for any buffer a host lends a guest.
    unsafe fn from_raw(export: &'static str, param: &'static str, ptr: *mut u8, len: usize)
    -> Self;
}

impl sealed::Sealed for &[u8] {}
impl WasmSlice for &[u8] {
    const MUTABLE: bool = false;
    #[inline(always)]
    fn into_raw(self) -> (*mut u8, usize) {
        (self.as_ptr().cast_mut(), self.len())
    }
    #[inline]
    unsafe fn from_raw(
        export: &'static str,
        param: &'static str,
        ptr: *mut u8,
        len: usize,
    ) -> Self {
        match bytes_arg(export, param, ptr, len) {
            // SAFETY: `bytes_arg` checked that the range is non-null, inside linear memory and
            // at most isize::MAX bytes; the caller guarantees nothing writes it meanwhile.
            Some(ptr) => unsafe { std::slice::from_raw_parts(ptr, len) },
            None => &[],
        }
    }
}

impl sealed::Sealed for &mut [u8] {}
impl WasmSlice for &mut [u8] {
    const MUTABLE: bool = true;
    #[inline(always)]
    fn into_raw(self) -> (*mut u8, usize) {
        (self.as_mut_ptr(), self.len())
    }
    #[inline]
    unsafe fn from_raw(
        export: &'static str,
        param: &'static str,
        ptr: *mut u8,
        len: usize,
    ) -> Self {
        match bytes_arg(export, param, ptr, len) {
            // SAFETY: as for `&[u8]`, and the caller guarantees that nothing else accesses
            // the bytes meanwhile (the shim checked the other slice parameters with `disjoint`).
            Some(ptr) => unsafe { std::slice::from_raw_parts_mut(ptr.cast_mut(), len) },
            None => &mut [],
        }
    }
}

impl sealed::Sealed for &str {}
impl<'a> WasmSlice for &'a str {
    const MUTABLE: bool = false;
    #[inline(always)]
    fn into_raw(self) -> (*mut u8, usize) {
        (self.as_ptr().cast_mut(), self.len())
    }
    #[inline]
    unsafe fn from_raw(
        export: &'static str,
        param: &'static str,
        ptr: *mut u8,
        len: usize,
    ) -> Self {
        // SAFETY: the caller's contract is this fn's.
        let bytes: &'a [u8] = unsafe { WasmSlice::from_raw(export, param, ptr, len) };
        match std::str::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => not_utf8(export, param, e.valid_up_to()),
        }
    }
}

/// The bytes `ptr..ptr + len` a host passed for `param` of export `export`, checked: `None` for
/// an empty slice (whatever the pointer: a zero length never dereferences it), else the
/// pointer, known to be non-null, on wasm32 inside linear memory, and with `len` at most
/// `isize::MAX`, the most a slice may hold (wasm32's memory reaches 4 GiB, twice that).
/// Anything else traps with a line naming the export and the parameter, before the export's
/// code runs.
#[inline]
fn bytes_arg(
    export: &'static str,
    param: &'static str,
    ptr: *mut u8,
    len: usize,
) -> Option<*const u8> {
    if len == 0 {
        return None;
    }
    let start = ptr as usize as u64;
    let end = start.checked_add(len as u64);
    if start == 0 || end.is_none_or(|end| end > memory_end()) || len > isize::MAX as usize {
        bad_range(export, param, start, len);
    }
    Some(ptr.cast_const())
}

/// The end of linear memory in bytes; on other targets (host builds) the end of the address
/// space, where only the null and length checks apply.
#[inline(always)]
fn memory_end() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        core::arch::wasm32::memory_size(0) as u64 * 65536
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        usize::MAX as u64
    }
}

#[cold]
#[inline(never)]
fn bad_range(export: &str, param: &str, start: u64, len: usize) -> ! {
    if start == 0 {
        trap(format_args!(
            "export \"{export}\": parameter `{param}`: a null pointer with length {len}; pass a \
             pointer into the module's memory (any pointer with length 0 is an empty slice)"
        ))
    }
    let end = memory_end();
    if start.checked_add(len as u64).is_none_or(|e| e > end) {
        trap(format_args!(
            "export \"{export}\": parameter `{param}`: {len} bytes at {start:#x} run past the end \
             of linear memory ({end} bytes); pass a pointer and length inside the module's memory"
        ))
    }
    trap(format_args!(
        "export \"{export}\": parameter `{param}`: {len} bytes at {start:#x} are more than a \
         slice may hold ({} bytes, isize::MAX); pass at most that many bytes",
        isize::MAX
    ))
}

#[cold]
#[inline(never)]
fn not_utf8(export: &str, param: &str, valid_up_to: usize) -> ! {
    trap(format_args!(
        "export \"{export}\": parameter `{param}` is not UTF-8 (invalid byte at offset \
         {valid_up_to}); a &str parameter takes UTF-8 text (take &[u8] for other bytes)"
    ))
}

/// One slice parameter as the host passed it: name, pointer, length, and whether it is
/// `&mut [u8]`.
pub type RawSlice = (&'static str, *mut u8, usize, bool);

/// Traps if a `&mut [u8]` parameter shares a byte with another slice parameter of the same
/// call: two live references to the same bytes, one of them mutable, would be undefined
/// behaviour in the export. Empty slices share nothing.
#[inline]
pub fn disjoint(export: &'static str, slices: &[RawSlice]) {
    for (i, &(a, a_ptr, a_len, a_mut)) in slices.iter().enumerate() {
        for &(b, b_ptr, b_len, b_mut) in &slices[i + 1..] {
            let (a_start, b_start) = (a_ptr as usize as u64, b_ptr as usize as u64);
            let overlap = (a_mut || b_mut)
                && a_len != 0
                && b_len != 0
                && a_start < b_start.saturating_add(b_len as u64)
                && b_start < a_start.saturating_add(a_len as u64);
            if overlap {
                overlapping(export, a, b);
            }
        }
    }
}

#[cold]
#[inline(never)]
fn overlapping(export: &str, a: &str, b: &str) -> ! {
    trap(format_args!(
        "export \"{export}\": parameters `{a}` and `{b}` share bytes, and one is &mut [u8]: a \
         mutable buffer must not overlap another buffer parameter; pass disjoint buffers"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panic_text(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
        let err = std::panic::catch_unwind(f).expect_err("expected a trap");
        err.downcast_ref::<String>().cloned().unwrap_or_default()
    }

    #[test]
    fn an_empty_slice_never_reads_its_pointer() {
        // SAFETY: the slices are empty.
        let (b, s, m): (&[u8], &str, &mut [u8]) = unsafe {
            (
                WasmSlice::from_raw("e", "b", std::ptr::null_mut(), 0),
                WasmSlice::from_raw("e", "s", std::ptr::without_provenance_mut(8), 0),
                WasmSlice::from_raw("e", "m", std::ptr::without_provenance_mut(usize::MAX), 0),
            )
        };
        assert!(b.is_empty() && s.is_empty() && m.is_empty());
    }

    #[test]
    fn a_null_pointer_with_a_length_traps_naming_the_parameter() {
        let text = panic_text(|| {
            // SAFETY: it traps before anything is read.
            let _: &[u8] = unsafe { WasmSlice::from_raw("read", "buf", std::ptr::null_mut(), 3) };
        });
        assert!(text.contains("export \"read\": parameter `buf`: a null pointer"), "{text}");
    }

    #[test]
    fn a_length_over_isize_max_traps_naming_the_parameter() {
        // On the host the address space is the bound, so a range this long can still end
        // inside it; the slice could not exist.
        let len = isize::MAX as usize + 1;
        let text = panic_text(|| {
            // SAFETY: it traps before anything is read.
            let _: &[u8] = unsafe {
                WasmSlice::from_raw("sum", "bytes", std::ptr::without_provenance_mut(16), len)
            };
        });
        assert_eq!(
            text,
            format!(
                "wasmexport: export \"sum\": parameter `bytes`: {len} bytes at 0x10 are more than a slice \
                 may hold ({} bytes, isize::MAX); pass at most that many bytes",
                isize::MAX
            )
        );
    }

    #[test]
    fn invalid_utf8_traps_naming_the_parameter() {
        let mut bytes = *b"ab\xffc";
        let text = panic_text(move || {
            // SAFETY: `bytes` is live and unshared for the call.
            let _: &str = unsafe { WasmSlice::from_raw("greet", "name", bytes.as_mut_ptr(), 4) };
        });
        assert!(
            text.contains("parameter `name` is not UTF-8 (invalid byte at offset 2)"),
            "{text}"
        );
    }

    #[test]
    fn overlapping_buffers_trap_only_when_one_is_mutable() {
        let p = std::ptr::without_provenance_mut::<u8>(64);
        let q = std::ptr::without_provenance_mut::<u8>(70);
        disjoint("f", &[("a", p, 8, false), ("b", q, 8, false)]);
        disjoint("f", &[("a", p, 6, true), ("b", q, 8, true)]);
        disjoint("f", &[("a", p, 0, true), ("b", p, 8, true)]);
        let text = panic_text(|| disjoint("f", &[("a", p, 8, false), ("b", q, 8, true)]));
        assert!(text.contains("parameters `a` and `b` share bytes"), "{text}");
    }
}
