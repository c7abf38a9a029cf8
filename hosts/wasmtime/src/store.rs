//! What the store holds ([`StoreData`]): WASI, the results the module delivered during the
//! current call, and the host operations in flight ([`Ops`]), which are aborted when their
//! owner goes.

use crate::driver::Msg;
use crate::values::{CatchUnwind, Completion};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use wasmtime::Val;
use wasmtime_wasi::p1::WasiP1Ctx;

/// The store's data: WASI, the results the module delivered during the current call, and the
/// host operations in flight. Its fields are the host's own; sync imports defined through
/// [`Builder::linker`](crate::Builder::linker) receive it in their `Caller`, to reach the
/// module's memory through the caller.
///
/// ```
/// use wasmexport_host::StoreData;
/// use wasmtime::Caller;
///
/// # fn f(builder: &mut wasmexport_host::Builder) -> wasmtime::Result<()> {
/// // Guest: `#[wasmimport(module = "host", name = "log")] fn log(text: &str);`
/// builder.linker().func_wrap(
///     "host",
///     "log",
///     |mut caller: Caller<'_, StoreData>, ptr: u32, len: u32| -> wasmtime::Result<()> {
///         let memory = caller.get_export("memory").and_then(|e| e.into_memory());
///         let memory = memory.ok_or_else(|| wasmtime::format_err!("no memory"))?;
///         let mut text = vec![0; len as usize];
///         memory.read(&caller, ptr as usize, &mut text)?;
///         println!("{}", String::from_utf8_lossy(&text));
///         Ok(())
///     },
/// )?;
/// # Ok(())
/// # }
/// ```
pub struct StoreData {
    pub(crate) wasi: WasiP1Ctx,
    pub(crate) delivered: Vec<Delivered>,
    pub(crate) ops: Ops,
}

impl std::fmt::Debug for StoreData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreData")
            .field("operations_in_flight", &self.ops.in_flight.len())
            .finish_non_exhaustive()
    }
}

/// A result the module delivered through `[task-return]EXPORT`.
pub(crate) struct Delivered {
    pub(crate) export: Arc<str>,
    pub(crate) id: u32,
    pub(crate) value: Option<Val>,
}

/// The host operations in flight, by token.
pub(crate) struct Ops {
    pub(crate) handle: Handle,
    pub(crate) tx: mpsc::WeakUnboundedSender<Msg>,
    pub(crate) in_flight: HashMap<i32, AbortHandle>,
    next: i32,
}

impl Ops {
    pub(crate) fn new(handle: Handle, tx: mpsc::WeakUnboundedSender<Msg>) -> Ops {
        Ops { handle, tx, in_flight: HashMap::new(), next: 1 }
    }

    /// Runs `future` on the caller's runtime as host operation `import`; returns its token, a
    /// positive `i32` that no other operation in flight has.
    pub(crate) fn start<F>(&mut self, import: &Arc<str>, future: F) -> i32
    where
        F: Future<Output = Completion> + Send + 'static,
    {
        let token = loop {
            let token = self.next;
            self.next = if token == i32::MAX { 1 } else { token + 1 };
            if !self.in_flight.contains_key(&token) {
                break token;
            }
        };
        let tx = self.tx.clone();
        let import = import.clone();
        let future = CatchUnwind(Box::pin(future));
        let task = self.handle.spawn(async move {
            let msg = match future.await {
                Ok(completion) => Msg::Complete { token, completion },
                Err(message) => Msg::ImportPanicked { token, import, message },
            };
            if let Some(tx) = tx.upgrade() {
                // The driver may be gone (the host was dropped): then nobody waits for it.
                let _ = tx.send(msg);
            }
        });
        self.in_flight.insert(token, task.abort_handle());
        token
    }
}

impl Drop for Ops {
    /// Aborts the operations still in flight: nobody can complete them any more (the instance
    /// is dropped, or failed to start after it started them).
    fn drop(&mut self) {
        for (_, task) in self.in_flight.drain() {
            task.abort();
        }
    }
}
