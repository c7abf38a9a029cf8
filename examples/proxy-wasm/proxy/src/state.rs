//! What the module keeps between callbacks: the registered filter type, the root contexts (one
//! per plugin configuration) with their filter and tick period, the streams (one per request),
//! and which context the host applies calls to.

use crate::request::Stream;
use crate::{Error, Request, abi, ready};
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;
use std::time::Duration;

/// A map keyed by the ids the host hands out (contexts, callout tokens).
pub(crate) type IdMap<V> = HashMap<u32, V, BuildHasherDefault<IdHasher>>;

/// An empty [`IdMap`], for a `const` initializer.
pub(crate) const fn id_map<V>() -> IdMap<V> {
    HashMap::with_hasher(BuildHasherDefault::new())
}

/// Hashes an id with one multiplication (Fibonacci hashing): the host picks the ids, in
/// sequence, not a client, so std's SipHash, which defends against chosen keys, would only
/// cost time on every callback.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u32(u32::from(b) ^ (self.0 as u32));
        }
    }

    fn write_u32(&mut self, id: u32) {
        self.0 = (self.0 ^ u64::from(id)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A configured filter, of the registered type.
pub(crate) type AnyFilter = Rc<dyn Any>;

/// The registered filter type, as two monomorphized fns.
#[derive(Clone, Copy)]
pub(crate) struct Plugin {
    /// [`crate::Filter::configure`], boxed.
    pub(crate) configure: fn(&[u8]) -> Result<AnyFilter, String>,
    /// Spawns the handler's task for a request, given the configured filter.
    pub(crate) start: fn(&AnyFilter, Request),
}

/// A root context: a plugin configuration on this worker.
struct Root {
    filter: Option<AnyFilter>,
    /// The tick period last set for it, 0 when off.
    tick_ms: u32,
}

thread_local! {
    static PLUGIN: Cell<Option<Plugin>> = const { Cell::new(None) };
    static ROOTS: RefCell<IdMap<Root>> = const { RefCell::new(id_map()) };
    static STREAMS: RefCell<IdMap<Rc<Stream>>> = const { RefCell::new(id_map()) };
    /// Deleted streams, kept to be the next ones: a request then allocates no stream.
    static SPARE_STREAMS: RefCell<Vec<Rc<Stream>>> = const { RefCell::new(Vec::new()) };
    /// How many roots have ticks on: with none, a drive that leaves no timer armed has no
    /// period to change, and looks up no root.
    static TICKING: Cell<usize> = const { Cell::new(0) };
    /// The context host calls apply to right now: the one the host called us for, until
    /// [`enter`] makes another one effective.
    static EFFECTIVE: Cell<u32> = const { Cell::new(0) };
}

pub(crate) fn register(plugin: Plugin) {
    PLUGIN.set(Some(plugin));
}

pub(crate) fn new_root(id: u32) {
    let old = ROOTS.with_borrow_mut(|r| r.insert(id, Root { filter: None, tick_ms: 0 }));
    if old.is_some_and(|old| old.tick_ms != 0) {
        TICKING.set(TICKING.get() - 1);
    }
}

/// Configures root `id` from `config`; false (and a log line) when the filter refuses it or
/// none is registered.
pub(crate) fn configure(id: u32, config: &[u8]) -> bool {
    let Some(plugin) = PLUGIN.get() else {
        abi::log(4, "wasmexport-proxy: no filter registered (call register in an init fn)");
        return false;
    };
    match (plugin.configure)(config) {
        Ok(filter) => {
            ROOTS.with_borrow_mut(|r| {
                r.entry(id).or_insert(Root { filter: None, tick_ms: 0 }).filter = Some(filter)
            });
            true
        }
        Err(e) => {
            abi::log(4, &format!("wasmexport-proxy: configuration refused: {e}"));
            false
        }
    }
}

pub(crate) fn new_stream(id: u32, root: u32) {
    let stream = match SPARE_STREAMS.with_borrow_mut(Vec::pop) {
        Some(mut spare) => {
            // Unique: `recycle` keeps only streams nothing else holds.
            if let Some(s) = Rc::get_mut(&mut spare) {
                *s = Stream::new(id, root);
            }
            spare
        }
        None => Rc::new(Stream::new(id, root)),
    };
    STREAMS.with_borrow_mut(|s| s.insert(id, stream));
}

/// A stream the host deleted: its memory is kept for a next one if nothing else holds it.
pub(crate) fn recycle(stream: Rc<Stream>) {
    if Rc::strong_count(&stream) == 1 && Rc::weak_count(&stream) == 0 {
        SPARE_STREAMS.with_borrow_mut(|s| {
            if s.len() < SPARES {
                s.push(stream);
            }
        });
    }
}

/// The most deleted streams kept for new ones.
const SPARES: usize = 64;

pub(crate) fn stream(id: u32) -> Option<Rc<Stream>> {
    STREAMS.with_borrow(|s| s.get(&id).cloned())
}

/// Forgets context `id`; the stream it was, if it was one.
pub(crate) fn remove(id: u32) -> Option<Rc<Stream>> {
    let stream = STREAMS.with_borrow_mut(|s| s.remove(&id));
    if stream.is_none()
        && let Some(root) = ROOTS.with_borrow_mut(|r| r.remove(&id))
        && root.tick_ms != 0
    {
        TICKING.set(TICKING.get() - 1);
    }
    stream
}

/// The root context of context `id` (itself if it is one).
pub(crate) fn root_of(id: u32) -> u32 {
    STREAMS.with_borrow(|s| s.get(&id).map_or(id, |s| s.root))
}

/// Starts the handler of `request` if its root has a configured filter; false if not.
pub(crate) fn start(root: u32, request: Request) -> bool {
    let Some(plugin) = PLUGIN.get() else { return false };
    let Some(filter) = ROOTS.with_borrow(|r| r.get(&root).and_then(|r| r.filter.clone())) else {
        return false;
    };
    (plugin.start)(&filter, request);
    true
}

/// Makes context `id` the one host calls apply to, unless it already is.
pub(crate) fn enter(id: u32) -> Result<(), Error> {
    if EFFECTIVE.get() != id {
        abi::set_effective_context(id)?;
        EFFECTIVE.set(id);
    }
    Ok(())
}

/// The host called the module for `context`: host calls apply to it until [`enter`] says
/// otherwise, and to the caller's context again once this callback returns (as the host does
/// when one callback comes inside another's host call).
pub(crate) struct Callback {
    outer: u32,
}

impl Callback {
    pub(crate) fn new(context: u32) -> Self {
        Callback { outer: EFFECTIVE.replace(context) }
    }
}

impl Drop for Callback {
    fn drop(&mut self) {
        EFFECTIVE.set(self.outer);
    }
}

/// The most passes over the woken handlers in one [`run`].
const PASSES: usize = 16;

/// Runs every ready task and due timer ([`wasmexport::drive`]) and every woken handler
/// ([`ready`]), then sets root `root`'s tick period so that the next tick comes at the next
/// deadline (or turns ticks off).
///
/// Envoy restarts a root's tick timer whenever its period is set, so it is set only when it
/// changes: a tick already due at or before the new deadline is kept.
pub(crate) fn run(root: u32) {
    let mut next = wasmexport::drive();
    // The handlers woken, then the tasks they woke, until neither has more to do, a few times
    // at most: handlers that keep waking each other (or themselves) go on at the next tick.
    let mut passes = 0;
    while ready::any_queued() {
        if passes == PASSES {
            next = Some(Duration::ZERO);
            break;
        }
        ready::pass();
        passes += 1;
        next = wasmexport::drive();
    }
    let ms = next.map_or(0, tick_ms);
    if ms == 0 && TICKING.get() == 0 {
        return;
    }
    let changed = ROOTS.with_borrow_mut(|r| match r.get_mut(&root) {
        Some(r) if r.tick_ms != ms => {
            // Ticks turned on or off for this root.
            match (r.tick_ms, ms) {
                (0, _) => TICKING.set(TICKING.get() + 1),
                (_, 0) => TICKING.set(TICKING.get() - 1),
                _ => {}
            }
            r.tick_ms = ms;
            true
        }
        _ => false,
    });
    // The period applies to the effective context's root: make it `root` again if a handler
    // or a task made one of its requests effective (or one of another root's).
    if changed && enter(root).is_ok() {
        abi::set_tick_period(ms);
    }
}

/// A tick period that comes no earlier than `until` (at least 1 ms).
fn tick_ms(until: Duration) -> u32 {
    until.as_micros().div_ceil(1000).clamp(1, u128::from(u32::MAX)) as u32
}

#[cfg(test)]
mod tests {
    use super::tick_ms;
    use std::time::Duration;

    #[test]
    fn ticks_come_no_earlier_than_the_deadline() {
        assert_eq!(tick_ms(Duration::ZERO), 1);
        assert_eq!(tick_ms(Duration::from_micros(1)), 1);
        assert_eq!(tick_ms(Duration::from_millis(1)), 1);
        assert_eq!(tick_ms(Duration::from_micros(1001)), 2);
        assert_eq!(tick_ms(Duration::from_secs(400)), 400_000);
        assert_eq!(tick_ms(Duration::MAX), u32::MAX);
    }
}
