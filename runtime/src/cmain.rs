//! An export named `main` keeps its declared signature. LLVM turns a function whose symbol is
//! `main`, with no parameters and an `i32` result, into C's `main(argc, argv) -> i32` (a wrapper
//! that drops both arguments), so `#[wasmexport] fn main() -> i32` would be exported as
//! `(i32, i32) -> i32`. LLVM only rewrites an `i32` result, and a thin pointer is an `i32` in
//! wasm but a different type to LLVM, so the shim of such an export returns the value as a
//! pointer: the export's wasm type is `() -> i32`, as declared.

/// The result type the shim of an export named `main` without parameters returns, for each
/// wasm value type: those that are an `i32` on wasm32 (`i32`, `u32`, `usize`, `isize`) as a
/// pointer, the others unchanged.
pub trait CMainResult {
    /// The shim's result type.
    type Ret;
    /// Converts the export's wasm result.
    fn wrap(self) -> Self::Ret;
}

macro_rules! as_pointer {
    ($($t:ty)*) => {$(
        impl CMainResult for $t {
            type Ret = *const u8;
            #[inline(always)]
            fn wrap(self) -> *const u8 {
                // The same 32 bits: on wasm32 a pointer is an i32.
                core::ptr::without_provenance(self as usize)
            }
        }
    )*};
}
as_pointer!(i32 u32 usize isize);

macro_rules! unchanged {
    ($($t:ty)*) => {$(
        impl CMainResult for $t {
            type Ret = $t;
            #[inline(always)]
            fn wrap(self) -> $t {
                self
            }
        }
    )*};
}
unchanged!(i64 u64 f32 f64);

impl<T> CMainResult for *const T {
    type Ret = *const T;
    #[inline(always)]
    fn wrap(self) -> *const T {
        self
    }
}

impl<T> CMainResult for *mut T {
    type Ret = *mut T;
    #[inline(always)]
    fn wrap(self) -> *mut T {
        self
    }
}
