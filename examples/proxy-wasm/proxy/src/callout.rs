//! HTTP callouts: the futures waiting for `proxy_on_http_call_response`, by token.

use crate::state::{IdMap, id_map};
use crate::{Error, abi};
use std::cell::{OnceCell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// The response to an HTTP callout.
///
/// Its headers stay in the encoding the host handed over, one buffer: a lookup scans it, and
/// [`Response::headers`] decodes them into strings only when asked.
#[derive(Clone)]
pub struct Response {
    raw: Vec<u8>,
    decoded: OnceCell<Vec<(String, String)>>,
    body: Vec<u8>,
}

impl Response {
    pub(crate) fn new(raw: Vec<u8>, body: Vec<u8>) -> Self {
        Response { raw, decoded: OnceCell::new(), body }
    }

    /// The HTTP status (its `:status` header), 0 if it has none.
    pub fn status(&self) -> u16 {
        self.header(":status").and_then(|s| s.parse().ok()).unwrap_or(0)
    }

    /// The value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let value = abi::pairs(&self.raw).find(|(n, _)| *n == name.as_bytes())?.1;
        match std::str::from_utf8(value) {
            Ok(value) => Some(value),
            // Not UTF-8: the decoded headers have it with the bad bytes replaced.
            Err(_) => self.headers().iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()),
        }
    }

    /// Every header, `:status` first.
    pub fn headers(&self) -> &[(String, String)] {
        self.decoded.get_or_init(|| abi::decode_pairs(&self.raw))
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

impl PartialEq for Response {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw && self.body == other.body
    }
}

impl Eq for Response {}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("headers", &self.headers())
            .field("body", &self.body)
            .finish()
    }
}

enum Slot {
    Waiting(Option<Waker>),
    Done(Result<Response, Error>),
    /// The future returned the response.
    Taken,
}

thread_local! {
    /// The callouts in flight whose future is alive, by token: each slot is shared with its
    /// future, which then polls it without a lookup.
    static CALLOUTS: RefCell<IdMap<Rc<RefCell<Slot>>>> = const { RefCell::new(id_map()) };
    /// Slots of callouts that ended, kept for the next ones: a callout then allocates none.
    static SPARE_SLOTS: RefCell<Vec<Rc<RefCell<Slot>>>> = const { RefCell::new(Vec::new()) };
}

/// The future of callout `token`'s response. Dropping it forgets the callout: a response
/// that comes later is not read.
pub(crate) fn response(token: u32) -> Callout {
    let slot = SPARE_SLOTS
        .with_borrow_mut(Vec::pop)
        .unwrap_or_else(|| Rc::new(RefCell::new(Slot::Waiting(None))));
    CALLOUTS.with_borrow_mut(|c| c.insert(token, slot.clone()));
    Callout { token, slot: Some(slot) }
}

pub(crate) struct Callout {
    token: u32,
    /// Always there; taken by `drop`.
    slot: Option<Rc<RefCell<Slot>>>,
}

impl Callout {
    fn slot(&self) -> &RefCell<Slot> {
        self.slot.as_ref().expect("a live callout has its slot")
    }
}

/// The most slots kept for the next callouts.
const SPARES: usize = 64;

impl Future for Callout {
    type Output = Result<Response, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.slot().borrow_mut();
        match &mut *slot {
            Slot::Waiting(w) => {
                if !w.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    // The old waker is dropped after the borrow: its drop is the executor's code.
                    let old = w.replace(cx.waker().clone());
                    drop(slot);
                    drop(old);
                }
                Poll::Pending
            }
            Slot::Done(_) => match std::mem::replace(&mut *slot, Slot::Taken) {
                Slot::Done(result) => Poll::Ready(result),
                _ => unreachable!(),
            },
            Slot::Taken => panic!("a callout's future polled after it returned its response"),
        }
    }
}

impl Drop for Callout {
    fn drop(&mut self) {
        // Still in the table while its response has not come.
        if matches!(*self.slot().borrow(), Slot::Waiting(_)) {
            let slot = CALLOUTS.with_borrow_mut(|c| c.remove(&self.token));
            drop(slot);
        }
        // Kept for the next callout, empty, if nothing else holds it.
        if let Some(mut slot) = self.slot.take()
            && let Some(cell) = Rc::get_mut(&mut slot)
        {
            // Dropped outside any borrow: a waker's or a response's drop is not ours.
            let old = std::mem::replace(cell.get_mut(), Slot::Waiting(None));
            drop(old);
            SPARE_SLOTS.with_borrow_mut(|s| {
                if s.len() < SPARES {
                    s.push(slot);
                }
            });
        }
    }
}

/// `proxy_on_http_call_response`: reads the response of callout `token`, while the host still
/// has it, if a future waits for it, and wakes that future. No headers means it failed.
pub(crate) fn deliver(token: u32, headers: u32, body_size: usize) {
    let Some(slot) = CALLOUTS.with_borrow_mut(|c| c.remove(&token)) else {
        return; // its future was dropped, or it failed before the token was ours
    };
    let result = if headers == 0 {
        Err(Error::CalloutFailed)
    } else {
        abi::raw_header_pairs(abi::HTTP_CALL_RESPONSE_HEADERS).and_then(|raw| {
            let body = abi::buffer(abi::HTTP_CALL_RESPONSE_BODY, body_size)?;
            Ok(Response::new(raw, body))
        })
    };
    let waiting = std::mem::replace(&mut *slot.borrow_mut(), Slot::Done(result));
    if let Slot::Waiting(Some(w)) = waiting {
        w.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::Response;
    use crate::abi::encode_pairs;

    #[test]
    fn headers_are_read_from_the_hosts_encoding() {
        let raw = encode_pairs(&[(":status", "403"), ("x-user", "ann"), ("x-empty", "")]);
        let r = Response::new(raw, b"no".to_vec());
        assert_eq!(r.status(), 403);
        assert_eq!(r.header("x-user"), Some("ann"));
        assert_eq!(r.header("x-empty"), Some(""));
        assert_eq!(r.header("x-use"), None);
        assert_eq!(r.headers().len(), 3);
        assert_eq!(r.body(), b"no");
        assert_eq!(Response::new(encode_pairs(&[]), Vec::new()).status(), 0);
    }

    #[test]
    fn a_value_that_is_not_utf8_is_read_with_the_bad_bytes_replaced() {
        let mut raw = encode_pairs(&[("x-bad", "a?"), (":status", "200")]);
        let at = raw.iter().position(|&b| b == b'?').unwrap();
        raw[at] = 0xff;
        let r = Response::new(raw, Vec::new());
        assert_eq!(r.header("x-bad"), Some("a\u{fffd}"));
        assert_eq!(r.status(), 200);
    }
}
