//! The provider's usage in the gateway's names, read from an answer or a stream's events.
//! A part is inside its whole: `input_tokens` counts every input token the provider billed,
//! cached and cache-written ones included (`cached_input_tokens`, `cache_write_tokens` say how
//! many of them were), and `output_tokens` includes `reasoning_tokens`. A count the provider
//! sent as 0 is 0; one it did not send is None. Where each format reports them is its own
//! (`wire/`).

use serde_json::{Map, Value};

use super::call::Operation;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cached_input_tokens: Option<u64>,
    pub cache_write_tokens: Option<u64>,
    pub reasoning_tokens: Option<u64>,
    pub images: Option<u64>,
    /// The provider's own cost of the call in nano-dollars (OpenRouter's `usage.cost`), which
    /// a group priced by the provider commits at (metadata `cost`, in dollars).
    pub cost_nano: Option<u64>,
}

/// The metadata names of the counts, in `Usage`'s order.
pub const NAMES: [&str; 6] = [
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "images",
];

impl Usage {
    fn counts(&self) -> [Option<u64>; 6] {
        [
            self.input_tokens,
            self.output_tokens,
            self.cached_input_tokens,
            self.cache_write_tokens,
            self.reasoning_tokens,
            self.images,
        ]
    }

    /// Whether the provider reported the counts that make its bill (tokens, or images).
    pub fn reported(&self) -> bool {
        (self.input_tokens.is_some() && self.output_tokens.is_some()) || self.images.is_some()
    }

    /// Every count, each one missing taken from `hold`.
    pub fn or(&self, hold: &Usage) -> Usage {
        Usage {
            input_tokens: self.input_tokens.or(hold.input_tokens),
            output_tokens: self.output_tokens.or(hold.output_tokens),
            cached_input_tokens: self.cached_input_tokens.or(hold.cached_input_tokens),
            cache_write_tokens: self.cache_write_tokens.or(hold.cache_write_tokens),
            reasoning_tokens: self.reasoning_tokens.or(hold.reasoning_tokens),
            images: self.images.or(hold.images),
            // A cost is the provider's or none: a hold has no cost to fall back on.
            cost_nano: self.cost_nano,
        }
    }

    /// Where a report leaves a count out that the call cannot have (an answer without images,
    /// a chat without a cache), 0.
    pub fn zeros(&self) -> Usage {
        let z = |v: Option<u64>| Some(v.unwrap_or(0));
        Usage {
            input_tokens: z(self.input_tokens),
            output_tokens: z(self.output_tokens),
            cached_input_tokens: z(self.cached_input_tokens),
            cache_write_tokens: z(self.cache_write_tokens),
            reasoning_tokens: z(self.reasoning_tokens),
            images: z(self.images),
            cost_nano: self.cost_nano,
        }
    }

    /// The call's quantity: images for an image call, tokens in and out for any other.
    pub fn quantity(&self, operation: Operation) -> u64 {
        match operation {
            Operation::Images => self.images.unwrap_or(0),
            _ => self
                .input_tokens
                .unwrap_or(0)
                .saturating_add(self.output_tokens.unwrap_or(0)),
        }
    }

    /// Writes every known count into `metadata`.
    pub fn write(&self, metadata: &mut Map<String, Value>) {
        for (name, count) in NAMES.iter().zip(self.counts()) {
            if let Some(count) = count {
                metadata.insert((*name).to_string(), Value::from(count));
            }
        }
        if let Some(nano) = self.cost_nano {
            // Dollars with their nine decimals, exactly (serde_json keeps a number's text).
            let text = format!("{}.{:09}", nano / 1_000_000_000, nano % 1_000_000_000);
            if let Ok(cost) = serde_json::from_str::<Value>(&text) {
                metadata.insert("cost".into(), cost);
            }
        }
    }

    /// Takes every count `other` has (a later, cumulative report wins).
    pub fn update(&mut self, other: Usage) {
        let take = |mine: &mut Option<u64>, theirs: Option<u64>| {
            if theirs.is_some() {
                *mine = theirs;
            }
        };
        take(&mut self.input_tokens, other.input_tokens);
        take(&mut self.output_tokens, other.output_tokens);
        take(&mut self.cached_input_tokens, other.cached_input_tokens);
        take(&mut self.cache_write_tokens, other.cache_write_tokens);
        take(&mut self.reasoning_tokens, other.reasoning_tokens);
        take(&mut self.images, other.images);
        take(&mut self.cost_nano, other.cost_nano);
    }
}
