//! The driver: the one thread that owns the store and makes every call into the module, in the
//! order its messages arrive. Calls from tokio tasks, completions of host operations and timer
//! expiries all reach it through one unbounded channel; answers go back through oneshots.
//!
//! Why a thread and not a tokio task: wasmtime-wasi's synchronous WASI functions (`fd_write`,
//! the runtime's trap lines) block on a tokio runtime of their own, which panics inside a task
//! of the caller's runtime. The guest's calls never block (waiting is the host's job in this
//! ABI), so the thread is busy exactly as long as the module runs.
//!
//! Invariants:
//! - `pending` holds the calls that returned `WAIT` and have not been resolved; each is resolved
//!   exactly once: by its `[task-return]`, or failed by a poisoning.
//! - `StoreData::delivered` is empty between messages: every call into the module is followed
//!   by `settle`, which matches what it delivered.
//! - Once `poisoned` is set, nothing calls into the module again; every pending call has been
//!   failed and every host operation aborted.

use crate::error::{Error, ErrorKind};
use crate::stderr::GuestStderr;
use crate::store::{Delivered, StoreData};
use crate::values::{Completion, ResultType, TaskResult};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use wasmtime::{Func, Instance, Linker, Memory, Module, Store, TypedFunc, Val};

/// Status codes of a pending export (docs/async-abi.md).
const EXIT: i32 = 0;
const WAIT: i32 = 2;
const TIMER: i32 = 8;
/// The prefix of the imports through which results come back.
pub(crate) const TASK_RETURN: &str = "[task-return]";

/// What the driver thread receives.
pub(crate) enum Msg {
    /// A call from a [`Host`](crate::Host) method; it sends its own answer.
    Run(Box<dyn FnOnce(&mut Driver) + Send>),
    /// A host operation finished.
    Complete { token: i32, completion: Completion },
    /// A host operation's future panicked.
    ImportPanicked { token: i32, import: Arc<str>, message: String },
    /// The deadline the module asked for has passed.
    Timer,
}

/// What [`Builder::configure_store`](crate::Builder::configure_store) runs on the new store.
pub(crate) type ConfigureStore = Box<dyn FnOnce(&mut Store<StoreData>) + Send>;

/// Where a pending call's result goes.
pub(crate) type Reply = oneshot::Sender<Result<Option<Val>, Error>>;

struct Pending {
    export: Arc<str>,
    reply: Reply,
}

/// What calling an export gave: the outer error means the call was refused before it ran (the
/// types do not match), the inner one that it trapped.
pub(crate) type Invoked<T> = Result<wasmtime::Result<T>, Error>;

pub(crate) struct Driver {
    store: Store<StoreData>,
    instance: Instance,
    memory: Memory,
    drive: TypedFunc<(), i32>,
    complete: TypedFunc<(i32, i32), i32>,
    buffer: TypedFunc<(i32, i32), i32>,
    /// Each pending export (one with a `[task-return]` import) and its result type.
    returns: HashMap<String, Option<ResultType>>,
    pending: HashMap<u32, Pending>,
    poisoned: Option<Error>,
    deadline: watch::Sender<Option<Instant>>,
    stderr: GuestStderr,
}

impl Driver {
    /// Defines the `[task-return]` imports, configures the store, instantiates `module` and
    /// calls `_initialize`.
    pub(crate) fn new(
        module: &Module,
        mut linker: Linker<StoreData>,
        data: StoreData,
        configure_store: Option<ConfigureStore>,
        stderr: GuestStderr,
        deadline: watch::Sender<Option<Instant>>,
    ) -> Result<Driver, Error> {
        let setup = |e: wasmtime::Error| Error::new(ErrorKind::Setup, format!("{e:?}"));
        let returns = define_task_returns(module, &mut linker)?;
        let mut store = Store::new(module.engine(), data);
        if let Some(configure) = configure_store {
            configure(&mut store);
        }
        let instance = linker.instantiate(&mut store, module).map_err(setup)?;
        let missing = |what: &str, e: wasmtime::Error| {
            Error::new(
                ErrorKind::Setup,
                format!(
                    "the module does not speak the host-async ABI: {what}: {e} (a wasmexport \
                     guest adds `wasmexport::async_abi!();`)"
                ),
            )
        };
        let drive = instance
            .get_typed_func(&mut store, "wasmexport_drive")
            .map_err(|e| missing("wasmexport_drive() -> i32", e))?;
        let complete = instance
            .get_typed_func(&mut store, "wasmexport_complete")
            .map_err(|e| missing("wasmexport_complete(i32, i32) -> i32", e))?;
        let buffer = instance
            .get_typed_func(&mut store, "wasmexport_buffer")
            .map_err(|e| missing("wasmexport_buffer(i32, i32) -> i32", e))?;
        let Some(memory) = instance.get_memory(&mut store, "memory") else {
            return Err(Error::new(ErrorKind::Setup, "the module exports no memory"));
        };
        if let Some(init) = instance.get_func(&mut store, "_initialize") {
            let init = init.typed::<(), ()>(&store).map_err(setup)?;
            if let Err(trap) = init.call(&mut store, ()) {
                return Err(Error::trap("_initialize", stderr.take_line(), &trap));
            }
        }
        Ok(Driver {
            store,
            instance,
            memory,
            drive,
            complete,
            buffer,
            returns,
            pending: HashMap::new(),
            poisoned: None,
            deadline,
            stderr,
        })
    }

    /// Handles messages until every [`Host`](crate::Host) handle is gone.
    pub(crate) fn run(mut self, mut rx: mpsc::UnboundedReceiver<Msg>) {
        while let Some(msg) = rx.blocking_recv() {
            match msg {
                Msg::Run(f) => f(&mut self),
                Msg::Complete { token, completion } => self.complete(token, completion),
                Msg::ImportPanicked { token, import, message } => {
                    self.store.data_mut().ops.in_flight.remove(&token);
                    if self.poisoned.is_none() {
                        self.poison(Error::new(
                            ErrorKind::HostPanic,
                            format!(
                                "the async host function {import} panicked ({message}): the guest's \
                                 future for its token can never complete"
                            ),
                        ));
                    }
                }
                Msg::Timer => {
                    if self.poisoned.is_none() {
                        // A trap poisons the instance; the pending calls get the error.
                        let _ = self.drive_now("wasmexport_drive");
                    }
                    // Always tell the timer task, even if the deadline did not change: it waits
                    // for a new one after each expiry.
                    let next = *self.deadline.borrow();
                    self.deadline.send_replace(next);
                }
            }
        }
    }

    /// Calls pending export `export` through `invoke` and answers `reply` when its result comes.
    pub(crate) fn start_pending<R: TaskResult>(
        &mut self,
        export: Arc<str>,
        reply: Reply,
        invoke: impl FnOnce(&mut Store<StoreData>, Func) -> Invoked<i32>,
    ) {
        if let Some(cause) = &self.poisoned {
            let _ = reply.send(Err(Error::poisoned(cause)));
            return;
        }
        let func = match self.pending_export::<R>(&export) {
            Ok(func) => func,
            Err(e) => {
                let _ = reply.send(Err(e));
                return;
            }
        };
        let status = match invoke(&mut self.store, func) {
            Err(refused) => {
                let _ = reply.send(Err(refused));
                return;
            }
            Ok(Err(trap)) => {
                let e = self.trapped(&export, &trap);
                let _ = reply.send(Err(e));
                return;
            }
            Ok(Ok(status)) => status,
        };
        let id = (status as u32) >> 4;
        match status & 3 {
            EXIT => {
                let data = self.store.data_mut();
                let mine = data.delivered.iter().position(|d| d.id == id && d.export == export);
                match mine {
                    Some(i) => {
                        let _ = reply.send(Ok(data.delivered.remove(i).value));
                    }
                    None => {
                        // A result delivered under another id is the likelier mistake: say so.
                        self.settle();
                        if let Some(e) = &self.poisoned {
                            let _ = reply.send(Err(e.clone()));
                            return;
                        }
                        let e = self.protocol(format!(
                            "{export:?} returned EXIT (status {status:#x}) without delivering call \
                             {id}'s result through `{TASK_RETURN}{export}` during the call"
                        ));
                        let _ = reply.send(Err(e));
                        return;
                    }
                }
            }
            WAIT if id != 0 && !self.pending.contains_key(&id) => {
                self.pending.insert(id, Pending { export, reply });
            }
            WAIT if id != 0 => {
                let other = &self.pending[&id].export;
                let e = self.protocol(format!(
                    "{export:?} returned WAIT with call id {id}, which a pending call of {other:?} \
                     still has (ids wrap after 2^28 - 1 calls): their results could not be told \
                     apart"
                ));
                let _ = reply.send(Err(e));
                return;
            }
            _ => {
                let e = self.protocol(format!(
                    "{export:?} returned status {status:#x}: neither EXIT (0) nor WAIT (2) with a \
                     call id"
                ));
                let _ = reply.send(Err(e));
                return;
            }
        }
        self.settle();
        if status & TIMER != 0 && self.poisoned.is_none() {
            // A trap poisons the instance; the pending calls get the error.
            let _ = self.drive_now("wasmexport_drive");
        }
    }

    /// The export to call for a pending call of `export` with result type `R`.
    fn pending_export<R: TaskResult>(&mut self, export: &str) -> Result<Func, Error> {
        let usage = |message: String| Error::new(ErrorKind::Usage, message);
        match self.returns.get(export) {
            None => {
                return Err(usage(format!(
                    "{export:?} is not a pending export of this module: it imports no \
                     `{TASK_RETURN}{export}`"
                )));
            }
            Some(ty) if *ty != R::TYPE => {
                return Err(usage(format!(
                    "the result of pending export {export:?} is {ty:?} in wasm, and {} is {:?}",
                    std::any::type_name::<R>(),
                    R::TYPE
                )));
            }
            Some(_) => {}
        }
        match self.instance.get_func(&mut self.store, export) {
            Some(func) => Ok(func),
            None => Err(usage(format!(
                "the module imports `{TASK_RETURN}{export}` but exports no function {export:?}"
            ))),
        }
    }

    /// Calls plain export `export` through `invoke`; results it delivers for pending calls
    /// resolve them.
    pub(crate) fn call<T>(
        &mut self,
        export: &str,
        invoke: impl FnOnce(&mut Store<StoreData>, Func) -> Invoked<T>,
    ) -> Result<T, Error> {
        if let Some(cause) = &self.poisoned {
            return Err(Error::poisoned(cause));
        }
        if self.returns.contains_key(export) {
            // Its result would come through `[task-return]` for a call id the host never saw.
            return Err(Error::new(
                ErrorKind::Usage,
                format!("{export:?} is a pending export: call it with `Host::call_pending`"),
            ));
        }
        let Some(func) = self.instance.get_func(&mut self.store, export) else {
            return Err(Error::new(ErrorKind::Usage, format!("the module exports no {export:?}")));
        };
        match invoke(&mut self.store, func)? {
            Ok(out) => {
                self.settle();
                if let Some(e) = &self.poisoned {
                    return Err(e.clone());
                }
                if export == "wasmexport_drive" || export == "wasmexport_complete" {
                    // A drive by hand may have armed a timer, whose time went to the caller
                    // alone: drive once more (harmless at any time) to arm the host's.
                    self.drive_now(export)?;
                }
                Ok(out)
            }
            Err(trap) => Err(self.trapped(export, &trap)),
        }
    }

    /// Runs ready tasks and due timers: `wasmexport_drive`. Returns the time to the next timer.
    pub(crate) fn drive_now(&mut self, during: &str) -> Result<Option<Duration>, Error> {
        if let Some(cause) = &self.poisoned {
            return Err(Error::poisoned(cause));
        }
        match self.drive.call(&mut self.store, ()) {
            Ok(ms) => {
                self.settle();
                self.set_timer(ms);
                match &self.poisoned {
                    Some(e) => Err(e.clone()),
                    None => Ok((ms >= 0).then(|| Duration::from_millis(ms as u64))),
                }
            }
            Err(trap) => Err(self.trapped(during, &trap)),
        }
    }

    pub(crate) fn memory_size(&self) -> usize {
        self.memory.data_size(&self.store)
    }

    /// Completes host operation `token`: for bytes through a buffer the module reserves.
    fn complete(&mut self, token: i32, completion: Completion) {
        self.store.data_mut().ops.in_flight.remove(&token);
        if self.poisoned.is_some() {
            return;
        }
        let value = match completion {
            Completion::Value(value) => value,
            Completion::Bytes(bytes) => match self.fill_buffer(token, &bytes) {
                Some(len) => len,
                None => return,
            },
        };
        match self.complete.call(&mut self.store, (token, value)) {
            Ok(ms) => {
                self.settle();
                self.set_timer(ms);
            }
            Err(trap) => {
                self.trapped("wasmexport_complete", &trap);
            }
        }
    }

    /// Reserves a buffer for `bytes` and copies them there; returns their length (the value to
    /// complete the token with), or `None` after poisoning the instance.
    fn fill_buffer(&mut self, token: i32, bytes: &[u8]) -> Option<i32> {
        let Ok(len) = i32::try_from(bytes.len()) else {
            self.poison(Error::new(
                ErrorKind::Protocol,
                format!(
                    "host operation {token} completed with {} bytes: more than 2^31 - 1",
                    bytes.len()
                ),
            ));
            return None;
        };
        let ptr = match self.buffer.call(&mut self.store, (token, len)) {
            Ok(ptr) => ptr,
            Err(trap) => {
                self.trapped("wasmexport_buffer", &trap);
                return None;
            }
        };
        // The address is a u32: above 2 GiB it is negative as an i32. 0 for a length the
        // guest's heap cannot give: nothing is written, and `pending::bytes` gets `Err(len)`.
        let ptr = ptr as u32 as usize;
        if len > 0 && ptr != 0 && self.memory.write(&mut self.store, ptr, bytes).is_err() {
            self.protocol(format!(
                "wasmexport_buffer({token}, {len}) returned {ptr}, where {len} bytes do not fit"
            ));
            return None;
        }
        Some(len)
    }

    /// Resolves the pending calls whose results the module delivered during the last call.
    fn settle(&mut self) {
        let mut delivered = std::mem::take(&mut self.store.data_mut().delivered);
        for d in delivered.drain(..) {
            match self.pending.remove(&d.id) {
                Some(p) if p.export == d.export => {
                    // The caller may have stopped waiting: then the result goes nowhere.
                    let _ = p.reply.send(Ok(d.value));
                }
                other => {
                    if self.poisoned.is_some() {
                        continue;
                    }
                    let whose = match &other {
                        Some(p) => format!("which is a pending call of {:?}", p.export),
                        None => "which the host never saw (no call is pending with it)".into(),
                    };
                    let e = self.protocol(format!(
                        "`{TASK_RETURN}{}` delivered a result for call id {}, {whose}",
                        d.export, d.id
                    ));
                    if let Some(p) = other {
                        let _ = p.reply.send(Err(e));
                    }
                }
            }
        }
        self.store.data_mut().delivered = delivered;
    }

    /// Poisons the instance after a trap during `during`; returns the trap's error. Results the
    /// module delivered before it trapped still resolve their calls.
    fn trapped(&mut self, during: &str, trap: &wasmtime::Error) -> Error {
        let e = Error::trap(during, self.stderr.take_line(), trap);
        self.settle();
        self.poison(e.clone());
        e
    }

    /// Poisons the instance for a protocol violation described by `message`; returns the error.
    fn protocol(&mut self, message: String) -> Error {
        let e = Error::new(
            ErrorKind::Protocol,
            format!("the module broke the host-async ABI: {message}"),
        );
        self.poison(e.clone());
        e
    }

    /// Fails every pending call with `e`, aborts every host operation, stops the timer, and
    /// refuses every later call.
    fn poison(&mut self, e: Error) {
        self.poisoned = Some(e.clone());
        for (_, p) in self.pending.drain() {
            let _ = p.reply.send(Err(e.clone()));
        }
        let data = self.store.data_mut();
        data.delivered.clear();
        for (_, task) in data.ops.in_flight.drain() {
            task.abort();
        }
        self.deadline.send_replace(None);
    }

    /// Arms the timer task for `ms` milliseconds from now, or disarms it for -1.
    fn set_timer(&mut self, ms: i32) {
        let next = (ms >= 0).then(|| Instant::now() + Duration::from_millis(ms as u64));
        self.deadline.send_if_modified(|deadline| {
            let changed = *deadline != next;
            *deadline = next;
            changed
        });
    }
}

/// Defines each `wasmexport` `[task-return]NAME(id, result?)` import of `module` to record what
/// it delivers; returns each NAME with its result type.
fn define_task_returns(
    module: &Module,
    linker: &mut Linker<StoreData>,
) -> Result<HashMap<String, Option<ResultType>>, Error> {
    let mut returns = HashMap::new();
    for import in module.imports() {
        let Some(export) = import.name().strip_prefix(TASK_RETURN) else { continue };
        if import.module() != "wasmexport" {
            continue;
        }
        let bad = |why: &str| {
            Error::new(ErrorKind::Setup, format!("import wasmexport.{:?}: {why}", import.name()))
        };
        let Some(ty) = import.ty().func().cloned() else {
            return Err(bad("not a function"));
        };
        let params: Vec<_> = ty.params().collect();
        let result = match params.as_slice() {
            [id] if id.is_i32() => None,
            [id, value] if id.is_i32() => match ResultType::of(value) {
                Some(t) => Some(t),
                None => return Err(bad("the result is not an i32, i64, f32 or f64")),
            },
            _ => return Err(bad("expected (id: i32) or (id: i32, result)")),
        };
        if ty.results().len() != 0 {
            return Err(bad("it must return nothing"));
        }
        let name: Arc<str> = export.into();
        linker
            .func_new("wasmexport", import.name(), ty, move |mut caller, params, _| {
                let id = params[0].unwrap_i32() as u32;
                let value = params.get(1).cloned();
                caller.data_mut().delivered.push(Delivered { export: name.clone(), id, value });
                Ok(())
            })
            .map_err(|e| bad(&format!("{e:?}")))?;
        returns.insert(export.to_string(), result);
    }
    Ok(returns)
}
