//! Prices: the model catalog the node loaded, each project's own prices (cached until the
//! config epoch moves), and the price an event's model has in its project: the project's
//! own, else the catalog's.

use std::collections::HashMap;
use std::sync::Arc;

use super::{GatewayError, Node};
use crate::quota::catalog::Catalog;
use crate::quota::price::{EventPrice, FoundPrice, PriceBook, PriceOrigin, ProjectPrices};
use crate::quota::{EventInput, Plan};

impl Node {
    /// The catalog this node prices by.
    pub(crate) fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// A project's own prices, from the node's cache while the config epoch stands.
    pub(crate) async fn project_prices(&self, project: &str) -> Result<Arc<ProjectPrices>, GatewayError> {
        if let Some(prices) = self.cache.prices(project) {
            return Ok(prices);
        }
        let stored = self.store.load_prices(project).await?;
        let mut by_model = HashMap::with_capacity(stored.len());
        for (model, price) in stored {
            // Written only after the API checked them: one that no longer parses is skipped,
            // so the catalog (or a denial) prices the model, never a price of 0.
            match price.price.to_price("") {
                Ok(parsed) => {
                    by_model.insert(model, (parsed, price));
                }
                Err(err) => tracing::warn!(%err, project, model, "a stored price does not parse; ignored"),
            }
        }
        let prices = Arc::new(ProjectPrices { by_model });
        self.cache.put_prices(project, prices.clone());
        Ok(prices)
    }

    /// The price `model` has in `project`: the project's own, else the catalog's.
    pub(crate) async fn model_price(&self, project: &str, model: &str) -> Result<EventPrice, GatewayError> {
        let own = self.project_prices(project).await?;
        let listed = self.catalog.find(model);
        let found = match (own.by_model.get(model), &listed) {
            (Some((price, _)), _) => Some(FoundPrice {
                price: price.clone(),
                origin: PriceOrigin::Override,
            }),
            (None, Some(listed)) => Some(FoundPrice {
                price: listed.price.clone(),
                origin: PriceOrigin::Catalog(self.catalog.version().to_string()),
            }),
            (None, None) => None,
        };
        Ok(EventPrice {
            model: model.to_string(),
            found,
            max_output_tokens: listed.map(|l| l.entry.max_output_tokens),
        })
    }

    /// Every price the project's calls may find (each catalog name, then the project's own),
    /// for a replay.
    pub(crate) async fn price_book(&self, project: &str) -> Result<PriceBook, GatewayError> {
        let names: Vec<String> = self
            .catalog
            .doc
            .models
            .iter()
            .flat_map(|m| std::iter::once(m.model.clone()).chain(m.aliases.iter().cloned()))
            .chain(self.project_prices(project).await?.by_model.keys().cloned())
            .collect();
        let mut book = PriceBook::default();
        for name in names {
            let price = self.model_price(project, &name).await?;
            book.by_model.insert(name, price);
        }
        Ok(book)
    }

    /// The price of an event's model under `plan`: looked up only when the plan prices and
    /// the event names a model (a priced group then says what is missing); an event of the
    /// provider's batch API (metadata `batch: true`) at the model's batch prices.
    pub(super) async fn event_price(
        &self,
        project: &str,
        plan: &Plan,
        input: &EventInput,
    ) -> Result<Option<EventPrice>, GatewayError> {
        if !plan.prices() {
            return Ok(None);
        }
        let Some(model) = input.metadata.get("model").and_then(|m| m.as_str()) else {
            return Ok(None);
        };
        let mut price = self.model_price(project, model).await?;
        // A call made through the provider's batch API is priced at its batch prices.
        if input.metadata.get("batch") == Some(&serde_json::Value::Bool(true)) {
            if let Some(found) = price.found.as_mut() {
                found.price = found.price.for_batch();
            }
        }
        Ok(Some(price))
    }
}
