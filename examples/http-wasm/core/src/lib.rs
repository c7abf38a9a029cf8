//! keygate's logic, shared by the wasmexport guest and the hand-written floor so that the two
//! differ only in how they reach the host: API keys from the plugin config, one token bucket
//! per client, and what a request gets.
//!
//! * No key, or a key the config does not list: 401, written by the guest.
//! * The client's bucket is empty: 429 with `retry-after`, written by the guest.
//! * Otherwise the request goes on upstream without the key header and with `x-client: NAME`,
//!   and the response gets `x-wasm-ratelimit-remaining: N`.
//!
//! # Config (the middleware's options in Traefik's dynamic configuration)
//!
//! | option | meaning | default |
//! |---|---|---|
//! | `keys` | list of `"client:key"` | none: every request gets 401 |
//! | `header` | the request header that carries the key | `x-api-key` |
//! | `burst` | tokens in a full bucket | 10 |
//! | `perSecond` | tokens added per second of wall-clock time | 5 |
//! | `debug` | add `x-wasm-instance`, `x-wasm-memory` and `x-wasm-clock-step` to every response | false |
//!
//! Numbers and booleans may also be strings (`"5"`, `"true"`): Traefik passes options from
//! labels and some providers as strings.
//!
//! The main path allocates nothing: the key is read into a buffer on the stack, clients are
//! looked up in a list made once, and numbers are formatted into a stack buffer.

pub mod json;

use json::Value;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// `header_kind` of the http-wasm ABI: the request's headers.
pub const REQUEST: i32 = 0;
/// `header_kind` and `body_kind` of the http-wasm ABI: the response's.
pub const RESPONSE: i32 = 1;

/// The host functions the middleware uses, each one import of the `http_handler` module.
pub trait Host {
    /// `get_header_values(kind, name, buf)`: the values of header `name`, NUL-terminated,
    /// written into `buf` if they fit; returns `count << 32 | len`.
    fn header_values(&self, kind: i32, name: &str, buf: &mut [u8]) -> i64;
    /// `set_header_value(kind, name, value)`.
    fn set_header(&self, kind: i32, name: &str, value: &str);
    /// `remove_header(kind, name)`.
    fn remove_header(&self, kind: i32, name: &str);
    /// `set_status_code(code)`.
    fn set_status(&self, code: u32);
    /// `write_body(kind, body)`.
    fn write_body(&self, kind: i32, body: &[u8]);
}

/// One client: its name (sent upstream as `x-client`) and its key.
#[derive(Debug, Clone, PartialEq)]
pub struct Client {
    /// The name before the `:` in `keys`.
    pub name: String,
    /// The key after it.
    pub key: Vec<u8>,
}

/// The middleware's options, parsed from the JSON that `get_config` returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The clients and their keys.
    pub clients: Vec<Client>,
    /// The request header that carries the key, lowercase.
    pub header: String,
    /// Tokens in a full bucket.
    pub burst: f64,
    /// Tokens added per second.
    pub per_second: f64,
    /// Whether responses carry the diagnostic headers.
    pub debug: bool,
}

impl Config {
    /// Parses the plugin config; an empty one (no options) is the defaults.
    pub fn parse(bytes: &[u8]) -> Result<Config, String> {
        let value = if bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Object(Vec::new())
        } else {
            json::parse(bytes).map_err(|e| format!("keygate config: {e}"))?
        };
        let number = |key: &str, default: f64| -> Result<f64, String> {
            match value.get(key) {
                None | Some(Value::Null) => Ok(default),
                Some(Value::Number(n)) if *n >= 0.0 => Ok(*n),
                Some(Value::String(s)) if s.trim().parse::<f64>().is_ok_and(|n| n >= 0.0) => {
                    Ok(s.trim().parse().unwrap_or(default))
                }
                Some(other) => {
                    Err(format!("keygate config: {key} is not a number >= 0: {other:?}"))
                }
            }
        };
        let debug = match value.get("debug") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) if s == "true" || s == "false" => s == "true",
            Some(other) => {
                return Err(format!("keygate config: debug is not a boolean: {other:?}"));
            }
        };
        let header = match value.get("header") {
            None | Some(Value::Null) => "x-api-key".to_string(),
            Some(Value::String(s)) if !s.is_empty() => s.to_ascii_lowercase(),
            Some(other) => return Err(format!("keygate config: header is not a name: {other:?}")),
        };
        let mut clients = Vec::new();
        match value.get("keys") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for item in items {
                    let pair = match item {
                        Value::String(s) => s.split_once(':'),
                        _ => None,
                    };
                    let Some((name, key)) = pair.filter(|(n, k)| !n.is_empty() && !k.is_empty())
                    else {
                        return Err(format!(
                            "keygate config: a key is not \"client:key\": {item:?}"
                        ));
                    };
                    clients.push(Client { name: name.to_string(), key: key.as_bytes().to_vec() });
                }
            }
            Some(other) => return Err(format!("keygate config: keys is not a list: {other:?}")),
        }
        Ok(Config {
            clients,
            header,
            burst: number("burst", 10.0)?,
            per_second: number("perSecond", 5.0)?,
            debug,
        })
    }
}

/// What a request gets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// On to the next handler; the client's index and the whole tokens left.
    Pass {
        /// Index into [`Config::clients`].
        client: usize,
        /// Whole tokens left in its bucket.
        remaining: u32,
    },
    /// 401: no key, or not one of the config's.
    Unauthorized,
    /// 429: the client's bucket is empty; seconds until it holds a token again.
    Limited {
        /// Whole seconds, rounded up.
        retry_after: u32,
    },
}

/// An instance's state: the config and one bucket per client. Every instance of the module
/// (Traefik keeps a pool of them) has its own.
#[derive(Debug)]
pub struct Gate {
    /// The options.
    pub config: Config,
    tokens: Vec<f64>,
    last_ns: Vec<u64>,
    /// Wall-clock nanoseconds when this instance was made: tells instances apart.
    pub born_ns: u64,
}

impl Gate {
    /// A gate with full buckets.
    pub fn new(config: Config) -> Gate {
        let n = config.clients.len();
        let now = wall_ns();
        Gate { tokens: vec![config.burst; n], last_ns: vec![now; n], config, born_ns: now }
    }

    /// Checks `key` (the header's first value, if any) at wall-clock time `now_ns`, taking a
    /// token from the client's bucket when it lets the request through.
    pub fn check(&mut self, key: Option<&[u8]>, now_ns: u64) -> Verdict {
        let Some(client) = key.and_then(|k| self.config.clients.iter().position(|c| c.key == k))
        else {
            return Verdict::Unauthorized;
        };
        let (burst, rate) = (self.config.burst, self.config.per_second);
        let elapsed = now_ns.saturating_sub(self.last_ns[client]) as f64 / 1e9;
        self.last_ns[client] = self.last_ns[client].max(now_ns);
        let tokens = (self.tokens[client] + elapsed * rate).min(burst);
        if tokens >= 1.0 {
            self.tokens[client] = tokens - 1.0;
            Verdict::Pass { client, remaining: (tokens - 1.0) as u32 }
        } else {
            self.tokens[client] = tokens;
            let wait = if rate > 0.0 { ((1.0 - tokens) / rate).ceil() } else { 3600.0 };
            Verdict::Limited { retry_after: wait.clamp(1.0, 3600.0) as u32 }
        }
    }

    /// Handles one request: the body of the guest's `handle_request`. Returns whether the
    /// request goes on to the next handler (`next`).
    pub fn handle_request(&mut self, host: &impl Host) -> bool {
        let mut buf = [0u8; 256];
        let count_len = host.header_values(REQUEST, &self.config.header, &mut buf);
        let len = (count_len & 0xffff_ffff) as usize;
        // The first value, without its NUL; a value too long for the buffer is no key of ours.
        let key = (count_len >> 32 != 0 && len <= buf.len())
            .then(|| buf[..len].split(|&b| b == 0).next().unwrap_or(&[]));
        let verdict = self.check(key, wall_ns());
        if self.config.debug {
            self.debug_headers(host);
        }
        let mut digits = [0u8; 20];
        match verdict {
            Verdict::Pass { client, remaining } => {
                host.remove_header(REQUEST, &self.config.header);
                host.set_header(REQUEST, "x-client", &self.config.clients[client].name);
                host.set_header(
                    RESPONSE,
                    "x-wasm-ratelimit-remaining",
                    decimal(remaining.into(), &mut digits),
                );
                true
            }
            Verdict::Unauthorized => {
                host.set_header(RESPONSE, "content-type", "text/plain; charset=utf-8");
                host.set_status(401);
                host.write_body(RESPONSE, b"keygate: missing or unknown API key\n");
                false
            }
            Verdict::Limited { retry_after } => {
                host.set_header(RESPONSE, "content-type", "text/plain; charset=utf-8");
                host.set_header(RESPONSE, "retry-after", decimal(retry_after.into(), &mut digits));
                host.set_status(429);
                host.write_body(RESPONSE, b"keygate: rate limit exceeded\n");
                false
            }
        }
    }

    fn debug_headers(&self, host: &impl Host) {
        let mut digits = [0u8; 20];
        host.set_header(RESPONSE, "x-wasm-instance", decimal(self.born_ns, &mut digits));
        host.set_header(RESPONSE, "x-wasm-memory", decimal(memory_bytes(), &mut digits));
        // Two readings of the monotonic clock in a row: nanoseconds apart on a real clock.
        let a = Instant::now();
        let step = Instant::now().duration_since(a).as_nanos() as u64;
        host.set_header(RESPONSE, "x-wasm-clock-step", decimal(step, &mut digits));
    }
}

/// Nanoseconds since the Unix epoch on the wall clock (WASI `clock_time_get` on the realtime
/// clock, which Traefik gives guests for real, unlike the monotonic one).
pub fn wall_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// The size of linear memory in bytes (0 off wasm).
pub fn memory_bytes() -> u64 {
    #[cfg(target_arch = "wasm32")]
    return core::arch::wasm32::memory_size(0) as u64 * 65536;
    #[cfg(not(target_arch = "wasm32"))]
    0
}

/// `n` in decimal, written into `buf`.
pub fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[at..]).unwrap_or("0")
}

#[cfg(test)]
mod tests {
    use super::{Config, Gate, Verdict, decimal};

    fn gate(json: &str) -> Gate {
        Gate::new(Config::parse(json.as_bytes()).unwrap())
    }

    #[test]
    fn config_defaults_and_strings() {
        let c = Config::parse(b"").unwrap();
        assert_eq!(
            (c.clients.len(), c.header.as_str(), c.burst, c.debug),
            (0, "x-api-key", 10.0, false)
        );
        let c = Config::parse(
            br#"{"keys":["a:1"],"burst":"3","perSecond":0.5,"debug":"true","header":"X-Key"}"#,
        )
        .unwrap();
        assert_eq!((c.burst, c.per_second, c.debug, c.header.as_str()), (3.0, 0.5, true, "x-key"));
        assert!(Config::parse(br#"{"keys":["nokey"]}"#).is_err());
        assert!(Config::parse(br#"{"burst":-1}"#).is_err());
    }

    #[test]
    fn buckets_refill_with_wall_time() {
        let mut g = gate(r#"{"keys":["a:k1","b:k2"],"burst":2,"perSecond":1}"#);
        let t = g.last_ns[0];
        assert_eq!(g.check(None, t), Verdict::Unauthorized);
        assert_eq!(g.check(Some(b"nope"), t), Verdict::Unauthorized);
        assert_eq!(g.check(Some(b"k1"), t), Verdict::Pass { client: 0, remaining: 1 });
        assert_eq!(g.check(Some(b"k1"), t), Verdict::Pass { client: 0, remaining: 0 });
        assert_eq!(g.check(Some(b"k1"), t), Verdict::Limited { retry_after: 1 });
        assert_eq!(g.check(Some(b"k2"), t), Verdict::Pass { client: 1, remaining: 1 });
        assert_eq!(
            g.check(Some(b"k1"), t + 1_000_000_000),
            Verdict::Pass { client: 0, remaining: 0 }
        );
    }

    #[test]
    fn decimals() {
        let mut b = [0; 20];
        assert_eq!(decimal(0, &mut b), "0");
        assert_eq!(decimal(u64::MAX, &mut b), "18446744073709551615");
    }
}
