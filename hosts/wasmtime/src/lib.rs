//! Runs wasmexport modules that speak the host-async ABI (docs/async-abi.md in the repository)
//! on wasmtime, with tokio as the event loop.
//!
//! * A pending export (`#[wasmexport(pending)] async fn`) is an `async fn` on the host:
//!   [`Host::call_pending`] resolves when the guest delivers the call's result, however many
//!   other calls, host operations and timers come between.
//! * An async host function ([`Builder::async_import`]) becomes a guest future: the guest's
//!   import returns a token at once, the host's future runs on tokio, and its [`Completion`]
//!   wakes the guest's `pending::value(token)` or `pending::bytes(token)`.
//! * The guest's timers fire on tokio's clock: the host sleeps until the deadline the module
//!   names and drives it then, and the runtime's other tasks run meanwhile.
//! * A trap (a panic in a task, a deadlock, ...) fails every pending call with an [`Error`]
//!   that quotes the module's `wasmexport:` line, and every later call.
//!
//! [`Host`] is a cheap handle (`Clone + Send + Sync`): any number of tokio tasks call through
//! it at once. One thread per instance owns the wasmtime store and makes every call into the
//! module, in the order the calls, completions and timer expiries arrive; the module never
//! blocks that thread, since waiting is the host's job in this ABI. Any tokio runtime works,
//! the current-thread one too.
//!
//! ```
//! use wasmexport_host::{Completion, Host};
//! use std::time::Duration;
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let engine = wasmtime::Engine::default();
//!     // A guest that exports `#[wasmexport(pending)] async fn fetch(n: i32) -> i32`, which
//!     // awaits `pending::value(token)` for the token that its import `host.fetch(n)` returns.
//!     let module = wasmtime::Module::new(&engine, wasmexport_host::__doc::MODULE)?;
//!     let mut builder = Host::builder(&module);
//!     builder.async_import("host", "fetch", |call| {
//!         let n = call.i32(0)?;
//!         Ok(async move {
//!             tokio::time::sleep(Duration::from_millis(10)).await;
//!             Completion::Value(n * 10)
//!         })
//!     })?;
//!     let host = builder.start().await?;
//!
//!     // Three calls in flight at once; each resolves when its host operation completes.
//!     let (a, b, c) = tokio::try_join!(
//!         host.call_pending::<_, i32>("fetch", (1,)),
//!         host.call_pending::<_, i32>("fetch", (2,)),
//!         host.call_pending::<_, i32>("fetch", (3,)),
//!     )?;
//!     assert_eq!((a, b, c), (10, 20, 30));
//!     Ok(())
//! }
//! ```
#![warn(missing_docs)]

mod builder;
mod driver;
mod error;
mod stderr;
mod store;
mod timer;
mod values;

pub use builder::Builder;
pub use error::{Error, ErrorKind};
pub use store::StoreData;
pub use values::{Completion, ImportCall, TaskResult};

use driver::{Driver, Invoked, Msg};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use wasmtime::{Module, WasmParams, WasmResults};

/// A running instance of a module and the handle through which tokio tasks call it.
///
/// Cloning gives another handle to the same instance. The instance lives until every handle is
/// dropped; calls still pending then fail with [`ErrorKind::Closed`], and the host operations
/// in flight are aborted. A handle that the instance's own imports hold (captured by an
/// [`Builder::async_import`] function, say) keeps it alive for ever: its store holds them.
///
/// ```
/// # use wasmexport_host::Host;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let host = wasmexport_host::__doc::host().await?;
/// let tasks: Vec<_> = (0..4)
///     .map(|i| {
///         let host = host.clone();
///         tokio::spawn(async move { host.call_pending::<_, i32>("double", (i,)).await })
///     })
///     .collect();
/// for (i, task) in tasks.into_iter().enumerate() {
///     assert_eq!(task.await??, 2 * i as i32);
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Host {
    tx: mpsc::UnboundedSender<Msg>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host").field("running", &!self.tx.is_closed()).finish()
    }
}

impl Host {
    /// Starts configuring an instance of `module` (on `module`'s engine): its async host
    /// functions, other imports and WASI context. [`Builder::start`] instantiates it.
    ///
    /// ```
    /// use wasmexport_host::{Completion, Host};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let engine = wasmtime::Engine::default();
    /// // A module built with `cargo build --target wasm32-wasip1` (here: a hand-written one).
    /// # let wasm = wasmexport_host::__doc::MODULE;
    /// let module = wasmtime::Module::new(&engine, wasm)?;
    /// let mut builder = Host::builder(&module);
    /// // Every import of the module must be defined; this one is async.
    /// builder.async_import("host", "fetch", |call| {
    ///     let n = call.i32(0)?;
    ///     Ok(async move { Completion::Value(n) })
    /// })?;
    /// let host = builder.start().await?;
    /// # let _ = host;
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder(module: &Module) -> Builder {
        Builder::new(module)
    }

    /// Calls pending export `export` with `params` and resolves with its result, of the type
    /// of its `[task-return]` import (see [`TaskResult`]).
    ///
    /// The call returns to the host as soon as the export's future is pending; this future
    /// resolves when the module delivers the result, during this call or any later call into
    /// it. Dropping it does not cancel the guest's task: its result is then dropped.
    ///
    /// Errors: [`ErrorKind::Usage`] (no such pending export, or the types differ: nothing is
    /// called), [`ErrorKind::Trap`] (the module trapped before delivering the result),
    /// [`ErrorKind::Poisoned`] (an earlier trap), [`ErrorKind::Protocol`],
    /// [`ErrorKind::HostPanic`], [`ErrorKind::Closed`].
    ///
    /// ```
    /// # use wasmexport_host::{Completion, Host};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let host = wasmexport_host::__doc::host().await?;
    /// // `double(x: i32) -> i32` completes during its call.
    /// assert_eq!(host.call_pending::<_, i32>("double", (21,)).await?, 42);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn call_pending<P, R>(&self, export: &str, params: P) -> Result<R, Error>
    where
        P: WasmParams + Send + 'static,
        R: TaskResult,
    {
        let (reply, answer) = oneshot::channel();
        let export: Arc<str> = export.into();
        self.send(Box::new(move |driver: &mut Driver| {
            driver.start_pending::<R>(export, reply, move |store, func| {
                let typed = func.typed::<P, i32>(&*store).map_err(refused)?;
                Ok(typed.call(store, params))
            })
        }))?;
        let value = answer.await.map_err(|_| closed())??;
        R::from_val(value).ok_or_else(|| {
            Error::new(ErrorKind::Protocol, "the delivered result has another type than declared")
        })
    }

    /// Calls plain export `export` (not a pending one) with `params` and returns its results.
    /// Results it delivers for pending calls (if it runs tasks) resolve them.
    ///
    /// A pending export is refused with [`ErrorKind::Usage`] (its result would come for a call
    /// the host never saw). The protocol's exports may be called by hand: after
    /// `wasmexport_drive` or `wasmexport_complete` the host drives once more, to learn the
    /// module's next timer (the one they returned went to the caller alone).
    ///
    /// ```
    /// # use wasmexport_host::Host;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let host = wasmexport_host::__doc::host().await?;
    /// // The protocol's own exports are plain exports too.
    /// let next_timer: i32 = host.call("wasmexport_drive", ()).await?;
    /// assert_eq!(next_timer, -1);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn call<P, R>(&self, export: &str, params: P) -> Result<R, Error>
    where
        P: WasmParams + Send + 'static,
        R: WasmResults + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let export = export.to_string();
        self.send(Box::new(move |driver: &mut Driver| {
            let out = driver.call(&export, move |store, func| -> Invoked<R> {
                let typed = func.typed::<P, R>(&*store).map_err(refused)?;
                Ok(typed.call(store, params))
            });
            let _ = reply.send(out);
        }))?;
        answer.await.map_err(|_| closed())?
    }

    /// Runs the module's ready tasks and due timers now (`wasmexport_drive`), and returns the
    /// time until its next timer. The host drives by itself after every pending call that arms
    /// a timer, every completion and every timer expiry; this is for work a plain export
    /// started (a task it spawned runs only when something drives).
    ///
    /// ```
    /// # use wasmexport_host::Host;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let host = wasmexport_host::__doc::host().await?;
    /// assert_eq!(host.drive().await?, None); // no timer armed
    /// # Ok(())
    /// # }
    /// ```
    pub async fn drive(&self) -> Result<Option<Duration>, Error> {
        let (reply, answer) = oneshot::channel();
        self.send(Box::new(move |driver: &mut Driver| {
            let _ = reply.send(driver.drive_now("wasmexport_drive"));
        }))?;
        answer.await.map_err(|_| closed())?
    }

    /// The size of the module's linear memory, in bytes.
    ///
    /// ```
    /// # use wasmexport_host::Host;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let host = wasmexport_host::__doc::host().await?;
    /// assert_eq!(host.memory_size().await?, 65536); // the example module's one page
    /// # Ok(())
    /// # }
    /// ```
    pub async fn memory_size(&self) -> Result<usize, Error> {
        let (reply, answer) = oneshot::channel();
        self.send(Box::new(move |driver: &mut Driver| {
            let _ = reply.send(driver.memory_size());
        }))?;
        answer.await.map_err(|_| closed())
    }

    fn send(&self, f: Box<dyn FnOnce(&mut Driver) + Send>) -> Result<(), Error> {
        self.tx.send(Msg::Run(f)).map_err(|_| closed())
    }
}

fn refused(e: wasmtime::Error) -> Error {
    Error::new(ErrorKind::Usage, format!("{e:?}"))
}

fn closed() -> Error {
    Error::new(ErrorKind::Closed, "the host's driver thread is gone (it panicked)")
}

/// The module that the documentation's examples run: a hand-written module that speaks the
/// host-async ABI. Not part of the API.
#[doc(hidden)]
pub mod __doc {
    /// Its text (WAT).
    pub const MODULE: &str = include_str!("doc_module.wat");

    /// An instance of it whose `host.fetch(n)` completes with `n`.
    pub async fn host() -> Result<crate::Host, crate::Error> {
        let engine = wasmtime::Engine::default();
        let module = wasmtime::Module::new(&engine, MODULE).expect("the example module");
        let mut builder = crate::Host::builder(&module);
        builder
            .async_import("host", "fetch", |call| {
                let n = call.i32(0)?;
                Ok(async move { crate::Completion::Value(n) })
            })
            .expect("the example module's import");
        builder.start().await
    }
}
