//! The host's error: what went wrong, in words, cheap to clone (a trap fails every call pending
//! at the time with the same error).

use std::fmt;
use std::sync::Arc;

/// What kind of failure an [`Error`] is.
///
/// ```
/// use wasmexport_host::ErrorKind;
///
/// // Only a trap and what follows it leave the instance unusable.
/// let fatal = |kind: ErrorKind| matches!(kind, ErrorKind::Trap | ErrorKind::Poisoned);
/// assert!(!fatal(ErrorKind::Usage));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The module trapped (a panic in a task, a deadlock, an out-of-bounds access, ...). The call
    /// during which it trapped and every pending call fail with this error, and the instance is
    /// poisoned: later calls fail with [`ErrorKind::Poisoned`].
    Trap,
    /// A call made after a trap or a protocol error poisoned the instance; nothing was called.
    Poisoned,
    /// The module broke the host-async ABI (a `[task-return]` for a call id the host never saw,
    /// a status with an unknown code, ...), or an async host function completed with more
    /// bytes than the ABI can pass (2^31 or more). The instance is poisoned, as after a trap.
    Protocol,
    /// The call was refused before anything ran: no such export, not a pending export, or the
    /// Rust types do not match the export's wasm types. The instance is unaffected.
    Usage,
    /// An async host function panicked: its future (the guest's future for its token can never
    /// complete), or the function itself as it started the operation (during the guest's call,
    /// which traps). The instance is poisoned, as after a trap.
    HostPanic,
    /// Instantiating the module, or its `_initialize` before it trapped, failed.
    Setup,
    /// The host's driver thread is gone, so nothing can be called: an import defined through
    /// [`Builder::linker`](crate::Builder::linker) panicked on it.
    Closed,
}

/// A failed call, start or completion, with a message that says where and why.
///
/// For a trap, [`Error::guest_line`] is the last `wasmexport:` line the module wrote to stderr
/// before trapping (`wasmexport: all tasks are asleep - deadlock! export "stuck" ...`), and the
/// message starts with it.
///
/// ```
/// use wasmexport_host::{ErrorKind, Host};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let host = wasmexport_host::__doc::host().await?;
/// let err = host.call_pending::<(i32,), i32>("no_such_export", (1,)).await.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Usage);
/// assert!(err.to_string().contains("no_such_export"));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Error(Arc<Inner>);

struct Inner {
    kind: ErrorKind,
    message: String,
    guest_line: Option<String>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error(Arc::new(Inner { kind, message: message.into(), guest_line: None }))
    }

    /// A trap during `during` (an export's name), with the module's last `wasmexport:` line;
    /// an [`ErrorKind::HostPanic`] if an async host function panicked as it started.
    pub(crate) fn trap(during: &str, guest_line: Option<String>, trap: &wasmtime::Error) -> Error {
        if let Some(StartPanicked { import, message }) = trap.downcast_ref() {
            return Error::new(
                ErrorKind::HostPanic,
                format!(
                    "the async host function {import} panicked as it started, during {during:?} \
                     ({message})"
                ),
            );
        }
        let message = match &guest_line {
            Some(line) => format!("{line} (trapped during {during:?}: {trap})"),
            None => format!("the module trapped during {during:?}: {trap:?}"),
        };
        Error(Arc::new(Inner { kind: ErrorKind::Trap, message, guest_line }))
    }

    /// The error that a call made after `cause` poisoned the instance gets.
    pub(crate) fn poisoned(cause: &Error) -> Error {
        Error(Arc::new(Inner {
            kind: ErrorKind::Poisoned,
            message: format!("the instance is poisoned by an earlier failure: {cause}"),
            guest_line: cause.0.guest_line.clone(),
        }))
    }

    /// What kind of failure this is.
    ///
    /// ```
    /// # use wasmexport_host::{ErrorKind, Host};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let host = wasmexport_host::__doc::host().await?;
    /// // `double` takes an i32: an i64 is refused before anything runs.
    /// let err = host.call_pending::<(i64,), i32>("double", (1,)).await.unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Usage);
    /// # Ok(())
    /// # }
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// For a trap (and the [`ErrorKind::Poisoned`] errors after it), the last line starting with
    /// `wasmexport:` that the module wrote to stderr before it trapped, if it wrote one.
    ///
    /// ```
    /// # use wasmexport_host::{ErrorKind, Host};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let host = wasmexport_host::__doc::host().await?;
    /// // The example module traps without a line (`unreachable`).
    /// let err = host.call_pending::<(), ()>("trap", ()).await.unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Trap);
    /// assert_eq!(err.guest_line(), None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn guest_line(&self) -> Option<&str> {
        self.0.guest_line.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.0.kind)
            .field("message", &self.0.message)
            .finish()
    }
}

impl std::error::Error for Error {}

/// The error with which an async host function that panicked as it started traps the guest.
#[derive(Debug)]
pub(crate) struct StartPanicked {
    pub(crate) import: Arc<str>,
    pub(crate) message: String,
}

impl fmt::Display for StartPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the async host function {} panicked ({})", self.import, self.message)
    }
}

impl std::error::Error for StartPanicked {}
