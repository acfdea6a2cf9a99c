//! What a node keeps of Redis state: plans, project settings and keys until the config epoch
//! moves, and subscriptions until a script answers "stale". A cached subscription can make a
//! call slower, never wrong: every script checks the version it was decided with.
//! Only the maps; when to trust them is `config.rs`'s and `resolve.rs`'s business.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, RwLock};

use crate::quota::{Plan, Subscription};
use crate::store::{KeyRecord, ProjectSettings};
/// A map that grows past this is emptied rather than evicting one by one: simple and bounded.
const MAX_ENTRIES: usize = 100_000;

type ProjectUser = (String, String);

#[derive(Default)]
pub struct Cache {
    epoch: Mutex<Option<i64>>,
    plans: RwLock<HashMap<ProjectUser, Arc<Plan>>>,
    settings: RwLock<HashMap<String, Option<ProjectSettings>>>,
    keys: RwLock<HashMap<String, KeyRecord>>,
    users: RwLock<HashMap<ProjectUser, Subscription>>,
    /// Users this node has seen in their project's users index.
    indexed: RwLock<HashMap<ProjectUser, ()>>,
    /// Whether a project has an enabled webhook endpoint.
    alerting: RwLock<HashMap<String, bool>>,
}

fn get<K: Eq + Hash, V: Clone>(map: &RwLock<HashMap<K, V>>, key: &K) -> Option<V> {
    map.read().ok()?.get(key).cloned()
}

/// A value of a map keyed by project id, looked up without allocating a key.
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
    pub fn plan(&self, project: &str, id: &str) -> Option<Arc<Plan>> {
        get(&self.plans, &(project.to_string(), id.to_string()))
    }

    pub fn put_plan(&self, project: &str, plan: Arc<Plan>) {
        put(&self.plans, (project.to_string(), plan.id.clone()), plan);
    }

    pub fn settings(&self, project: &str) -> Option<Option<ProjectSettings>> {
        get_by_project(&self.settings, project, Clone::clone)
    }

    /// Whether the project keeps a ledger (unknown projects do), without copying its settings;
    /// None when the settings are not cached.
    pub fn keeps_ledger(&self, project: &str) -> Option<bool> {
        get_by_project(&self.settings, project, |s| s.as_ref().is_none_or(|s| s.ledger))
    }

    pub fn put_settings(&self, project: &str, settings: Option<ProjectSettings>) {
        put(&self.settings, project.to_string(), settings);
    }

    pub fn key(&self, digest_hex: &str) -> Option<KeyRecord> {
        get(&self.keys, &digest_hex.to_string())
    }

    pub fn put_key(&self, digest_hex: &str, record: KeyRecord) {
        put(&self.keys, digest_hex.to_string(), record);
    }

    pub fn user(&self, project: &str, user: &str) -> Option<Subscription> {
        get(&self.users, &(project.to_string(), user.to_string()))
    }

    pub fn put_user(&self, project: &str, user: &str, state: Subscription) {
        put(&self.users, (project.to_string(), user.to_string()), state);
    }

    pub fn forget_user(&self, project: &str, user: &str) {
        if let Ok(mut map) = self.users.write() {
            map.remove(&(project.to_string(), user.to_string()));
        }
    }

    pub fn alerting(&self, project: &str) -> Option<bool> {
        get_by_project(&self.alerting, project, |on| *on)
    }

    pub fn put_alerting(&self, project: &str, on: bool) {
        put(&self.alerting, project.to_string(), on);
    }

    pub fn indexed(&self, project: &str, user: &str) -> bool {
        get(&self.indexed, &(project.to_string(), user.to_string())).is_some()
    }

    pub fn put_indexed(&self, project: &str, user: &str) {
        put(&self.indexed, (project.to_string(), user.to_string()), ());
    }

    /// Drops everything the config epoch covers (and which users are indexed, so a node
    /// checks again now and then: cheap, and it heals an index that was lost).
    pub fn clear_config(&self) {
        clear(&self.plans);
        clear(&self.settings);
        clear(&self.keys);
        clear(&self.indexed);
        clear(&self.alerting);
    }

    /// Records the epoch seen; true when it moved (or was never seen).
    pub fn epoch_moved(&self, epoch: i64) -> bool {
        match self.epoch.lock() {
            Ok(mut seen) => seen.replace(epoch) != Some(epoch),
            Err(_) => true,
        }
    }
}
