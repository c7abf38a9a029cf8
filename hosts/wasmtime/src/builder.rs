//! [`Builder`]: what an instance is given before it starts (async host functions, other
//! imports, WASI, the store's configuration), and the start itself.

use crate::driver::{ConfigureStore, Driver};
use crate::error::StartPanicked;
use crate::store::{Ops, StoreData};
use crate::values::{self, Completion, ImportCall};
use crate::{Error, ErrorKind, Host, closed};
use crate::{stderr, timer};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot, watch};
use wasmtime::{Linker, Module, Store, Val, bail};
use wasmtime_wasi::WasiCtxBuilder;

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
    pub(crate) fn new(module: &Module) -> Builder {
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
