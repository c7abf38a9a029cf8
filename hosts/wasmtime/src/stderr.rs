//! The guest's stderr: passed on to the process's stderr (unless the builder turned that off),
//! and watched for the `wasmexport:` line the runtime writes before every trap it causes, so
//! that the trap's [`Error`](crate::Error) can say what happened.
//!
//! wasmtime-wasi's own stderr streams write through tasks of a tokio runtime; this one writes in
//! place, on the driver thread, and keeps nothing but the line being written and the last
//! `wasmexport:` line.

use std::io::Write as _;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// The stream handed to WASI as the guest's stderr. Clones share their state.
#[derive(Clone)]
pub(crate) struct GuestStderr(Arc<Mutex<State>>);

struct State {
    forward: bool,
    /// The bytes of the line being written, up to `MAX_LINE`.
    line: Vec<u8>,
    /// The last complete line that started with `wasmexport:`, until taken.
    last: Option<String>,
}

/// The runtime cuts its lines at 1 KiB; anything longer is not one of them.
const MAX_LINE: usize = 4096;

impl GuestStderr {
    pub(crate) fn new(forward: bool) -> GuestStderr {
        GuestStderr(Arc::new(Mutex::new(State { forward, line: Vec::new(), last: None })))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the last `wasmexport:` line written since the previous take. A line the guest
    /// has not ended yet counts too: the runtime writes its newline last, and a trap may come
    /// between.
    pub(crate) fn take_line(&self) -> Option<String> {
        let mut state = self.state();
        if state.line.starts_with(b"wasmexport:") {
            let partial = String::from_utf8_lossy(&state.line).into_owned();
            state.line.clear();
            state.last = Some(partial);
        }
        state.last.take()
    }

    fn write_bytes(&self, bytes: &[u8]) {
        let mut state = self.state();
        if state.forward {
            // The guest's output is best effort, as with an inherited stderr.
            let _ = std::io::stderr().write_all(bytes);
        }
        for &byte in bytes {
            if byte == b'\n' {
                if state.line.starts_with(b"wasmexport:") {
                    let line = String::from_utf8_lossy(&state.line).into_owned();
                    state.last = Some(line);
                }
                state.line.clear();
            } else if state.line.len() < MAX_LINE {
                state.line.push(byte);
            }
        }
    }
}

impl IsTerminal for GuestStderr {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestStderr {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for GuestStderr {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.write_bytes(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Always ready: writes complete in place.
        Ok(1 << 20)
    }
}

impl Pollable for GuestStderr {
    fn ready<'a, 'b>(&'a mut self) -> Pin<Box<dyn Future<Output = ()> + Send + 'b>>
    where
        'a: 'b,
        Self: 'b,
    {
        Box::pin(std::future::ready(()))
    }
}

impl tokio::io::AsyncWrite for GuestStderr {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.write_bytes(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
