//! HTTP callouts: the futures waiting for `proxy_on_http_call_response`, by token.

use crate::{Error, abi};
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// The response to an HTTP callout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    /// The HTTP status (its `:status` header), 0 if it has none.
    pub fn status(&self) -> u16 {
        self.header(":status").and_then(|s| s.parse().ok()).unwrap_or(0)
    }

    /// The value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Every header, `:status` first.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

enum Slot {
    Waiting(Option<Waker>),
    Done(Result<Response, Error>),
}

thread_local! {
    /// The callouts in flight whose future is alive, by token.
    static CALLOUTS: RefCell<HashMap<u32, Slot>> = RefCell::new(HashMap::new());
}

/// The future of callout `token`'s response. Dropping it forgets the callout: a response
/// that comes later is not read.
pub(crate) fn response(token: u32) -> Callout {
    CALLOUTS.with_borrow_mut(|c| c.insert(token, Slot::Waiting(None)));
    Callout { token }
}

pub(crate) struct Callout {
    token: u32,
}

impl Future for Callout {
    type Output = Result<Response, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        CALLOUTS.with_borrow_mut(|c| {
            let slot = c.get_mut(&self.token).expect("a live callout has a slot");
            match slot {
                Slot::Waiting(w) => {
                    if !w.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                        *w = Some(cx.waker().clone());
                    }
                    Poll::Pending
                }
                Slot::Done(_) => match c.remove(&self.token) {
                    Some(Slot::Done(result)) => Poll::Ready(result),
                    _ => unreachable!(),
                },
            }
        })
    }
}

impl Drop for Callout {
    fn drop(&mut self) {
        CALLOUTS.with_borrow_mut(|c| c.remove(&self.token));
    }
}

/// `proxy_on_http_call_response`: reads the response of callout `token`, while the host still
/// has it, if a future waits for it, and wakes that future. No headers means it failed.
pub(crate) fn deliver(token: u32, headers: u32, body_size: usize) {
    if !CALLOUTS.with_borrow(|c| c.contains_key(&token)) {
        return; // its future was dropped, or it failed before the token was ours
    }
    let result = if headers == 0 {
        Err(Error::CalloutFailed)
    } else {
        abi::header_pairs(abi::HTTP_CALL_RESPONSE_HEADERS).and_then(|headers| {
            let body = abi::buffer(abi::HTTP_CALL_RESPONSE_BODY, body_size)?;
            Ok(Response { headers, body })
        })
    };
    let waker = CALLOUTS.with_borrow_mut(|c| match c.get_mut(&token) {
        Some(slot) => match std::mem::replace(slot, Slot::Done(result)) {
            Slot::Waiting(w) => w,
            Slot::Done(_) => None,
        },
        None => None,
    });
    if let Some(w) = waker {
        w.wake();
    }
}
