//! The value types that cross the wasm boundary, checked by a sealed trait so that
//! aliases are seen through: `type Handle = u32;` passes, `type Byte = u8;` does not.

mod sealed {
    pub trait Sealed {}
}

/// A type that a `#[wasmexport]` or `#[wasmimport]` fn may take or return.
///
/// Implemented for `i32`, `u32`, `i64`, `u64`, `f32`, `f64`, `bool` and thin raw pointers, and
/// sealed: the macros rely on this list being exactly what a wasm signature can carry.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot cross the wasm boundary",
    label = "not a wasm value type",
    note = "#[wasmexport] and #[wasmimport] fns take and return i32, u32, i64, u64, f32, f64, bool, *const T or *mut T (or an alias of one)"
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
same!(i32 u32 i64 u64 f32 f64);

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

impl<T> sealed::Sealed for *const T {}
impl<T> WasmType for *const T {
    type Abi = *const T;
    #[inline(always)]
    fn into_abi(self) -> *const T {
        self
    }
    #[inline(always)]
    fn from_abi(abi: *const T) -> *const T {
        abi
    }
}

impl<T> sealed::Sealed for *mut T {}
impl<T> WasmType for *mut T {
    type Abi = *mut T;
    #[inline(always)]
    fn into_abi(self) -> *mut T {
        self
    }
    #[inline(always)]
    fn from_abi(abi: *mut T) -> *mut T {
        abi
    }
}
