//! What a node keeps of Redis state: plans, project settings and keys until the config epoch
//! moves, and subscriptions until a script answers "stale". A cached subscription can make a
//! call slower, never wrong: every script checks the version it was decided with.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use redis::AsyncCommands;

use super::api_keys::KeyRecord;
use super::projects::ProjectSettings;
use super::{QuotaStore, StoreError};
use crate::quota::{Plan, Subscription};

/// How often a node looks at the config epoch; settings reach every node within this plus a round trip.
pub const EPOCH_POLL: Duration = Duration::from_millis(250);
/// How often the node's clock is measured against Redis `TIME` again.
const CLOCK_SYNC_EVERY: u32 = 20;
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
}

fn get<K: Eq + Hash, V: Clone>(map: &RwLock<HashMap<K, V>>, key: &K) -> Option<V> {
    map.read().ok()?.get(key).cloned()
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
        get(&self.settings, &project.to_string())
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

    /// Drops everything the config epoch covers.
    pub fn clear_config(&self) {
        clear(&self.plans);
        clear(&self.settings);
        clear(&self.keys);
    }

    /// Records the epoch seen; true when it moved (or was never seen).
    fn epoch_moved(&self, epoch: i64) -> bool {
        match self.epoch.lock() {
            Ok(mut seen) => seen.replace(epoch) != Some(epoch),
            Err(_) => true,
        }
    }
}

impl QuotaStore {
    /// Tells every node that plans, settings or keys changed, and forgets them here at once.
    pub(super) async fn bump_epoch(&self) -> Result<(), StoreError> {
        self.cache.clear_config();
        let key = self.keys.epoch();
        self.run(|mut conn| async move { Ok(conn.incr(&key, 1).await?) }).await
    }

    /// Clears cached config when the epoch moved; a node that cannot read it clears too,
    /// so it never serves config older than Redis once Redis is back.
    pub async fn poll_epoch(&self) {
        let key = self.keys.epoch();
        let epoch: Result<Option<i64>, StoreError> =
            self.run(|mut conn| async move { Ok(conn.get(&key).await?) }).await;
        match epoch {
            Ok(epoch) if !self.cache.epoch_moved(epoch.unwrap_or(0)) => {}
            _ => self.cache.clear_config(),
        }
    }

    /// Polls the epoch and keeps the clock in step with Redis, until the process ends.
    pub async fn refresh_forever(self) {
        let mut ticks: u32 = 0;
        loop {
            tokio::time::sleep(EPOCH_POLL).await;
            self.poll_epoch().await;
            ticks = ticks.wrapping_add(1);
            if ticks.is_multiple_of(CLOCK_SYNC_EVERY) {
                if let Err(err) = self.sync_clock().await {
                    tracing::debug!(%err, "clock sync skipped");
                }
            }
        }
    }
}
