//! The host side of the proxy-wasm ABI 0.2.1: the `env` imports this library uses, the numbers
//! they take, the header-map encoding, and buffers the host hands over.
//!
//! Every import is a `#[wasmimport]`: the host calls `proxy_on_memory_allocate` from inside
//! most of them (to place what it returns), and an export may only be re-entered from inside a
//! `#[wasmimport]` call.

use crate::Error;
use std::cell::Cell;
use wasmexport::wasmimport;

/// `proxy_get_header_map_*`'s map types.
pub(crate) const REQUEST_HEADERS: u32 = 0;
pub(crate) const HTTP_CALL_RESPONSE_HEADERS: u32 = 6;

/// `proxy_get_buffer_bytes`'s buffer types.
pub(crate) const REQUEST_BODY: u32 = 0;
pub(crate) const HTTP_CALL_RESPONSE_BODY: u32 = 4;
pub(crate) const PLUGIN_CONFIGURATION: u32 = 7;

/// `proxy_continue_stream`'s stream type for the request.
pub(crate) const STREAM_REQUEST: u32 = 0;

/// What a filter callback returns: go on, or hold the stream until `proxy_continue_stream`.
pub(crate) const CONTINUE: u32 = 0;
pub(crate) const PAUSE: u32 = 1;

/// The status every import returns; `OK` is 0.
const OK: u32 = 0;

#[wasmimport(module = "env", name = "proxy_log")]
fn proxy_log(level: u32, message: &str) -> u32;

#[wasmimport(module = "env", name = "proxy_set_effective_context")]
fn proxy_set_effective_context(context_id: u32) -> u32;

#[wasmimport(module = "env", name = "proxy_set_tick_period_milliseconds")]
fn proxy_set_tick_period_milliseconds(period: u32) -> u32;

#[wasmimport(module = "env", name = "proxy_get_buffer_bytes")]
fn proxy_get_buffer_bytes(
    buffer: u32,
    start: u32,
    max_size: u32,
    data: *mut *mut u8,
    size: *mut usize,
) -> u32;

#[wasmimport(module = "env", name = "proxy_get_header_map_pairs")]
fn proxy_get_header_map_pairs(map: u32, data: *mut *mut u8, size: *mut usize) -> u32;

#[wasmimport(module = "env", name = "proxy_get_header_map_value")]
fn proxy_get_header_map_value(map: u32, key: &str, data: *mut *mut u8, size: *mut usize) -> u32;

#[wasmimport(module = "env", name = "proxy_replace_header_map_value")]
fn proxy_replace_header_map_value(map: u32, key: &str, value: &str) -> u32;

#[wasmimport(module = "env", name = "proxy_add_header_map_value")]
fn proxy_add_header_map_value(map: u32, key: &str, value: &str) -> u32;

#[wasmimport(module = "env", name = "proxy_remove_header_map_value")]
fn proxy_remove_header_map_value(map: u32, key: &str) -> u32;

#[wasmimport(module = "env", name = "proxy_continue_stream")]
fn proxy_continue_stream(stream: u32) -> u32;

#[wasmimport(module = "env", name = "proxy_send_local_response")]
fn proxy_send_local_response(
    status: u32,
    details: &str,
    body: &[u8],
    headers: &[u8],
    grpc_status: i32,
) -> u32;

#[wasmimport(module = "env", name = "proxy_http_call")]
fn proxy_http_call(
    upstream: &str,
    headers: &[u8],
    body: &[u8],
    trailers: &[u8],
    timeout_ms: u32,
    token: *mut u32,
) -> u32;

fn check(status: u32) -> Result<(), Error> {
    if status == OK { Ok(()) } else { Err(Error::Status(status)) }
}

/// Writes `message` to Envoy's log at `level` (0 trace, 1 debug, 2 info, 3 warn, 4 error).
pub(crate) fn log(level: u32, message: &str) {
    // SAFETY: the host reads `message` during the call.
    unsafe { proxy_log(level, message) };
}

pub(crate) fn set_effective_context(context_id: u32) -> Result<(), Error> {
    // SAFETY: plain integers.
    check(unsafe { proxy_set_effective_context(context_id) })
}

pub(crate) fn set_tick_period(ms: u32) {
    // SAFETY: plain integers. It cannot fail for a context the host called us in.
    unsafe { proxy_set_tick_period_milliseconds(ms) };
}

/// Takes what the host wrote to `data` and `size` after a `proxy_get_*` call: a buffer it got
/// from [`crate::proxy_on_memory_allocate`], which is ours now and freed with the `Vec`.
fn owned(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() || size == 0 {
        // No allocation: the host writes 0 and 0 for an empty answer.
        return Vec::new();
    }
    // SAFETY: the host placed `size` bytes at `data`, which `proxy_on_memory_allocate(size)`
    // allocated with the global allocator as an array of `size` bytes, and handed it to us.
    unsafe { Vec::from_raw_parts(data, size, size) }
}

/// Calls a `proxy_get_*` import with the two out-parameters and takes the buffer it returns,
/// also when the import fails after allocating (nothing leaks either way).
fn get(call: impl FnOnce(*mut *mut u8, *mut usize) -> u32) -> Result<Vec<u8>, Error> {
    let (mut data, mut size) = (std::ptr::null_mut(), 0);
    let status = call(&mut data, &mut size);
    let bytes = owned(data, size);
    check(status).map(|()| bytes)
}

/// The first `size` bytes of `buffer` (no host call for none).
pub(crate) fn buffer(buffer: u32, size: usize) -> Result<Vec<u8>, Error> {
    if size == 0 {
        return Ok(Vec::new());
    }
    // SAFETY: the out-parameters point at locals that outlive the call.
    get(|d, s| unsafe { proxy_get_buffer_bytes(buffer, 0, size as u32, d, s) })
}

pub(crate) fn header_pairs(map: u32) -> Result<Vec<(String, String)>, Error> {
    raw_header_pairs(map).map(|b| decode_pairs(&b))
}

/// The header map `map` in the host's encoding (see [`encode_into`]).
pub(crate) fn raw_header_pairs(map: u32) -> Result<Vec<u8>, Error> {
    // SAFETY: as in `buffer`.
    get(|d, s| unsafe { proxy_get_header_map_pairs(map, d, s) })
}

/// The header's value, `None` when the map has no such header.
pub(crate) fn header(map: u32, name: &str) -> Result<Option<String>, Error> {
    // SAFETY: as in `buffer`; the host reads `name` during the call.
    match get(|d, s| unsafe { proxy_get_header_map_value(map, name, d, s) }) {
        Ok(value) => Ok(Some(text(value))),
        Err(Error::Status(NOT_FOUND)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The status for a header that is not there.
const NOT_FOUND: u32 = 1;

pub(crate) fn set_header(map: u32, name: &str, value: &str) -> Result<(), Error> {
    // SAFETY: the host reads both strings during the call.
    check(unsafe { proxy_replace_header_map_value(map, name, value) })
}

pub(crate) fn add_header(map: u32, name: &str, value: &str) -> Result<(), Error> {
    // SAFETY: as in `set_header`.
    check(unsafe { proxy_add_header_map_value(map, name, value) })
}

pub(crate) fn remove_header(map: u32, name: &str) -> Result<(), Error> {
    // SAFETY: the host reads `name` during the call.
    check(unsafe { proxy_remove_header_map_value(map, name) })
}

pub(crate) fn continue_request() -> Result<(), Error> {
    // SAFETY: plain integers.
    check(unsafe { proxy_continue_stream(STREAM_REQUEST) })
}

pub(crate) fn send_local_response(
    status: u32,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(), Error> {
    with_encoded(headers, |headers| {
        // SAFETY: the host reads the three buffers during the call. -1: not a gRPC reply.
        check(unsafe { proxy_send_local_response(status, "", body, headers, -1) })
    })
}

pub(crate) fn http_call(
    upstream: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout_ms: u32,
) -> Result<u32, Error> {
    // No trailers: a map of zero pairs.
    let trailers = [0; 4];
    let mut token = 0;
    with_encoded(headers, |headers| {
        // SAFETY: the host reads the buffers during the call and writes the token to a local.
        check(unsafe {
            proxy_http_call(upstream, headers, body, &trailers, timeout_ms, &mut token)
        })
    })?;
    Ok(token)
}

/// Bytes as text; header values from Envoy are ASCII in practice, anything else is replaced.
pub(crate) fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

thread_local! {
    /// The buffer [`with_encoded`] encodes into, kept between calls.
    static ENCODED: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Calls `f` with `pairs` encoded for the host (see [`encode_into`]), in a buffer kept from
/// one call to the next rather than allocated for each.
fn with_encoded<R>(pairs: &[(&str, &str)], f: impl FnOnce(&[u8]) -> R) -> R {
    // Taken out while `f` runs: a call that comes in from the host meanwhile encodes into a
    // buffer of its own.
    let mut out = ENCODED.take();
    out.clear();
    encode_into(pairs, &mut out);
    let result = f(&out);
    ENCODED.set(out);
    result
}

/// [`encode_into`] into a `Vec` of its own.
#[cfg(test)]
pub(crate) fn encode_pairs(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(pairs, &mut out);
    out
}

/// Appends `pairs` in the ABI's header-map encoding to `out`: the number of pairs, then each
/// pair's name and value lengths (all little-endian `u32`s), then each name and value followed
/// by a NUL.
fn encode_into(pairs: &[(&str, &str)], out: &mut Vec<u8>) {
    let text: usize = pairs.iter().map(|(n, v)| n.len() + v.len() + 2).sum();
    out.reserve(4 + 8 * pairs.len() + text);
    out.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
    for (name, value) in pairs {
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    }
    for (name, value) in pairs {
        for part in [name, value] {
            out.extend_from_slice(part.as_bytes());
            out.push(0);
        }
    }
}

/// Reads [`encode_into`]'s encoding; a truncated map yields the pairs that are complete.
pub(crate) fn decode_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    pairs(bytes).map(|(n, v)| (text(n.to_vec()), text(v.to_vec()))).collect()
}

/// The name and value of each pair in [`encode_into`]'s encoding, as bytes, without copying;
/// stops at the first pair the bytes do not hold in full.
pub(crate) fn pairs(bytes: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let word = |at: usize| -> Option<usize> {
        Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?) as usize)
    };
    let count = word(0).unwrap_or(0);
    // Where the text starts: past the count and the lengths (none when they do not fit).
    let mut at = count.checked_mul(8).and_then(|l| l.checked_add(4)).unwrap_or(usize::MAX);
    (0..count).map_while(move |i| {
        let (name_len, value_len) = (word(4 + 8 * i)?, word(8 + 8 * i)?);
        let name = bytes.get(at..at.checked_add(name_len)?)?;
        let value_at = at + name_len + 1;
        let value = bytes.get(value_at..value_at.checked_add(value_len)?)?;
        at = value_at + value_len + 1;
        Some((name, value))
    })
}

#[cfg(test)]
mod tests {
    use super::{decode_pairs, encode_pairs};

    #[test]
    fn pairs_round_trip() {
        let pairs = [(":path", "/a"), ("x-empty", ""), ("authorization", "Bearer t")];
        let decoded = decode_pairs(&encode_pairs(&pairs));
        let decoded: Vec<(&str, &str)> =
            decoded.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        assert_eq!(decoded, pairs);
        assert!(decode_pairs(&[]).is_empty());
        // A count the bytes cannot hold, and lengths past the end, yield nothing.
        assert!(decode_pairs(&[255, 255, 255, 255, 1, 0, 0, 0]).is_empty());
        let mut long = encode_pairs(&pairs[..1]);
        long[4] = 200;
        assert!(decode_pairs(&long).is_empty());
        assert!(decode_pairs(&encode_pairs(&pairs)[..20]).is_empty());
    }
}
