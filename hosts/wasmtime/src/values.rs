//! What crosses between the host's Rust code and the module: the arguments of an async host
//! function ([`ImportCall`]), how its operation ends ([`Completion`]) and the Rust types of a
//! pending export's result ([`TaskResult`]).

use crate::StoreData;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};
use wasmtime::{Caller, Extern, Memory, Val, ValType, bail};

/// How a host operation ends: what [`Builder::async_import`](crate::Builder::async_import)'s
/// future returns, and what the guest's future for the token receives.
///
/// ```
/// use wasmexport_host::Completion;
///
/// // `pending::value(token)` in the guest gets 200; `pending::bytes(token)` gets `Err(200)`.
/// let status = Completion::Value(200);
/// // `pending::bytes(token)` gets `Ok(b"hello".to_vec())`.
/// let body = Completion::Bytes(b"hello".to_vec());
/// # let _ = (status, body);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Completion {
    /// Completes the token with a number: `wasmexport_complete(token, value)`. A guest awaiting
    /// `pending::bytes` receives it as `Err(value)`, an error code.
    Value(i32),
    /// Completes the token with bytes: the host reserves a buffer with
    /// `wasmexport_buffer(token, len)`, copies them there, then calls
    /// `wasmexport_complete(token, len)`. Meant for a guest awaiting `pending::bytes`, which
    /// gets `Ok` of them (empty ones too), or `Err(len)` if its heap could not hold them.
    /// 2^31 bytes or more poison the instance ([`ErrorKind::Protocol`](crate::ErrorKind::Protocol)).
    Bytes(Vec<u8>),
}

/// The call of an async host function, while the guest waits for its token: its arguments and
/// the module's memory, for the synchronous part of the function that starts the operation.
///
/// ```
/// # use wasmexport_host::{Completion, Host};
/// # fn f(builder: &mut wasmexport_host::Builder) -> wasmtime::Result<()> {
/// // The guest declares `fn log_line(text: &str) -> u32;`: a pointer and a length.
/// builder.async_import("host", "log_line", |call| {
///     let text = call.string(0)?; // read now: the memory is the guest's again after the call
///     Ok(async move { Completion::Value(text.len() as i32) })
/// })?;
/// # Ok(())
/// # }
/// ```
pub struct ImportCall<'a, 'b> {
    pub(crate) caller: &'a mut Caller<'b, StoreData>,
    pub(crate) params: &'a [Val],
}

impl std::fmt::Debug for ImportCall<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportCall").field("params", &self.params).finish_non_exhaustive()
    }
}

impl ImportCall<'_, '_> {
    /// The import's arguments, in wasm types.
    ///
    /// ```
    /// # use wasmexport_host::Completion;
    /// # fn f(builder: &mut wasmexport_host::Builder) -> wasmtime::Result<()> {
    /// builder.async_import("host", "fetch", |call| {
    ///     let count = call.params().len();
    ///     Ok(async move { Completion::Value(count as i32) })
    /// })?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn params(&self) -> &[Val] {
        self.params
    }

    /// Argument `index` as an `i32` (a Rust `i32`, `u32`, `bool`, `usize` or pointer); an error,
    /// which traps the guest if returned, when there is no such `i32` argument.
    ///
    /// ```
    /// # use wasmexport_host::Completion;
    /// # fn f(builder: &mut wasmexport_host::Builder) -> wasmtime::Result<()> {
    /// builder.async_import("host", "fetch", |call| {
    ///     let n = call.i32(0)?;
    ///     Ok(async move { Completion::Value(n + 1) })
    /// })?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn i32(&self, index: usize) -> wasmtime::Result<i32> {
        match self.params.get(index) {
            Some(Val::I32(v)) => Ok(*v),
            other => bail!("argument {index} is not an i32: {other:?}"),
        }
    }

    /// Argument `index` as an `i64` (a Rust `i64` or `u64`).
    ///
    /// ```
    /// # use wasmexport_host::Completion;
    /// # fn f(builder: &mut wasmexport_host::Builder) -> wasmtime::Result<()> {
    /// builder.async_import("host", "sleep_ns", |call| {
    ///     let ns = call.i64(0)?;
    ///     Ok(async move {
    ///         tokio::time::sleep(std::time::Duration::from_nanos(ns as u64)).await;
    ///         Completion::Value(0)
    ///     })
    /// })?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn i64(&self, index: usize) -> wasmtime::Result<i64> {
        match self.params.get(index) {
            Some(Val::I64(v)) => Ok(*v),
            other => bail!("argument {index} is not an i64: {other:?}"),
        }
    }

    /// The module's exported `memory`.
    ///
    /// ```
    /// # use wasmexport_host::Completion;
    /// # fn f(builder: &mut wasmexport_host::Builder) -> wasmtime::Result<()> {
    /// builder.async_import("host", "fetch", |call| {
    ///     let pages = call.memory()?.len() / 65536;
    ///     Ok(async move { Completion::Value(pages as i32) })
    /// })?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn memory(&mut self) -> wasmtime::Result<&mut [u8]> {
        let memory = exported_memory(self.caller)?;
        Ok(memory.data_mut(&mut *self.caller))
    }

    /// A copy of the bytes of a `&[u8]` or `&str` argument: the pointer is argument `index`, the
    /// length argument `index + 1`. An error if they reach past the memory.
    ///
    /// ```
    /// # use wasmexport_host::Completion;
    /// # fn f(builder: &mut wasmexport_host::Builder) -> wasmtime::Result<()> {
    /// // Guest: `fn digest(data: &[u8]) -> u32;`
    /// builder.async_import("host", "digest", |call| {
    ///     let data = call.bytes(0)?;
    ///     Ok(async move { Completion::Value(data.iter().map(|&b| i32::from(b)).sum()) })
    /// })?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn bytes(&mut self, index: usize) -> wasmtime::Result<Vec<u8>> {
        let ptr = self.i32(index)? as u32 as usize;
        let len = self.i32(index + 1)? as u32 as usize;
        let memory = self.memory()?;
        match memory.get(ptr..ptr.saturating_add(len)) {
            Some(bytes) => Ok(bytes.to_vec()),
            None => {
                bail!("arguments {index} and {}: {len} bytes at {ptr} are out of bounds", index + 1)
            }
        }
    }

    /// A copy of a `&str` argument (pointer at `index`, length at `index + 1`); an error if
    /// the bytes are out of bounds or not UTF-8.
    ///
    /// ```
    /// # use wasmexport_host::Completion;
    /// # fn f(builder: &mut wasmexport_host::Builder) -> wasmtime::Result<()> {
    /// builder.async_import("host", "fetch_url", |call| {
    ///     let url = call.string(0)?;
    ///     Ok(async move { Completion::Bytes(format!("GET {url}").into_bytes()) })
    /// })?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn string(&mut self, index: usize) -> wasmtime::Result<String> {
        match String::from_utf8(self.bytes(index)?) {
            Ok(text) => Ok(text),
            Err(e) => bail!("arguments {index} and {}: not UTF-8: {e}", index + 1),
        }
    }
}

pub(crate) fn exported_memory(caller: &mut Caller<'_, StoreData>) -> wasmtime::Result<Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => bail!("the module exports no memory"),
    }
}

/// The wasm type of a `[task-return]` import's result, if it has one.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResultType {
    I32,
    I64,
    F32,
    F64,
}

impl ResultType {
    pub(crate) fn of(ty: &ValType) -> Option<ResultType> {
        match ty {
            ValType::I32 => Some(ResultType::I32),
            ValType::I64 => Some(ResultType::I64),
            ValType::F32 => Some(ResultType::F32),
            ValType::F64 => Some(ResultType::F64),
            _ => None,
        }
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A Rust type that a pending export's result converts to: the type of the `result` parameter
/// of its `[task-return]NAME(id, result)` import, or `()` when that import has none.
///
/// | Rust | wasm |
/// |---|---|
/// | `i32`, `u32`, `bool` | `i32` |
/// | `i64`, `u64` | `i64` |
/// | `f32`, `f64` | `f32`, `f64` |
/// | `()` | nothing |
///
/// ```
/// # use wasmexport_host::Host;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let host = wasmexport_host::__doc::host().await?;
/// let n: u32 = host.call_pending("double", (21,)).await?;
/// assert_eq!(n, 42);
/// # Ok(())
/// # }
/// ```
pub trait TaskResult: sealed::Sealed + Sized + Send + 'static {
    /// The wasm type this Rust type crosses as; `None` for `()`.
    #[doc(hidden)]
    const TYPE: Option<ResultType>;
    /// Converts the delivered value, of type `TYPE`.
    #[doc(hidden)]
    fn from_val(val: Option<Val>) -> Option<Self>;
}

macro_rules! task_result {
    ($($t:ty => $ty:ident, |$v:ident| $pat:pat => $e:expr;)*) => {$(
        impl sealed::Sealed for $t {}
        impl TaskResult for $t {
            const TYPE: Option<ResultType> = Some(ResultType::$ty);
            fn from_val(val: Option<Val>) -> Option<Self> {
                match val {
                    Some($pat) => Some($e),
                    _ => None,
                }
            }
        }
    )*};
}

task_result! {
    i32 => I32, |v| Val::I32(v) => v;
    u32 => I32, |v| Val::I32(v) => v as u32;
    bool => I32, |v| Val::I32(v) => v != 0;
    i64 => I64, |v| Val::I64(v) => v;
    u64 => I64, |v| Val::I64(v) => v as u64;
    f32 => F32, |v| Val::F32(v) => f32::from_bits(v);
    f64 => F64, |v| Val::F64(v) => f64::from_bits(v);
}

impl sealed::Sealed for () {}
impl TaskResult for () {
    const TYPE: Option<ResultType> = None;
    fn from_val(val: Option<Val>) -> Option<Self> {
        val.is_none().then_some(())
    }
}

/// A future that catches a panic of the future it wraps, as `Err(message)`: an async host
/// function that panics must not leave the guest waiting forever.
pub(crate) struct CatchUnwind<F>(pub(crate) Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(panic_message(&*payload))),
        }
    }
}

pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_string()
    }
}
