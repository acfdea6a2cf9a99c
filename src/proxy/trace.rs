//! A proxied call as a span, when the node's traces are on (`metrics::traces`): a child of the
//! request's, named and attributed as OpenTelemetry's GenAI conventions say (`chat gpt-4o`,
//! `gen_ai.provider.name`, `gen_ai.request.model`, and at its end `gen_ai.usage.*` as the
//! provider reported them), with the gateway's own (`quota.decision`, `quota.denied_by`,
//! `quota.reservation_id`, `quota.usage`) and the end user only where the project opts in
//! (`traceUsers`). The call's hold, forward and settlement run in its context, so its script
//! calls are its children and the provider gets its `traceparent`. The span ends with the
//! hold: at its commit or release, which for a stream is after the caller's answer began.

use opentelemetry::trace::{SpanKind, TraceContextExt};
use opentelemetry::{Context, KeyValue};

use super::call::context::Ctx;
use super::call::upstream::Kind;
use super::call::usage::Usage;
use super::call::{Call, Operation};
use crate::gateway::Gateway;
use crate::metrics::traces;
use crate::quota::Decision;

/// Starts the call's span, when traces are on: the context its phases run in.
pub(crate) async fn start(gateway: &Gateway, ctx: &Ctx, call: &Call) -> Option<Context> {
    let tracer = gateway.node().traces()?;
    let operation = operation_name(call.operation);
    let mut attributes = vec![
        KeyValue::new("gen_ai.operation.name", operation),
        KeyValue::new("gen_ai.provider.name", provider_name(ctx.upstream().kind)),
        KeyValue::new("gen_ai.request.model", call.model.clone()),
        KeyValue::new("quota.upstream", ctx.upstream().name.clone()),
    ];
    if let Some(max) = call.worst.output_tokens.filter(|_| call.operation.has_maximum()) {
        attributes.push(KeyValue::new("gen_ai.request.max_tokens", max as i64));
    }
    if ctx.attempt > 1 {
        attributes.push(KeyValue::new("quota.attempt", i64::from(ctx.attempt)));
    }
    let users = gateway
        .node()
        .project_settings(&ctx.caller.project)
        .await
        .ok()
        .flatten()
        .is_some_and(|s| s.trace_users);
    if users {
        attributes.push(KeyValue::new("enduser.id", ctx.caller.user.as_str().to_string()));
    }
    tracer.child(format!("{operation} {}", call.model), SpanKind::Client, attributes)
}

/// Notes the hold's decision on the current span.
pub(crate) fn decided(decision: &Decision) {
    let mut attributes = vec![KeyValue::new(
        "quota.decision",
        if decision.allowed { "allowed" } else { "denied" },
    )];
    if let Some(granted) = &decision.granted {
        attributes.push(KeyValue::new(
            "quota.reservation_id",
            granted.reservation_id.as_str().to_string(),
        ));
    }
    let denied_by: Vec<String> = decision.denied_by.iter().filter_map(|d| d.group.clone()).collect();
    if !denied_by.is_empty() {
        attributes.push(KeyValue::new("quota.denied_by", denied_by.join(",")));
    }
    traces::note(attributes);
}

/// Ends the current span: the call ended without a hold to settle (denied, or answered by the
/// gateway).
pub(crate) fn end_here() {
    let cx = Context::current();
    cx.span().end();
}

/// Ends the call's span with what its commit counted.
pub(crate) fn settled(trace: Option<&Context>, counts: &Usage, estimated: bool) {
    let Some(cx) = trace else {
        return;
    };
    let span = cx.span();
    let mut attributes = vec![KeyValue::new(
        "quota.usage",
        if estimated { "estimated" } else { "reported" },
    )];
    for (name, count) in [
        ("gen_ai.usage.input_tokens", counts.input_tokens),
        ("gen_ai.usage.output_tokens", counts.output_tokens),
        ("gen_ai.usage.cache_read.input_tokens", counts.cached_input_tokens),
        ("gen_ai.usage.cache_creation.input_tokens", counts.cache_write_tokens),
        ("gen_ai.usage.reasoning.output_tokens", counts.reasoning_tokens),
    ] {
        if let Some(count) = count {
            attributes.push(KeyValue::new(name, count as i64));
        }
    }
    span.set_attributes(attributes);
    span.end();
}

/// Ends the call's span when its hold was released.
pub(crate) fn released(trace: Option<&Context>) {
    if let Some(cx) = trace {
        let span = cx.span();
        span.set_attribute(KeyValue::new("quota.usage", "released"));
        span.end();
    }
}

/// The context a hold keeps, when the call is traced.
pub(crate) fn current() -> Option<Context> {
    let cx = Context::current();
    cx.span().span_context().is_valid().then_some(cx)
}

/// The operation's name in the GenAI conventions.
fn operation_name(operation: Operation) -> &'static str {
    match operation {
        Operation::Chat | Operation::Responses | Operation::Messages => "chat",
        Operation::Generate => "generate_content",
        Operation::Embeddings => "embeddings",
        other => other.as_str(),
    }
}

/// The provider's name in the GenAI conventions.
fn provider_name(kind: Kind) -> &'static str {
    match kind {
        Kind::OpenAi | Kind::OpenAiCompatible => "openai",
        Kind::Anthropic => "anthropic",
        Kind::Gemini => "gcp.gemini",
        Kind::AzureOpenAi => "azure.ai.openai",
        Kind::Bedrock => "aws.bedrock",
        Kind::Vertex => "gcp.vertex_ai",
    }
}
