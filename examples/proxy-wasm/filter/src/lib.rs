//! An Envoy auth filter written with `wasmexport-proxy`: one `async fn` per request.
//!
//! * `/public/...` goes upstream untouched.
//! * Any other path needs an `authorization` header. Its verdict comes from the cache, or from
//!   an awaited callout to the `auth` cluster (`GET /check` with the same header): 200 allows,
//!   and its `x-user` header becomes the request's `x-auth-user` (the token does not go
//!   upstream); anything else is a 403 reply.
//!   Verdicts are cached for `ttl_ms` (the plugin configuration, `ttl_ms=0` turns it off).
//!
//! Routes the Envoy tests use, each before the auth check:
//! * `/local`: a reply from the filter;
//! * `/sleep/<ms>`: sleeps, then goes upstream with `x-slept-ms` added;
//! * `/gate/<n>`: waits until `n` requests wait at the gate, then goes upstream with its own
//!   `x-id` copied to `x-seen-id` (each task reads its own request's headers);
//! * `/body`: reads the whole request body: `forbidden` gets a 403 reply, any other goes on;
//! * `/memory`: replies with the module's linear memory size in 64 KiB pages;
//! * `/tasks`: replies with the number of live tasks (`wasmexport::task_count`) and waiting
//!   handlers (`wasmexport_proxy::waiting_handlers`);
//! * `/heartbeats`: replies with how often the background task `heartbeat_ms=N` (the plugin
//!   configuration) starts has woken;
//! * `/poll-oneoff`: waits 1 s in WASI's `poll_oneoff` and replies with what it returned;
//! * `/panic`: the handler panics.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};
use wasmexport::time::sleep;
use wasmexport_proxy::{Error, Filter, Request};

#[wasmexport::init]
fn init() {
    wasmexport_proxy::register::<Auth>();
}

/// What the auth service said about a token.
#[derive(Clone)]
enum Verdict {
    Allow(String),
    Deny,
}

struct Auth {
    cluster: String,
    ttl: Duration,
    cache: RefCell<HashMap<String, (Verdict, Instant)>>,
}

/// The most tokens cached; past it, expired entries are dropped.
const CACHE_MAX: usize = 1024;

impl Filter for Auth {
    fn configure(config: &[u8]) -> Result<Self, String> {
        let config = std::str::from_utf8(config).map_err(|e| e.to_string())?;
        let mut auth =
            Auth { cluster: "auth".into(), ttl: Duration::from_secs(5), cache: RefCell::default() };
        for item in config.split_whitespace() {
            match item.split_once('=') {
                Some(("cluster", c)) => auth.cluster = c.into(),
                Some(("ttl_ms", ms)) => {
                    auth.ttl = Duration::from_millis(ms.parse().map_err(|_| "bad ttl_ms")?)
                }
                Some(("heartbeat_ms", ms)) => {
                    let every = Duration::from_millis(ms.parse().map_err(|_| "bad heartbeat_ms")?);
                    wasmexport::spawn(heartbeat(every)).detach();
                }
                _ => return Err(format!("unknown setting `{item}`")),
            }
        }
        Ok(auth)
    }

    async fn on_request(self: Rc<Self>, request: Request) -> Result<(), Error> {
        let path = request.path()?;
        let mut parts = path.trim_start_matches('/').split(['/', '?']);
        match parts.next().unwrap_or("") {
            "public" => Ok(()),
            "local" => request.send_response(200, &[("x-local", "yes")], b"local reply\n"),
            "sleep" => {
                let ms = parts.next().and_then(|ms| ms.parse().ok()).unwrap_or(0);
                sleep(Duration::from_millis(ms)).await;
                request.add_header("x-slept-ms", &ms.to_string())
            }
            "gate" => {
                gate(parts.next().and_then(|n| n.parse().ok()).unwrap_or(1)).await;
                let id = request.header("x-id")?.unwrap_or_default();
                request.set_header("x-seen-id", &id)
            }
            "body" => match request.body().await?.as_slice() {
                b"forbidden" => request.send_response(403, &[], b"body refused\n"),
                _ => Ok(()),
            },
            "memory" => {
                let pages = memory_pages().to_string();
                let headers = [("x-wasm-memory-pages", pages.as_str())];
                request.send_response(200, &headers, pages.as_bytes())
            }
            "heartbeats" => {
                let beats = HEARTBEATS.get().to_string();
                request.send_response(200, &[], beats.as_bytes())
            }
            "tasks" => {
                let waiting = wasmexport_proxy::waiting_handlers();
                let tasks = (wasmexport::task_count() + waiting).to_string();
                request.send_response(200, &[], tasks.as_bytes())
            }
            "poll-oneoff" => {
                let answer = wait_in_poll_oneoff(Duration::from_secs(1));
                request.send_response(200, &[], answer.as_bytes())
            }
            "panic" => panic!("the /panic route panics"),
            _ => self.authorize(&request).await,
        }
    }
}

impl Auth {
    async fn authorize(&self, request: &Request) -> Result<(), Error> {
        let Some(token) = request.header("authorization")? else {
            return request.send_response(403, &[], b"no token\n");
        };
        let verdict = match self.cached(&token) {
            Some(v) => v,
            None => {
                let headers = [
                    (":method", "GET"),
                    (":path", "/check"),
                    (":authority", "auth"),
                    ("authorization", token.as_str()),
                ];
                let timeout = Duration::from_secs(5);
                let verdict = match request.http_call(&self.cluster, &headers, b"", timeout).await {
                    Ok(r) if r.status() == 200 => {
                        Verdict::Allow(r.header("x-user").unwrap_or("").to_string())
                    }
                    Ok(_) => Verdict::Deny,
                    Err(Error::CalloutFailed) => {
                        return request.send_response(503, &[], b"auth service unavailable\n");
                    }
                    Err(e) => return Err(e),
                };
                self.remember(token, &verdict);
                verdict
            }
        };
        match verdict {
            Verdict::Allow(user) => {
                // Replaces any x-auth-user the client sent; the token stays here.
                request.set_header("x-auth-user", &user)?;
                request.remove_header("authorization")
            }
            Verdict::Deny => request.send_response(403, &[], b"denied\n"),
        }
    }

    fn cached(&self, token: &str) -> Option<Verdict> {
        let cache = self.cache.borrow();
        let (verdict, until) = cache.get(token)?;
        (Instant::now() < *until).then(|| verdict.clone())
    }

    fn remember(&self, token: String, verdict: &Verdict) {
        if self.ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut cache = self.cache.borrow_mut();
        if cache.len() >= CACHE_MAX {
            cache.retain(|_, (_, until)| *until > now);
        }
        if cache.len() < CACHE_MAX {
            cache.entry(token).or_insert_with(|| (verdict.clone(), now + self.ttl));
        }
    }
}

thread_local! {
    /// How many times [`heartbeat`] woke.
    static HEARTBEATS: Cell<u64> = const { Cell::new(0) };
}

/// A background task: wakes every `every`, for as long as the plugin lives.
async fn heartbeat(every: Duration) {
    loop {
        sleep(every).await;
        HEARTBEATS.set(HEARTBEATS.get() + 1);
    }
}

thread_local! {
    /// How many requests wait at the gate, how many times it has opened, and the waiting tasks.
    static GATE: (Cell<usize>, Cell<u64>, RefCell<Vec<Waker>>) =
        const { (Cell::new(0), Cell::new(0), RefCell::new(Vec::new())) };
}

/// Waits until `n` requests wait here (counting this one), then lets the group go.
async fn gate(n: usize) {
    let mut arrived_at = None;
    std::future::poll_fn(|cx| {
        GATE.with(|(waiting, opened, wakers)| {
            let at = *arrived_at.get_or_insert_with(|| {
                waiting.set(waiting.get() + 1);
                opened.get()
            });
            if opened.get() != at {
                return Poll::Ready(());
            }
            if waiting.get() >= n {
                waiting.set(0);
                opened.set(at + 1);
                wakers.take().into_iter().for_each(Waker::wake);
                return Poll::Ready(());
            }
            wakers.borrow_mut().push(cx.waker().clone());
            Poll::Pending
        })
    })
    .await
}

#[wasmexport::wasmimport(module = "wasi_snapshot_preview1", name = "poll_oneoff")]
fn poll_oneoff(subscriptions: *const u8, events: *mut u8, count: u32, events_out: *mut u32) -> u32;

/// Asks WASI's `poll_oneoff` to wait `timeout` on the monotonic clock; says what it returned
/// (`errno=E events=N event_written=B us=T`), the event buffer checked for any write.
fn wait_in_poll_oneoff(timeout: Duration) -> String {
    // A subscription: userdata (u64), tag 0 (clock) at 8, clock id 1 (monotonic) at 16, the
    // relative timeout in ns (u64) at 24, precision at 32, flags 0 at 40; 48 bytes.
    let mut subscription = [0u8; 48];
    subscription[16] = 1;
    subscription[24..32].copy_from_slice(&(timeout.as_nanos() as u64).to_le_bytes());
    let mut event = [0xA5u8; 32];
    let mut events = u32::MAX;
    let start = Instant::now();
    // SAFETY: the pointers are to a subscription, an event and a count that outlive the call.
    let errno = unsafe { poll_oneoff(subscription.as_ptr(), event.as_mut_ptr(), 1, &mut events) };
    let us = start.elapsed().as_micros();
    let written = event.iter().any(|&b| b != 0xA5);
    format!("errno={errno} events={events} event_written={written} us={us}")
}

/// The module's linear memory, in 64 KiB pages.
fn memory_pages() -> usize {
    #[cfg(target_arch = "wasm32")]
    return core::arch::wasm32::memory_size(0);
    #[cfg(not(target_arch = "wasm32"))]
    0
}
