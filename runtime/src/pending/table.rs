//! The table of tokens the host will complete: a map from `u32` to a slot, shaped for tokens
//! that count up.
//!
//! Hosts hand out tokens from a counter (both host libraries do), so at any moment the tokens
//! in use are mostly a window of consecutive numbers. A ring indexed by the token's low bits
//! holds nearly all of them: a look-up there is a load and a compare, where a hash map's probe
//! is several times that, and a pending round trip makes four look-ups. A token whose place in
//! the ring is taken (it collides with one that outlived a ring's worth of later ones, or the
//! host's tokens are not a counter at all) goes to a `HashMap`. The ring doubles while it is
//! at least half full, up to [`MAX_RING`] places; it never shrinks, so its memory is bounded by
//! the most tokens ever pending at once.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Places in the ring at first.
const MIN_RING: usize = 64;
/// The most places the ring grows to (each place is a few words).
const MAX_RING: usize = 1 << 14;

pub(super) struct Table<T> {
    /// Place `token % ring.len()` holds `token`'s entry, if that token is in the ring.
    ring: Vec<Option<(u32, T)>>,
    /// How many places of the ring are taken.
    in_ring: usize,
    /// The tokens whose place was taken.
    others: HashMap<u32, T, BuildHasherDefault<TokenHasher>>,
}

impl<T> Table<T> {
    pub(super) const fn new() -> Table<T> {
        Table {
            ring: Vec::new(),
            in_ring: 0,
            others: HashMap::with_hasher(BuildHasherDefault::new()),
        }
    }

    #[inline(always)]
    fn place(&self, token: u32) -> usize {
        // The ring's length is a power of two (or zero: then nothing is looked up in it).
        token as usize & self.ring.len().wrapping_sub(1)
    }

    #[inline]
    pub(super) fn get_mut(&mut self, token: u32) -> Option<&mut T> {
        let i = self.place(token);
        match self.ring.get_mut(i) {
            Some(Some((t, value))) if *t == token => Some(value),
            _ if self.others.is_empty() => None,
            _ => self.others.get_mut(&token),
        }
    }

    /// Inserts `value` for `token`, which is not in the table; the value, in its place.
    #[inline]
    pub(super) fn insert(&mut self, token: u32, value: T) -> &mut T {
        debug_assert!(self.get_mut(token).is_none());
        if self.in_ring >= self.ring.len() / 2 && self.ring.len() < MAX_RING {
            self.grow();
        }
        let i = self.place(token);
        if self.ring[i].is_none() {
            self.in_ring += 1;
            &mut self.ring[i].insert((token, value)).1
        } else {
            self.others.entry(token).insert_entry(value).into_mut()
        }
    }

    #[inline]
    pub(super) fn remove(&mut self, token: u32) -> Option<T> {
        let i = self.place(token);
        match self.ring.get_mut(i) {
            Some(place) if place.as_ref().is_some_and(|(t, _)| *t == token) => {
                self.in_ring -= 1;
                place.take().map(|(_, value)| value)
            }
            _ if self.others.is_empty() => None,
            _ => self.others.remove(&token),
        }
    }

    /// Doubles the ring (to [`MIN_RING`] places at first) and places every entry anew.
    #[cold]
    fn grow(&mut self) {
        let len = (self.ring.len() * 2).max(MIN_RING);
        let old = std::mem::replace(&mut self.ring, (0..len).map(|_| None).collect());
        let others = std::mem::take(&mut self.others);
        self.in_ring = 0;
        for (token, value) in old.into_iter().flatten().chain(others) {
            let i = self.place(token);
            if self.ring[i].is_none() {
                self.ring[i] = Some((token, value));
                self.in_ring += 1;
            } else {
                self.others.insert(token, value);
            }
        }
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.in_ring + self.others.len()
    }
}

/// Tokens are the host's counters, mostly: a multiplicative hash spreads them well enough, and
/// needs no random seed (std's default hasher asks the host for one).
#[derive(Default)]
pub(super) struct TokenHasher(u64);

impl Hasher for TokenHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u32(&mut self, token: u32) {
        self.0 = u64::from(token).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

#[cfg(test)]
mod tests {
    use super::Table;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u32),
        Remove(u32),
        Get(u32),
    }

    fn op() -> impl Strategy<Value = Op> {
        // Tokens near each other (as a host's counter gives), and now and then far apart, so
        // that places collide and the ring grows.
        let token =
            prop_oneof![4 => 0u32..300, 1 => any::<u32>(), 1 => (0u32..8).prop_map(|k| k << 14)];
        prop_oneof![
            3 => token.clone().prop_map(Op::Insert),
            2 => token.clone().prop_map(Op::Remove),
            2 => token.prop_map(Op::Get),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// The table behaves as a map. Not under Miri: the table has no unsafe code, and
        /// proptest's machinery takes minutes there.
        #[test]
        #[cfg_attr(miri, ignore)]
        fn the_table_is_a_map(ops in proptest::collection::vec(op(), 0..600)) {
            let mut table = Table::new();
            let mut model = HashMap::new();
            for (n, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Insert(t) => {
                        if let std::collections::hash_map::Entry::Vacant(e) = model.entry(t) {
                            e.insert(n);
                            assert_eq!(*table.insert(t, n), n);
                        }
                    }
                    Op::Remove(t) => prop_assert_eq!(table.remove(t), model.remove(&t)),
                    Op::Get(t) => prop_assert_eq!(table.get_mut(t).copied(), model.get(&t).copied()),
                }
                prop_assert_eq!(table.len(), model.len());
            }
            for (t, n) in model {
                prop_assert_eq!(table.remove(t), Some(n));
            }
            prop_assert_eq!(table.len(), 0);
        }
    }
}
