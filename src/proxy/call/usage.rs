//! The provider's usage in the gateway's names, read from an answer or a stream's events.
//! A part is inside its whole: `input_tokens` counts every input token the provider billed,
//! cached, cache-written and audio ones included (`cached_input_tokens`, `cache_write_tokens`,
//! `audio_input_tokens` say how many of them were), and `output_tokens` includes
//! `reasoning_tokens` and `audio_output_tokens`. Audio has two counts of its own:
//! `audio_seconds` (a transcription's input, whole seconds rounded up) and `input_characters`
//! (a speech call's text). A count the provider sent as 0 is 0; one it did not send is None.
//! Where each format reports them is its own (`wire/`).

use serde_json::{Map, Value};

use super::Operation;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cached_input_tokens: Option<u64>,
    pub cache_write_tokens: Option<u64>,
    pub reasoning_tokens: Option<u64>,
    pub images: Option<u64>,
    pub audio_seconds: Option<u64>,
    pub input_characters: Option<u64>,
    pub audio_input_tokens: Option<u64>,
    pub audio_output_tokens: Option<u64>,
    /// A generated video's length, whole seconds.
    pub video_seconds: Option<u64>,
    /// The provider's own cost of the call in nano-dollars (OpenRouter's `usage.cost`), which
    /// a group priced by the provider commits at (metadata `cost`, in dollars).
    pub cost_nano: Option<u64>,
}

/// The metadata names of the counts, in `Usage`'s order.
pub(crate) const NAMES: [&str; COUNTS] = [
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "images",
    "audio_seconds",
    "input_characters",
    "audio_input_tokens",
    "audio_output_tokens",
    "video_seconds",
];

/// How many counts a usage has.
const COUNTS: usize = 11;

/// Which of the counts (by their place in `NAMES`) an operation's bill has: text calls the
/// tokens and images, a transcription its seconds and tokens, speech its characters and
/// tokens, a video its seconds.
fn billed(operation: Operation) -> [bool; COUNTS] {
    match operation {
        Operation::Transcriptions | Operation::Translations => {
            [true, true, false, false, false, false, true, false, true, false, false]
        }
        Operation::Speech => [true, true, false, false, false, false, false, true, false, true, false],
        // A realtime response: its tokens in and out with their parts (cached, cache-write and
        // reasoning, each 0 where unreported, so no hold's worst case stays in a commit), and
        // audio's within them.
        Operation::RealtimeResponse => [true, true, true, true, true, false, false, false, true, true, false],
        // A session itself is billed nothing: it is counted (`quantity`) while open.
        Operation::Realtime | Operation::RealtimeMinute => [false; COUNTS],
        Operation::Videos => [
            false, false, false, false, false, false, false, false, false, false, true,
        ],
        _ => [true, true, true, true, true, true, false, false, false, false, false],
    }
}

impl Usage {
    fn counts(&self) -> [Option<u64>; COUNTS] {
        [
            self.input_tokens,
            self.output_tokens,
            self.cached_input_tokens,
            self.cache_write_tokens,
            self.reasoning_tokens,
            self.images,
            self.audio_seconds,
            self.input_characters,
            self.audio_input_tokens,
            self.audio_output_tokens,
            self.video_seconds,
        ]
    }

    fn from_counts(c: [Option<u64>; COUNTS], cost_nano: Option<u64>) -> Usage {
        Usage {
            input_tokens: c[0],
            output_tokens: c[1],
            cached_input_tokens: c[2],
            cache_write_tokens: c[3],
            reasoning_tokens: c[4],
            images: c[5],
            audio_seconds: c[6],
            input_characters: c[7],
            audio_input_tokens: c[8],
            audio_output_tokens: c[9],
            video_seconds: c[10],
            cost_nano,
        }
    }

    /// Whether the provider reported the counts that make its bill (tokens, images, or a
    /// transcription's seconds).
    pub(crate) fn reported(&self) -> bool {
        (self.input_tokens.is_some() && self.output_tokens.is_some())
            || self.images.is_some()
            || self.audio_seconds.is_some()
            || self.video_seconds.is_some()
    }

    /// Every count, each one missing taken from `hold`.
    pub(crate) fn or(&self, hold: &Usage) -> Usage {
        let (mine, held) = (self.counts(), hold.counts());
        // A cost is the provider's or none: a hold has no cost to fall back on.
        Usage::from_counts(std::array::from_fn(|i| mine[i].or(held[i])), self.cost_nano)
    }

    /// Where a report leaves a count of the operation's bill out that the call cannot have
    /// (an answer without images, a chat without a cache), 0; counts of other operations
    /// stay absent.
    pub(crate) fn zeros(&self, operation: Operation) -> Usage {
        let (mine, billed) = (self.counts(), billed(operation));
        Usage::from_counts(
            std::array::from_fn(|i| match billed[i] {
                true => Some(mine[i].unwrap_or(0)),
                false => mine[i],
            }),
            self.cost_nano,
        )
    }

    /// The worst case of an operation's counts as a hold writes them: each part at its whole
    /// (no weight of a plan can make the hold short), and every count of its bill present.
    pub(crate) fn held(mut self, operation: Operation) -> Usage {
        if billed(operation)[2] {
            self.cached_input_tokens = self.input_tokens;
            self.cache_write_tokens = self.input_tokens;
            self.reasoning_tokens = self.output_tokens;
        }
        self.zeros(operation)
    }

    /// The call's quantity: images for an image call, seconds for a transcription or a video,
    /// characters for speech, one for a realtime session, tokens in and out for any other.
    pub(crate) fn quantity(&self, operation: Operation) -> u64 {
        match operation {
            Operation::Images => self.images.unwrap_or(0),
            Operation::Transcriptions | Operation::Translations => self.audio_seconds.unwrap_or(0),
            Operation::Speech => self.input_characters.unwrap_or(0),
            Operation::Videos => self.video_seconds.unwrap_or(0),
            // A session: one open.
            Operation::Realtime => 1,
            _ => self
                .input_tokens
                .unwrap_or(0)
                .saturating_add(self.output_tokens.unwrap_or(0)),
        }
    }

    /// Writes every known count into `metadata`.
    pub(crate) fn write(&self, metadata: &mut Map<String, Value>) {
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

    /// The counts `metadata` names (as `write` wrote them); a cost is not read back.
    pub(crate) fn read(metadata: &Map<String, Value>) -> Usage {
        Usage::from_counts(
            std::array::from_fn(|i| metadata.get(NAMES[i]).and_then(Value::as_u64)),
            None,
        )
    }

    /// Two usages summed count by count: a count either has is present.
    pub(crate) fn plus(&self, other: &Usage) -> Usage {
        let (mine, theirs) = (self.counts(), other.counts());
        let cost = match (self.cost_nano, other.cost_nano) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
        };
        Usage::from_counts(
            std::array::from_fn(|i| match (mine[i], theirs[i]) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
            }),
            cost,
        )
    }

    /// Takes every count `other` has (a later, cumulative report wins).
    pub(crate) fn update(&mut self, other: Usage) {
        let (mine, theirs) = (self.counts(), other.counts());
        *self = Usage::from_counts(
            std::array::from_fn(|i| theirs[i].or(mine[i])),
            other.cost_nano.or(self.cost_nano),
        );
    }
}

/// What a commit counts, and whether it is `estimated`: the provider's report, with what the
/// gateway measured of the call where the report is silent (a speech call's characters, the
/// seconds an audio's header states), the other counts of the bill 0; or, when the provider
/// reported no bill (or a transcription's seconds are neither reported nor read), every count
/// it left out at the hold.
pub(crate) fn settled(operation: Operation, reported: Usage, measured: &Usage, worst: &Usage) -> (Usage, bool) {
    let counts = reported.or(measured);
    let transcription = matches!(operation, Operation::Transcriptions | Operation::Translations);
    let estimated = !reported.reported() || (transcription && counts.audio_seconds.is_none());
    match estimated {
        true => (counts.or(worst), true),
        false => (counts.zeros(operation), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_operation_zeroes_only_the_counts_of_its_own_bill() {
        let whisper = Usage {
            audio_seconds: Some(9),
            ..Usage::default()
        };
        let settled = whisper.zeros(Operation::Transcriptions);
        assert_eq!(
            (settled.audio_seconds, settled.input_tokens, settled.images),
            (Some(9), Some(0), None)
        );
        assert_eq!(settled.quantity(Operation::Transcriptions), 9);
        let chat = Usage::default().zeros(Operation::Chat);
        assert_eq!((chat.images, chat.audio_seconds), (Some(0), None));
        let speech = Usage {
            input_characters: Some(40),
            output_tokens: Some(300),
            ..Usage::default()
        }
        .held(Operation::Speech);
        assert_eq!(
            (speech.cached_input_tokens, speech.audio_output_tokens),
            (None, Some(0))
        );
        assert_eq!(speech.quantity(Operation::Speech), 40);
    }

    #[test]
    fn a_transcription_settles_its_reported_seconds_or_tokens_else_its_hold_estimated() {
        let worst = Usage {
            audio_seconds: Some(60),
            input_tokens: Some(600),
            audio_input_tokens: Some(600),
            output_tokens: Some(2000),
            ..Usage::default()
        }
        .held(Operation::Transcriptions);
        let read = Usage {
            audio_seconds: Some(58),
            ..Usage::default()
        };
        let tokens = Usage {
            input_tokens: Some(500),
            audio_input_tokens: Some(490),
            output_tokens: Some(80),
            ..Usage::default()
        };
        let (counts, estimated) = settled(Operation::Transcriptions, tokens, &read, &worst);
        assert!(!estimated);
        assert_eq!((counts.audio_seconds, counts.output_tokens), (Some(58), Some(80)));
        // Tokens, but no seconds reported nor read: the hold's seconds, estimated.
        let (counts, estimated) = settled(Operation::Transcriptions, tokens, &Usage::default(), &worst);
        assert!(estimated);
        assert_eq!((counts.audio_seconds, counts.input_tokens), (Some(60), Some(500)));
        // A text answer without usage: the hold, estimated, its seconds those read.
        let (counts, estimated) = settled(Operation::Transcriptions, Usage::default(), &read, &worst);
        assert!(estimated);
        assert_eq!((counts.audio_seconds, counts.output_tokens), (Some(58), Some(2000)));
    }
}
