//! A small map whose entries are trusted for a while, for reads that hot paths repeat (tokens,
//! workspaces) and that may change elsewhere in a cluster: a change made on another node is seen
//! within the time to live. The caller passes the time, so tests move it by hand.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;

use crate::clock::UnixMillis;

#[derive(Debug)]
pub struct TtlCache<K, V> {
    ttl_ms: i64,
    capacity: usize,
    entries: RwLock<HashMap<K, (UnixMillis, V)>>,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    /// At most `capacity` entries: when full, everything is dropped and the cache fills again.
    pub fn new(ttl_ms: i64, capacity: usize) -> Self {
        Self { ttl_ms, capacity, entries: RwLock::default() }
    }

    pub fn get(&self, key: &K, now: UnixMillis) -> Option<V> {
        let entries = self.entries.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.get(key).filter(|(stored_at, _)| now - stored_at < self.ttl_ms).map(|(_, value)| value.clone())
    }

    pub fn insert(&self, key: K, value: V, now: UnixMillis) {
        let mut entries = self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(key, (now, value));
    }

    /// The cached value, or what `load` finds (kept when it finds something).
    pub async fn get_or_load<E, Load>(&self, key: K, now: UnixMillis, load: Load) -> Result<Option<V>, E>
    where
        Load: Future<Output = Result<Option<V>, E>>,
    {
        if let Some(value) = self.get(&key, now) {
            return Ok(Some(value));
        }
        let loaded = load.await?;
        if let Some(value) = &loaded {
            self.insert(key, value.clone(), now);
        }
        Ok(loaded)
    }

    pub fn forget(&self, key: &K) {
        self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(key);
    }

    /// Drops every entry: another node announced a change.
    pub fn clear(&self) {
        self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_live_for_their_ttl_and_capacity_is_bounded() {
        let cache = TtlCache::new(1000, 2);
        cache.insert("a", 1, 0);
        assert_eq!(cache.get(&"a", 999), Some(1));
        assert_eq!(cache.get(&"a", 1000), None);
        cache.insert("b", 2, 0);
        cache.insert("c", 3, 0);
        assert_eq!((cache.get(&"a", 1), cache.get(&"c", 1)), (None, Some(3)), "full: started over");
        cache.forget(&"c");
        cache.insert("d", 4, 0);
        cache.clear();
        assert_eq!(cache.get(&"d", 1), None);
        assert_eq!(cache.get(&"c", 1), None);
    }
}
