//! A project's own prices of models, in one hash: model -> `{"price": ..., "updatedAt": ms}`.
//! Nodes cache the whole hash until the config epoch moves.

use std::collections::BTreeMap;

use redis::AsyncCommands;

use super::{corrupt, AccountsStore, Store, StoreError};
use crate::quota::price::{PriceDoc, ProjectPrice};

impl Store {
    /// Every price the project set, by model.
    pub(crate) async fn load_prices(&self, project: &str) -> Result<BTreeMap<String, ProjectPrice>, StoreError> {
        let key = self.keys.prices(project);
        let raw: BTreeMap<String, String> = self
            .run(|mut conn| async move { Ok(conn.hgetall(&key).await?) })
            .await?;
        raw.into_iter()
            .map(|(model, json)| {
                let stored: ProjectPrice = serde_json::from_str(&json).map_err(|e| corrupt("price", e))?;
                Ok((model, stored))
            })
            .collect()
    }
}

impl AccountsStore {
    /// Sets the project's price of `model`; the count of prices it has after.
    pub(crate) async fn put_price(
        &self,
        project: &str,
        model: &str,
        price: &PriceDoc,
        at_ms: i64,
    ) -> Result<usize, StoreError> {
        let stored = ProjectPrice {
            price: price.clone(),
            updated_at_ms: at_ms,
        };
        let json = serde_json::to_string(&stored).map_err(|e| corrupt("price", e))?;
        let (key, model) = (self.keys.prices(project), model.to_string());
        self.run(|mut conn| async move {
            let _: i64 = conn.hset(&key, &model, &json).await?;
            Ok(conn.hlen(&key).await?)
        })
        .await
    }

    /// Removes the project's price of `model`; false when it had none.
    pub(crate) async fn delete_price(&self, project: &str, model: &str) -> Result<bool, StoreError> {
        let (key, model) = (self.keys.prices(project), model.to_string());
        let removed: i64 = self
            .run(|mut conn| async move { Ok(conn.hdel(&key, &model).await?) })
            .await?;
        Ok(removed == 1)
    }

    /// How many prices the project has set.
    pub(crate) async fn count_prices(&self, project: &str) -> Result<usize, StoreError> {
        let key = self.keys.prices(project);
        self.run(|mut conn| async move { Ok(conn.hlen(&key).await?) }).await
    }
}
