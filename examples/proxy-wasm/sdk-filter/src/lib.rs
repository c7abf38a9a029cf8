//! The auth filter of `../filter`, written with the official proxy-wasm Rust SDK in its own
//! style: callbacks on a root context and one HTTP context per request, a token table for the
//! callout, the root's tick for sleeping requests. The benchmark's baseline.
//!
//! Same routes and answers as `../filter` (see its docs), except `/gate`, which only the tests
//! of the async library use.

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| Box::new(Root { shared: Rc::default() }));
}}

#[derive(Clone)]
enum Verdict {
    Allow(String),
    Deny,
}

/// The most tokens cached; past it, expired entries are dropped.
const CACHE_MAX: usize = 1024;

/// What the root and its requests share: the settings, the verdict cache, the sleepers.
struct Shared {
    cluster: RefCell<String>,
    ttl: RefCell<Duration>,
    cache: RefCell<HashMap<String, (Verdict, Instant)>>,
    /// Requests paused by `/sleep`: when to resume them, their context, the milliseconds.
    sleepers: RefCell<Vec<(Instant, u32, u64)>>,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            cluster: RefCell::new("auth".into()),
            ttl: RefCell::new(Duration::from_secs(5)),
            cache: RefCell::default(),
            sleepers: RefCell::default(),
        }
    }
}

impl Shared {
    /// Ticks at the next sleeper's deadline, or not at all.
    fn schedule_tick(&self) {
        let now = Instant::now();
        let next = self.sleepers.borrow().iter().map(|s| s.0).min();
        let period = next.map_or(Duration::ZERO, |d| {
            d.saturating_duration_since(now).max(Duration::from_millis(1))
        });
        hostcalls::set_tick_period(period).unwrap();
    }
}

struct Root {
    shared: Rc<Shared>,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let config = self.get_plugin_configuration().unwrap_or_default();
        let Ok(config) = String::from_utf8(config) else { return false };
        for item in config.split_whitespace() {
            match item.split_once('=') {
                Some(("cluster", c)) => *self.shared.cluster.borrow_mut() = c.into(),
                Some(("ttl_ms", ms)) => match ms.parse() {
                    Ok(ms) => *self.shared.ttl.borrow_mut() = Duration::from_millis(ms),
                    Err(_) => return false,
                },
                _ => return false,
            }
        }
        true
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        let due: Vec<(Instant, u32, u64)> = {
            let mut sleepers = self.shared.sleepers.borrow_mut();
            let (due, later) = sleepers.drain(..).partition(|s| s.0 <= now);
            *sleepers = later;
            due
        };
        for (_, context_id, ms) in due {
            if hostcalls::set_effective_context(context_id).is_ok() {
                let _ = hostcalls::add_map_value(
                    proxy_wasm::types::MapType::HttpRequestHeaders,
                    "x-slept-ms",
                    &ms.to_string(),
                );
                let _ = hostcalls::resume_http_request();
            }
        }
        self.shared.schedule_tick();
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Request {
            id: context_id,
            shared: self.shared.clone(),
            token: None,
            check_body: false,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Request {
    id: u32,
    shared: Rc<Shared>,
    /// The token in the `authorization` header while its callout is in flight.
    token: Option<String>,
    /// The body decides (`/body`).
    check_body: bool,
}

impl Context for Request {
    fn on_http_call_response(&mut self, _token: u32, headers: usize, _body: usize, _: usize) {
        let Some(token) = self.token.take() else { return };
        if headers == 0 {
            self.send_http_response(503, vec![], Some(b"auth service unavailable\n"));
            return;
        }
        let verdict = match self.get_http_call_response_header(":status").as_deref() {
            Some("200") => {
                Verdict::Allow(self.get_http_call_response_header("x-user").unwrap_or_default())
            }
            _ => Verdict::Deny,
        };
        self.remember(token, &verdict);
        if self.apply(verdict) == Action::Continue {
            self.resume_http_request();
        }
    }
}

impl HttpContext for Request {
    fn on_http_request_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        let path = self.get_http_request_header(":path").unwrap_or_default();
        let mut parts = path.trim_start_matches('/').split(['/', '?']);
        match parts.next().unwrap_or("") {
            "public" => Action::Continue,
            "local" => {
                self.send_http_response(200, vec![("x-local", "yes")], Some(b"local reply\n"));
                Action::Pause
            }
            "sleep" => {
                let ms = parts.next().and_then(|ms| ms.parse().ok()).unwrap_or(0);
                let until = Instant::now() + Duration::from_millis(ms);
                self.shared.sleepers.borrow_mut().push((until, self.id, ms));
                self.shared.schedule_tick();
                Action::Pause
            }
            "body" => {
                // The body comes only once the headers go on.
                self.check_body = true;
                Action::Continue
            }
            "memory" => {
                let pages = memory_pages().to_string();
                let headers = vec![("x-wasm-memory-pages", pages.as_str())];
                self.send_http_response(200, headers, Some(pages.as_bytes()));
                Action::Pause
            }
            "panic" => panic!("the /panic route panics"),
            _ => self.authorize(),
        }
    }

    fn on_http_request_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        if !self.check_body {
            return Action::Continue;
        }
        if !end_of_stream {
            return Action::Pause;
        }
        if self.get_http_request_body(0, size).as_deref() == Some(b"forbidden") {
            self.send_http_response(403, vec![], Some(b"body refused\n"));
            return Action::Pause;
        }
        Action::Continue
    }
}

impl Request {
    fn authorize(&mut self) -> Action {
        let Some(token) = self.get_http_request_header("authorization") else {
            self.send_http_response(403, vec![], Some(b"no token\n"));
            return Action::Pause;
        };
        if let Some(verdict) = self.cached(&token) {
            return self.apply(verdict);
        }
        let cluster = self.shared.cluster.borrow().clone();
        let headers = vec![
            (":method", "GET"),
            (":path", "/check"),
            (":authority", "auth"),
            ("authorization", token.as_str()),
        ];
        match self.dispatch_http_call(&cluster, headers, None, vec![], Duration::from_secs(5)) {
            Ok(_) => {
                self.token = Some(token);
                Action::Pause
            }
            Err(_) => {
                self.send_http_response(503, vec![], Some(b"auth service unavailable\n"));
                Action::Pause
            }
        }
    }

    fn apply(&self, verdict: Verdict) -> Action {
        match verdict {
            Verdict::Allow(user) => {
                self.set_http_request_header("x-auth-user", Some(&user));
                self.remove_http_request_header("authorization");
                Action::Continue
            }
            Verdict::Deny => {
                self.send_http_response(403, vec![], Some(b"denied\n"));
                Action::Pause
            }
        }
    }

    fn cached(&self, token: &str) -> Option<Verdict> {
        let cache = self.shared.cache.borrow();
        let (verdict, until) = cache.get(token)?;
        (Instant::now() < *until).then(|| verdict.clone())
    }

    fn remember(&self, token: String, verdict: &Verdict) {
        let ttl = *self.shared.ttl.borrow();
        if ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut cache = self.shared.cache.borrow_mut();
        if cache.len() >= CACHE_MAX {
            cache.retain(|_, (_, until)| *until > now);
        }
        if cache.len() < CACHE_MAX {
            cache.entry(token).or_insert_with(|| (verdict.clone(), now + ttl));
        }
    }
}

/// The module's linear memory, in 64 KiB pages.
fn memory_pages() -> usize {
    #[cfg(target_arch = "wasm32")]
    return core::arch::wasm32::memory_size(0);
    #[cfg(not(target_arch = "wasm32"))]
    0
}
