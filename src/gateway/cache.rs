//! What a node keeps of Redis state: plans, project settings and keys until the config epoch
//! moves, and subscriptions until a script answers "stale". A cached subscription can make a
//! call slower, never wrong: every script checks the version it was decided with.
//! Only the maps; when to trust them is `epoch.rs`'s and `resolve.rs`'s business.

use std::hash::Hash;
use std::sync::{Arc, Mutex, RwLock};

use crate::quota::price::ProjectPrices;
use crate::quota::{KeyRecord, ProjectSettings};
use crate::quota::{Plan, Subscription};

/// The maps hash with foldhash, seeded at random per map as std's are, rather than SipHash:
/// every call looks up four to seven of them, and SipHash took over 1 % of a reserve. Their
/// keys are ids a caller names, so the seed stays random (no fixed-key hasher).
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A map that grows past this is emptied rather than evicting one by one: simple and bounded.
const MAX_ENTRIES: usize = 100_000;

/// Values by project, then by an id within it (a user, a plan): looked up with two `&str`,
/// so the data plane's lookups allocate nothing. Bounded like the other maps, by its total.
struct ByProject<V> {
    map: HashMap<String, HashMap<String, V>>,
    len: usize,
}

impl<V> Default for ByProject<V> {
    fn default() -> Self {
        ByProject {
            map: HashMap::default(),
            len: 0,
        }
    }
}

impl<V: Clone> ByProject<V> {
    fn get(lock: &RwLock<ByProject<V>>, project: &str, id: &str) -> Option<V> {
        lock.read().ok()?.map.get(project)?.get(id).cloned()
    }

    fn put(lock: &RwLock<ByProject<V>>, project: &str, id: &str, value: V) {
        if let Ok(mut this) = lock.write() {
            if this.len >= MAX_ENTRIES {
                this.map.clear();
                this.len = 0;
            }
            let ids = match this.map.get_mut(project) {
                Some(ids) => ids,
                None => this.map.entry(project.to_string()).or_default(),
            };
            if ids.insert(id.to_string(), value).is_none() {
                this.len += 1;
            }
        }
    }

    fn remove(lock: &RwLock<ByProject<V>>, project: &str, id: &str) {
        if let Ok(mut this) = lock.write() {
            if this.map.get_mut(project).and_then(|ids| ids.remove(id)).is_some() {
                this.len -= 1;
            }
        }
    }

    fn clear(lock: &RwLock<ByProject<V>>) {
        if let Ok(mut this) = lock.write() {
            this.map.clear();
            this.len = 0;
        }
    }
}

/// The config epoch as this node last read it, and since when it has failed to read it.
#[derive(Default)]
struct EpochSeen {
    epoch: Option<i64>,
    unread_since: Option<std::time::Instant>,
}

#[derive(Default)]
pub(crate) struct Cache {
    epoch: Mutex<EpochSeen>,
    plans: RwLock<ByProject<Arc<Plan>>>,
    settings: RwLock<HashMap<String, Option<ProjectSettings>>>,
    keys: RwLock<HashMap<String, Arc<KeyRecord>>>,
    users: RwLock<ByProject<Arc<Subscription>>>,
    /// Users this node has put in their project's users index, with the last UTC day it put
    /// them in the ledger index for (every day since it did so is covered up to that one).
    indexed: RwLock<ByProject<i64>>,
    /// Whether a project has an enabled webhook endpoint.
    alerting: RwLock<HashMap<String, bool>>,
    /// A project's own prices of models.
    prices: RwLock<HashMap<String, Arc<ProjectPrices>>>,
}

/// A value of a map keyed by a string (a project id, a key digest), looked up without
/// allocating a key.
fn get_by_project<V, T>(map: &RwLock<HashMap<String, V>>, project: &str, read: impl FnOnce(&V) -> T) -> Option<T> {
    map.read().ok()?.get(project).map(read)
}

fn put<K: Eq + Hash, V>(map: &RwLock<HashMap<K, V>>, key: K, value: V) {
    if let Ok(mut map) = map.write() {
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(key, value);
    }
}

fn clear<K, V>(map: &RwLock<HashMap<K, V>>) {
    if let Ok(mut map) = map.write() {
        map.clear();
    }
}

impl Cache {
    pub(crate) fn plan(&self, project: &str, id: &str) -> Option<Arc<Plan>> {
        ByProject::get(&self.plans, project, id)
    }

    pub(crate) fn put_plan(&self, project: &str, plan: Arc<Plan>) {
        ByProject::put(&self.plans, project, &plan.id.clone(), plan);
    }

    pub(crate) fn settings(&self, project: &str) -> Option<Option<ProjectSettings>> {
        get_by_project(&self.settings, project, Clone::clone)
    }

    /// Whether the project keeps a ledger (unknown projects do), without copying its settings;
    /// None when the settings are not cached.
    pub(crate) fn keeps_ledger(&self, project: &str) -> Option<bool> {
        get_by_project(&self.settings, project, |s| s.as_ref().is_none_or(|s| s.ledger))
    }

    pub(crate) fn put_settings(&self, project: &str, settings: Option<ProjectSettings>) {
        put(&self.settings, project.to_string(), settings);
    }

    pub(crate) fn key(&self, digest_hex: &str) -> Option<Arc<KeyRecord>> {
        get_by_project(&self.keys, digest_hex, Arc::clone)
    }

    pub(crate) fn put_key(&self, digest_hex: &str, record: Arc<KeyRecord>) {
        put(&self.keys, digest_hex.to_string(), record);
    }

    /// (Shared, not copied: a decision reads its subscription on every call.)
    pub(crate) fn user(&self, project: &str, user: &str) -> Option<Arc<Subscription>> {
        ByProject::get(&self.users, project, user)
    }

    pub(crate) fn put_user(&self, project: &str, user: &str, state: Arc<Subscription>) {
        ByProject::put(&self.users, project, user, state);
    }

    pub(crate) fn forget_user(&self, project: &str, user: &str) {
        ByProject::remove(&self.users, project, user);
    }

    pub(crate) fn alerting(&self, project: &str) -> Option<bool> {
        get_by_project(&self.alerting, project, |on| *on)
    }

    pub(crate) fn put_alerting(&self, project: &str, on: bool) {
        put(&self.alerting, project.to_string(), on);
    }

    pub(crate) fn prices(&self, project: &str) -> Option<Arc<ProjectPrices>> {
        get_by_project(&self.prices, project, Arc::clone)
    }

    pub(crate) fn put_prices(&self, project: &str, prices: Arc<ProjectPrices>) {
        put(&self.prices, project.to_string(), prices);
    }

    /// The last day this node put `user` in the ledger index for, if any.
    pub(crate) fn indexed_until(&self, project: &str, user: &str) -> Option<i64> {
        ByProject::get(&self.indexed, project, user)
    }

    pub(crate) fn put_indexed(&self, project: &str, user: &str, day: i64) {
        ByProject::put(&self.indexed, project, user, day);
    }

    /// Drops everything the config epoch covers (and which users are indexed, so a node
    /// checks again now and then: cheap, and it heals an index that was lost).
    pub(crate) fn clear_config(&self) {
        ByProject::clear(&self.plans);
        clear(&self.settings);
        clear(&self.keys);
        ByProject::clear(&self.indexed);
        clear(&self.alerting);
        clear(&self.prices);
    }

    /// Records the epoch seen; true when it moved (or was never seen, or could not be read
    /// since it last was).
    pub(crate) fn epoch_moved(&self, epoch: i64) -> bool {
        match self.epoch.lock() {
            Ok(mut seen) => {
                seen.unread_since = None;
                seen.epoch.replace(epoch) != Some(epoch)
            }
            Err(_) => true,
        }
    }

    /// Records a failed read of the epoch: the next read that succeeds counts as a move, as
    /// a change may have been made meanwhile. Answers how long the epoch has gone unread.
    pub(crate) fn epoch_unread(&self) -> std::time::Duration {
        match self.epoch.lock() {
            Ok(mut seen) => {
                seen.epoch = None;
                seen.unread_since.get_or_insert_with(std::time::Instant::now).elapsed()
            }
            Err(_) => std::time::Duration::MAX,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cache;

    /// An epoch read after failed reads counts as a move even when it is the same number (a
    /// change may have been made meanwhile); the time unread runs from the first failure.
    #[test]
    fn the_first_read_after_failures_is_a_move() {
        let cache = Cache::default();
        assert!(cache.epoch_moved(3));
        assert!(!cache.epoch_moved(3));
        let first = cache.epoch_unread();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(cache.epoch_unread() > first);
        assert!(cache.epoch_moved(3));
        assert!(!cache.epoch_moved(3));
        assert!(cache.epoch_unread() < std::time::Duration::from_millis(5));
    }
}
