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

mod driver;
mod error;
mod stderr;
mod timer;
mod values;

pub use driver::StoreData;
pub use error::{Error, ErrorKind};
pub use values::{Completion, ImportCall, TaskResult};

use driver::{ConfigureStore, Driver, Invoked, Msg, Ops};
use error::StartPanicked;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot, watch};
use wasmtime::{Linker, Module, Store, Val, WasmParams, WasmResults, bail};
use wasmtime_wasi::WasiCtxBuilder;

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

/// Configures an instance before it starts: async host functions, other imports, WASI.
///
/// ```
/// use wasmexport_host::{Completion, Host};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let engine = wasmtime::Engine::default();
/// # let module = wasmtime::Module::new(&engine, wasmexport_host::__doc::MODULE)?;
/// let mut builder = Host::builder(&module);
/// builder.async_import("host", "fetch", |call| {
///     let n = call.i32(0)?;
///     Ok(async move { Completion::Bytes(vec![0; n as usize]) })
/// })?;
/// builder.wasi().env("MODE", "test");
/// builder.forward_stderr(false);
/// let host = builder.start().await?;
/// // The example module resolves `fetch` with the length of the bytes.
/// assert_eq!(host.call_pending::<_, i32>("fetch", (5,)).await?, 5);
/// # Ok(())
/// # }
/// ```
pub struct Builder {
    module: Module,
    linker: Linker<StoreData>,
    wasi: WasiCtxBuilder,
    forward_stderr: bool,
    stack_size: usize,
    configure_store: Option<ConfigureStore>,
    error: Option<wasmtime::Error>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("forward_stderr", &self.forward_stderr)
            .finish_non_exhaustive()
    }
}

impl Builder {
    fn new(module: &Module) -> Builder {
        let mut linker = Linker::new(module.engine());
        let error =
            wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |d: &mut StoreData| &mut d.wasi)
                .err();
        Builder {
            module: module.clone(),
            linker,
            wasi: WasiCtxBuilder::new(),
            forward_stderr: true,
            stack_size: DEFAULT_STACK_SIZE,
            configure_store: None,
            error,
        }
    }

    /// Defines import `module`.`name` as an async host function. When the guest calls it, `start`
    /// runs at once with the call's arguments and memory (see [`ImportCall`]) and returns the
    /// operation's future, or an error that traps the guest. The guest receives a fresh token,
    /// unique among the operations in flight; the future runs on the tokio runtime that started
    /// the host, and its [`Completion`] completes the token through `wasmexport_complete`.
    ///
    /// The import must return an `i32` (the token): the guest declares it like
    /// `#[wasmimport(module = "host", name = "fetch")] fn fetch(n: i32) -> u32;`. Its
    /// parameters may be anything. If the module does not import `module`.`name`, nothing is
    /// defined.
    ///
    /// `start` runs on the driver thread, inside the runtime's context (it may spawn tasks and
    /// make timers). An error from it traps the guest ([`ErrorKind::Trap`]); a panic in it or
    /// in its future poisons the instance ([`ErrorKind::HostPanic`]). A future that never
    /// completes leaves the guest's future for its token waiting until the instance is dropped
    /// or poisoned.
    ///
    /// ```
    /// # use wasmexport_host::{Completion, Host};
    /// # fn f(builder: &mut wasmexport_host::Builder) -> wasmtime::Result<()> {
    /// builder.async_import("host", "fetch", |call| {
    ///     let n = call.i32(0)?;
    ///     Ok(async move {
    ///         tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    ///         Completion::Value(n)
    ///     })
    /// })?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn async_import<F, Fut>(
        &mut self,
        module: &str,
        name: &str,
        start: F,
    ) -> wasmtime::Result<&mut Self>
    where
        F: Fn(&mut ImportCall<'_, '_>) -> wasmtime::Result<Fut> + Send + Sync + 'static,
        Fut: Future<Output = Completion> + Send + 'static,
    {
        let Some(import) = self.module.imports().find(|i| i.module() == module && i.name() == name)
        else {
            return Ok(self);
        };
        let Some(ty) = import.ty().func().cloned() else {
            bail!("import {module}.{name} is not a function");
        };
        let results: Vec<_> = ty.results().collect();
        if !matches!(results.as_slice(), [r] if r.is_i32()) {
            bail!(
                "async import {module}.{name} must return an i32 (the token); it returns {results:?}"
            );
        }
        let label: Arc<str> = format!("{module}.{name}").into();
        self.linker.func_new(module, name, ty, move |mut caller, params, results| {
            // On the driver thread, outside the runtime: enter it, so that `start` may spawn
            // tasks and make timers as the future it returns may.
            let handle = caller.data().ops.handle.clone();
            let _runtime = handle.enter();
            let call = &mut ImportCall { caller: &mut caller, params };
            let future = match catch_unwind(AssertUnwindSafe(|| start(call))) {
                Ok(started) => started?,
                // Unwinding through the guest would end the driver thread: trap it instead.
                Err(payload) => {
                    let message = values::panic_message(&*payload);
                    return Err(wasmtime::Error::new(StartPanicked {
                        import: label.clone(),
                        message,
                    }));
                }
            };
            let token = caller.data_mut().ops.start(&label, future);
            results[0] = Val::I32(token);
            Ok(())
        })?;
        Ok(self)
    }

    /// The linker, for imports that are not async: `func_wrap` and the like. It already holds
    /// WASI preview 1; the `[task-return]` imports are defined at [`Builder::start`]. Its
    /// functions run on the host's driver thread, during the guest's call, outside any tokio
    /// runtime's context; they must not wait for a call through [`Host`] (it would wait behind
    /// them for ever). A panic in one ends the driver thread: that call and every later one
    /// fail with [`ErrorKind::Closed`].
    ///
    /// ```
    /// # use wasmexport_host::Host;
    /// # fn f(builder: &mut wasmexport_host::Builder) -> wasmtime::Result<()> {
    /// builder.linker().func_wrap("host", "now_ms", || -> i64 { 1_700_000_000_000 })?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn linker(&mut self) -> &mut Linker<StoreData> {
        &mut self.linker
    }

    /// The WASI context's builder: arguments, environment, preopened directories. Its stderr is
    /// replaced by the host's own stream (see [`Builder::forward_stderr`]).
    ///
    /// ```
    /// # fn f(builder: &mut wasmexport_host::Builder) {
    /// builder.wasi().env("LOG", "debug").arg("plugin");
    /// # }
    /// ```
    pub fn wasi(&mut self) -> &mut WasiCtxBuilder {
        &mut self.wasi
    }

    /// Whether the guest's stderr goes on to the process's stderr (the default) or nowhere.
    /// Either way the host reads the `wasmexport:` line the runtime writes before a trap, for
    /// the trap's [`Error`].
    ///
    /// ```
    /// # fn f(builder: &mut wasmexport_host::Builder) {
    /// builder.forward_stderr(false); // keep test output quiet
    /// # }
    /// ```
    pub fn forward_stderr(&mut self, forward: bool) -> &mut Self {
        self.forward_stderr = forward;
        self
    }

    /// Configures the instance's store before the module is instantiated in it: its fuel,
    /// its epoch deadline, and the like, which an engine with fuel or epoch interruption
    /// needs (with neither set, every call into such a store traps at once). It runs on the
    /// driver thread. An epoch deadline is also the only way out of a guest call that never
    /// returns (a loop without end): nothing else interrupts the driver thread, and every
    /// call waits behind it.
    ///
    /// ```
    /// # use wasmexport_host::Host;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut config = wasmtime::Config::new();
    /// config.consume_fuel(true);
    /// let engine = wasmtime::Engine::new(&config)?;
    /// # let wasm = wasmexport_host::__doc::MODULE;
    /// let module = wasmtime::Module::new(&engine, wasm)?;
    /// let mut builder = Host::builder(&module);
    /// # builder.async_import("host", "fetch", |_| Ok(async { wasmexport_host::Completion::Value(0) }))?;
    /// builder.configure_store(|store| store.set_fuel(1_000_000).expect("fuel is on"));
    /// let host = builder.start().await?;
    /// assert_eq!(host.call_pending::<_, i32>("double", (4,)).await?, 8);
    /// # Ok(())
    /// # }
    /// ```
    pub fn configure_store(
        &mut self,
        configure: impl FnOnce(&mut Store<StoreData>) + Send + 'static,
    ) -> &mut Self {
        self.configure_store = Some(Box::new(configure));
        self
    }

    /// The stack size of the driver thread, on which the guest runs: 8 MiB unless set. It must
    /// exceed the engine's `max_wasm_stack` (wasmtime's default is 512 KiB) with room for the
    /// host's own frames: a guest that recursed past the thread's stack before reaching
    /// `max_wasm_stack` would abort the process instead of trapping.
    ///
    /// ```
    /// # use wasmexport_host::Host;
    /// # fn f(module: &wasmtime::Module) {
    /// // An engine configured with `max_wasm_stack(16 << 20)`.
    /// let mut builder = Host::builder(module);
    /// builder.driver_stack_size(24 << 20);
    /// # }
    /// ```
    pub fn driver_stack_size(&mut self, bytes: usize) -> &mut Self {
        self.stack_size = bytes;
        self
    }

    /// Instantiates the module on a new driver thread, calls its `_initialize`, and returns the
    /// handle. Must run inside a tokio runtime: the host operations and the timer run on it.
    ///
    /// Fails with [`ErrorKind::Setup`] if the module lacks the ABI's exports
    /// (`wasmexport_drive`, `wasmexport_complete`, `wasmexport_buffer`) or an import, and with
    /// [`ErrorKind::Trap`] if `_initialize` traps.
    ///
    /// ```
    /// # use wasmexport_host::{ErrorKind, Host};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let engine = wasmtime::Engine::default();
    /// let plain = wasmtime::Module::new(&engine, r#"(module (memory (export "memory") 1))"#)?;
    /// let err = Host::builder(&plain).start().await.unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Setup);
    /// assert!(err.to_string().contains("wasmexport_drive"));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start(mut self) -> Result<Host, Error> {
        if let Some(e) = self.error.take() {
            return Err(Error::new(ErrorKind::Setup, format!("{e:?}")));
        }
        let Ok(handle) = Handle::try_current() else {
            return Err(Error::new(ErrorKind::Setup, "Builder::start must run in a tokio runtime"));
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let (deadline_tx, deadline_rx) = watch::channel(None);
        handle.spawn(timer::run(deadline_rx, tx.downgrade()));
        let stderr = stderr::GuestStderr::new(self.forward_stderr);
        let wasi = self.wasi.stderr(stderr.clone()).build_p1();
        let data = StoreData { wasi, delivered: Vec::new(), ops: Ops::new(handle, tx.downgrade()) };
        let (ready_tx, ready_rx) = oneshot::channel();
        let Builder { module, linker, configure_store, stack_size, .. } = self;
        let spawned = std::thread::Builder::new()
            .name("wasmexport-host".into())
            .stack_size(stack_size)
            .spawn(move || {
                match Driver::new(&module, linker, data, configure_store, stderr, deadline_tx) {
                    Ok(driver) => {
                        if ready_tx.send(Ok(())).is_ok() {
                            driver.run(rx);
                        }
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            });
        if let Err(e) = spawned {
            return Err(Error::new(ErrorKind::Setup, format!("spawning the driver thread: {e}")));
        }
        ready_rx.await.map_err(|_| closed())??;
        Ok(Host { tx })
    }
}

/// The driver thread's stack unless [`Builder::driver_stack_size`] says otherwise: wasm runs
/// on it, so it leaves room beyond wasmtime's default `max_wasm_stack` of 512 KiB.
const DEFAULT_STACK_SIZE: usize = 8 << 20;

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
