//! A project's own prices, set and removed by its operators: each change bumps the config epoch
//! (every node then reads the project's prices again) and is recorded in the audit log. Reading
//! prices is the node's (`gateway/prices.rs`).

use serde_json::json;

use super::Accounts;
use crate::gateway::audit::{Action, Actor, Change};
use crate::gateway::GatewayError;
use crate::quota::price::{PriceDoc, ProjectPrice, MAX_PROJECT_PRICES};

impl Accounts<'_> {
    /// Sets the project's price of `model` (already checked); None when the project has as
    /// many prices as it may and this is a new one.
    pub(crate) async fn put_price(
        &self,
        project: &str,
        model: &str,
        price: &PriceDoc,
        by: &Actor,
    ) -> Result<Option<ProjectPrice>, GatewayError> {
        let known = self
            .data
            .node
            .project_prices(project)
            .await?
            .by_model
            .contains_key(model);
        if !known && self.store.count_prices(project).await? >= MAX_PROJECT_PRICES {
            return Ok(None);
        }
        let at_ms = self.data.node.now_ms();
        self.store.put_price(project, model, price, at_ms).await?;
        self.data.node.bump_epoch().await?;
        let change = Change {
            action: Action::PricePut,
            target: model,
            user: None,
            detail: serde_json::to_value(price).unwrap_or_else(|_| json!({})),
        };
        self.data.node.record(project, by, change).await;
        Ok(Some(ProjectPrice {
            price: price.clone(),
            updated_at_ms: at_ms,
        }))
    }

    /// Removes the project's price of `model`: the catalog prices it again. False when the
    /// project had none.
    pub(crate) async fn delete_price(&self, project: &str, model: &str, by: &Actor) -> Result<bool, GatewayError> {
        let removed = self.store.delete_price(project, model).await?;
        if removed {
            self.data.node.bump_epoch().await?;
            let change = Change {
                action: Action::PriceDelete,
                target: model,
                user: None,
                detail: json!({}),
            };
            self.data.node.record(project, by, change).await;
        }
        Ok(removed)
    }
}
