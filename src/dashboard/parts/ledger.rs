//! Ledger entries as the dashboard reads and shows them: a ledger read a page at a time up to
//! a bound (a page's cost never grows with the ledger), and the entries' table, shared by a
//! user's recent usage, their whole ledger, a run's steps and a team's spend by member.

use super::numbers::when;
use maud::{html, Markup};
use serde_json::Value;

use super::links::{run_link, user_link};
use super::shown::Shown;
use crate::gateway::{GatewayError, LedgerCursor, UsageEventPage};
use crate::quota::reservation::StepOf;
use crate::quota::{SignedAmount, UsageEvent, UsageKind};

/// Characters of an entry's metadata a table cell shows.
const METADATA_CHARS: usize = 80;

/// Reads a ledger through `read` (from a cursor, at most so many entries), `page` entries at
/// a time, handing each page's entries to `seen`, until it ends or `max` entries were read.
/// True when the bound stopped the reading.
pub(crate) async fn read_bounded(
    max: usize,
    page: usize,
    mut read: impl AsyncFnMut(Option<LedgerCursor>, usize) -> Result<UsageEventPage, GatewayError>,
    mut seen: impl FnMut(Vec<UsageEvent>),
) -> Result<bool, GatewayError> {
    let (mut entries, mut cursor) = (0, None);
    loop {
        let got = read(cursor, page.min(max - entries)).await?;
        let empty = got.data.is_empty();
        entries += got.data.len();
        seen(got.data);
        match got.next {
            // A full page names the next one even when nothing follows: "covers the first
            // `max` entries only" is then still true, and finding out would cost another read.
            Some(_) if entries >= max => return Ok(true),
            // A read of one user's ledger names a next page only after a full one, so this
            // always moves on.
            Some(next) if !empty => cursor = Some(next),
            _ => return Ok(false),
        }
    }
}

/// Ledger entries as a table: what each used (its model), through which key, in a parent's
/// ledger by which member, and for a run's step its run, action and kind. `run` is the run a
/// page shows: its own steps need no link back to it.
pub(crate) fn entries_table(events: &[UsageEvent], run: Option<&str>) -> Markup {
    // Only a parent's ledger names members, and only runs have steps: other pages keep their
    // columns.
    let by_member = events.iter().any(|e| e.member.is_some());
    let steps = events.iter().any(|e| e.step.is_some());
    let columns = 6 + usize::from(by_member) + usize::from(steps);
    html! {
        table {
            thead { tr {
                th { "Time" } th { "Kind" } th { "Event" } th { "Model" } th { "Key" }
                @if by_member { th { "Member" } }
                @if steps { th { "Step" } }
                th { "Groups" }
            } }
            tbody {
                @for e in events {
                    tr {
                        td { (when(e.time_ms)) }
                        td {
                            (e.kind.as_str())
                            // What the output came to, and on a later judgement what it replaced.
                            @if let Some(o) = &e.outcome {
                                br; span.muted { (Shown(o))
                                    @if let Some(p) = &e.previous_outcome { " (was " (Shown(p)) ")" } }
                            }
                        }
                        td { (Shown(e.event.as_deref().unwrap_or(""))) (Shown(e.reason.as_deref().unwrap_or(""))) }
                        td {
                            (Shown(&model(e)))
                            @if let Some(call) = proxied(e) { br; span.muted { (Shown(&call)) } }
                        }
                        td { @if let Some(key) = &e.key_id { code { (Shown(key)) } } }
                        @if by_member { td { @if let Some(member) = &e.member { (user_link(member)) } } }
                        @if steps { td { @if let Some(step) = &e.step { (step_cell(step, run)) } } }
                        td {
                            @for g in &e.groups { code { (Shown(&g.group_id)) } " " (SignedAmount(g.amount_milli)) " " }
                            // Demand that counted nothing: what a denial asked and who denied
                            // it; what a released or expired hold had held.
                            @if !e.denied_by.is_empty() {
                                span.muted { "denied by " } @for g in &e.denied_by { code { (Shown(g)) } " " }
                            }
                            @if let (UsageKind::Release | UsageKind::Expiry, Some(hold)) = (e.kind, &e.hold) {
                                span.muted { "held " } (hold.reserved)
                            }
                            // Credit moves: grants made, burned, voided, expired, and debt.
                            @for m in &e.credits {
                                span.muted { "balance " } code { (Shown(&m.balance)) } " " (m.amount)
                                @match &m.grant_id { Some(g) => { " of " code { (Shown(g)) } } None => { " debt" } }
                                " "
                            }
                        }
                    }
                }
                @if events.is_empty() { tr { td colspan=(columns) .muted { "None." } } }
            }
        }
    }
}

/// A step's action (none for a step that named none) and kind, after its run unless it is
/// the page's.
fn step_cell(step: &StepOf, run: Option<&str>) -> Markup {
    html! {
        @if run != Some(step.run.as_str()) { "run " (run_link(&step.run)) br; }
        @if step.action.is_empty() { span.muted { "no action" } } @else { code { (Shown(&step.action)) } }
        " " span.muted { (step.kind.as_str()) }
    }
}

/// A proxied call's settlement as its entry's metadata says: the upstream and operation, the
/// tokens in and out (images, seconds of audio, characters spoken when any), whether the
/// provider reported them or the hold was charged, the provider's status and the call's
/// duration.
pub(crate) fn proxied(e: &UsageEvent) -> Option<String> {
    let meta = e.metadata.as_ref()?;
    let text = |k: &str| meta.get(k).and_then(Value::as_str);
    let number = |k: &str| meta.get(k).and_then(Value::as_u64);
    let (upstream, operation) = (text("upstream")?, text("operation")?);
    let mut out = format!("{upstream}.{operation}");
    if let (Some(input), Some(output)) = (number("input_tokens"), number("output_tokens")) {
        out.push_str(&format!(" · {input} in, {output} out"));
    }
    if let Some(images) = number("images").filter(|n| *n > 0) {
        out.push_str(&format!(" · {images} images"));
    }
    if let Some(seconds) = number("audio_seconds") {
        out.push_str(&format!(" · {seconds} s of audio"));
    }
    if let Some(characters) = number("input_characters") {
        out.push_str(&format!(" · {characters} characters"));
    }
    if let Some(usage) = text("usage") {
        out.push_str(&format!(" · {usage}"));
    }
    if let Some(status) = number("provider_status") {
        out.push_str(&format!(" · HTTP {status}"));
    }
    if let Some(ms) = number("duration_ms") {
        out.push_str(&format!(" · {ms} ms"));
    }
    Some(out)
}

/// What an entry used: its metadata's `model` when it has one, else the metadata as compact
/// JSON; cut to `METADATA_CHARS`, since metadata is the caller's and can be long.
fn model(e: &UsageEvent) -> String {
    let text = match &e.metadata {
        None => return String::new(),
        Some(meta) if meta.is_empty() => return String::new(),
        Some(meta) => match meta.get("model") {
            Some(Value::String(model)) => model.clone(),
            Some(other) => other.to_string(),
            None => Value::Object(meta.clone()).to_string(),
        },
    };
    match text.char_indices().nth(METADATA_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}
