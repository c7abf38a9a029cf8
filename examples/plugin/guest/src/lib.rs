//! A request filter plugin, in the style of Envoy/proxy-wasm or wazero plugin systems, written
//! with wasmexport's public API only.
//!
//! # The ABI the host sees
//!
//! A `&str` or `&[u8]` parameter crosses as two `i32`s, pointer then length, so the Rust fns
//! below take strings and buffers while the host passes pointers into the plugin's memory.
//!
//! * `alloc(len) -> ptr` / `dealloc(ptr, len)`: buffers in the plugin's memory. The host writes
//!   a request into one as UTF-8 `METHOD PATH CLIENT` (single spaces).
//! * `on_request(ptr, len) -> u64` (async; `request: &str`): the low 32 bits are the decision
//!   (0 allow, 1 deny, 2 rate-limited); the high 32 bits the length of a rewritten path, 0 for
//!   none, whose bytes are at `rewrite_ptr()` until the next call. Bytes that are not UTF-8
//!   trap with a `wasmexport:` line naming `on_request` and `request`.
//! * `cache_get(ptr, len) -> i64` / `cache_put(ptr, len, tier)` (`client: &str`): the
//!   plugin-side cache of client tiers, which the host uses while it answers `lookup`
//!   (re-entrant calls).
//!
//! Imports (module `host`): `config(ptr, cap) -> len` (`&mut [u8]`), `lookup(ptr, len) -> tier`
//! and `log(level, ptr, len)` (`&str`).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::Duration;
use wasmexport::time::sleep;
use wasmexport::{spawn, wasmexport, wasmimport};

/// What the plugin answers for a request.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
enum Decision {
    Allow = 0,
    Deny = 1,
    RateLimited = 2,
}

/// A client's tier, as the host's directory says.
const BLOCKED: u32 = 0;
const PREMIUM: u32 = 2;

#[wasmimport(module = "host", name = "log")]
fn host_log(level: u32, message: &str);

#[wasmimport(module = "host", name = "config")]
fn host_config(buf: &mut [u8]) -> u32;

#[wasmimport(module = "host", name = "lookup")]
fn host_lookup(client: &str) -> u32;

const INFO: u32 = 1;
const WARN: u32 = 2;

fn log(level: u32, message: &str) {
    // SAFETY: the host only reads the message, during the call.
    unsafe { host_log(level, message) }
}

/// The rules of `plugin.conf`.
#[derive(Default)]
struct Rules {
    deny_methods: Vec<String>,
    deny_paths: Vec<String>,
    rewrites: Vec<(String, String)>,
    burst: u32,
    refill: Duration,
}

impl Rules {
    fn parse(text: &str) -> Rules {
        let mut rules =
            Rules { burst: u32::MAX, refill: Duration::from_secs(1), ..Rules::default() };
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                [] => {}
                ["deny-method", m] => rules.deny_methods.push(m.to_string()),
                ["deny-path", p] => rules.deny_paths.push(p.to_string()),
                ["rewrite", from, to] => rules.rewrites.push((from.to_string(), to.to_string())),
                ["limit", burst, ms] => match (burst.parse(), ms.parse()) {
                    (Ok(b), Ok(ms)) => (rules.burst, rules.refill) = (b, Duration::from_millis(ms)),
                    _ => log(WARN, &format!("plugin.conf:{}: bad limit: {line}", n + 1)),
                },
                _ => log(WARN, &format!("plugin.conf:{}: unknown rule ignored: {line}", n + 1)),
            }
        }
        rules
    }
}

thread_local! {
    static RULES: RefCell<Rules> = RefCell::new(Rules::default());
    /// Tokens left per client.
    static BUCKETS: RefCell<HashMap<String, u32>> = RefCell::new(HashMap::new());
    /// Client tiers, filled by the host through `cache_put`.
    static CACHE: RefCell<HashMap<String, u32>> = RefCell::new(HashMap::new());
    static REWRITE: RefCell<String> = const { RefCell::new(String::new()) };
    static REFILLS: Cell<u32> = const { Cell::new(0) };
}

/// Reads the rules from the host and starts the refill task: `_initialize` does real work.
#[wasmexport::init]
fn configure() {
    let mut buf = vec![0u8; 4096];
    // SAFETY: the host writes at most `buf.len()` bytes into `buf` and returns the config's
    // length.
    let len = unsafe { host_config(&mut buf) } as usize;
    if len > buf.len() {
        buf.resize(len, 0);
        // SAFETY: as above, with a buffer now large enough.
        unsafe { host_config(&mut buf) };
    }
    let rules = Rules::parse(&String::from_utf8_lossy(&buf[..len]));
    log(
        INFO,
        &format!(
            "configured: {} denied methods, {} denied paths, {} rewrites, burst {} refill {:?}",
            rules.deny_methods.len(),
            rules.deny_paths.len(),
            rules.rewrites.len(),
            rules.burst,
            rules.refill
        ),
    );
    let (burst, every) = (rules.burst, rules.refill);
    RULES.with(|r| *r.borrow_mut() = rules);
    // A goroutine: it sleeps on the plugin's timers, which fire only while the host is inside
    // the plugin, so buckets refill at the first request after each interval, never between.
    spawn(async move {
        loop {
            sleep(every).await;
            REFILLS.set(REFILLS.get() + 1);
            BUCKETS.with(|b| b.borrow_mut().values_mut().for_each(|t| *t = (*t + 1).min(burst)));
        }
    })
    .detach();
}

/// A buffer of `len` bytes for the host to write into.
#[wasmexport]
fn alloc(len: u32) -> *mut u8 {
    let mut buf = Vec::<u8>::with_capacity(len as usize);
    let ptr = buf.as_mut_ptr();
    std::mem::forget(buf);
    ptr
}

/// Frees a buffer from `alloc`.
///
/// # Safety
/// `ptr` and `len` must come from one `alloc(len)` call, freed once.
#[wasmexport]
unsafe fn dealloc(ptr: *mut u8, len: u32) {
    // SAFETY: per the contract, this is the allocation `alloc` leaked, with its capacity.
    drop(unsafe { Vec::from_raw_parts(ptr, 0, len as usize) });
}

/// Where the last rewritten path is.
#[wasmexport]
fn rewrite_ptr() -> *const u8 {
    REWRITE.with(|r| r.borrow().as_ptr())
}

/// How often the refill task has run (the host prints it to show the Go semantics).
#[wasmexport]
fn refills() -> u32 {
    REFILLS.get()
}

/// Decides on one request; the host passes it in a buffer from `alloc`, which the call borrows
/// while it waits for the lookup task.
#[wasmexport]
async fn on_request(request: &str) -> u64 {
    let (decision, rewritten) = decide(request).await;
    let rewrite_len = REWRITE.with(|r| {
        let mut r = r.borrow_mut();
        r.clear();
        r.push_str(rewritten.as_deref().unwrap_or(""));
        r.len() as u64
    });
    rewrite_len << 32 | decision as u64
}

async fn decide(request: &str) -> (Decision, Option<String>) {
    let [method, path, client] = request.split(' ').collect::<Vec<_>>()[..] else {
        log(WARN, &format!("malformed request denied: {request:?}"));
        return (Decision::Deny, None);
    };
    let denied = RULES.with(|r| {
        let r = r.borrow();
        r.deny_methods.iter().any(|m| m == method)
            || r.deny_paths.iter().any(|p| path.starts_with(p.as_str()))
    });
    if denied {
        return (Decision::Deny, None);
    }
    // The lookup runs as its own task, as a goroutine doing I/O would; while this call awaits
    // it the executor also runs the refill task if its timer is due.
    let who = client.to_string();
    let tier = spawn(async move {
        // SAFETY: the host only reads the client's name, during the call.
        unsafe { host_lookup(&who) }
    })
    .await;
    if tier == BLOCKED {
        return (Decision::Deny, None);
    }
    let rewritten = RULES.with(|r| {
        r.borrow().rewrites.iter().find_map(|(from, to)| {
            path.strip_prefix(from.as_str()).map(|rest| format!("{to}{rest}"))
        })
    });
    if tier == PREMIUM {
        return (Decision::Allow, rewritten);
    }
    let burst = RULES.with(|r| r.borrow().burst);
    let allowed = BUCKETS.with(|b| {
        let mut b = b.borrow_mut();
        let tokens = b.entry(client.to_string()).or_insert(burst);
        if *tokens == 0 {
            return false;
        }
        *tokens -= 1;
        true
    });
    if allowed { (Decision::Allow, rewritten) } else { (Decision::RateLimited, None) }
}

/// The cached tier of a client, or -1.
#[wasmexport]
fn cache_get(client: &str) -> i64 {
    CACHE.with(|c| c.borrow().get(client).map_or(-1, |&t| i64::from(t)))
}

/// Caches a client's tier.
#[wasmexport]
fn cache_put(client: &str, tier: u32) {
    CACHE.with(|c| c.borrow_mut().insert(client.to_string(), tier));
}

/// Host-side unit tests (`cargo test` on the build machine): the exports are plain Rust fns
/// there, and a `#[wasmimport]` fn panics naming the import it stands for.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_on_the_host() {
        let rules = Rules::parse("deny-method DELETE\nrewrite /old /new # moved\nlimit 3 250\n");
        assert_eq!(rules.deny_methods, ["DELETE"]);
        assert_eq!(rules.rewrites, [("/old".to_string(), "/new".to_string())]);
        assert_eq!((rules.burst, rules.refill), (3, Duration::from_millis(250)));
    }

    #[test]
    fn exports_are_plain_fns_on_the_host() {
        let ptr = alloc(16);
        assert!(!ptr.is_null());
        // SAFETY: the buffer `alloc(16)` returned, freed once.
        unsafe { dealloc(ptr, 16) };
        assert_eq!(refills(), 0);
    }

    #[test]
    #[should_panic(expected = "host import \"host\" \"config\"")]
    fn imports_panic_on_the_host_naming_the_import() {
        // `_initialize` would run this; it asks the host for the config first.
        configure();
    }
}
