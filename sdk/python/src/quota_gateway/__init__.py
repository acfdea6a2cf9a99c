"""The Python client of quota-gateway: atomic per-user quotas for AI apps.

    from quota_gateway import QuotaGateway

    qg = QuotaGateway()  # QUOTA_GATEWAY_KEY, QUOTA_GATEWAY_URL
    with qg.reservation("alice", "llm.tokens", 4000) as r:
        r.commit(call_the_model())
"""

from __future__ import annotations

from ._base import KEEP
from ._settle import Settled
from .aio import AsyncQuotaGateway
from .client import QuotaGateway
from .decision import (Allowed, Check, Counter, Decision, Denial, Denied, Granted, Passed, Reason, RunProgress,
                       SoonestExpiry)
from .errors import QuotaExceeded, QuotaGatewayError, QuotaUnavailable, RefundEventWarning
from .params import (AlternativeParams, ApprovalStatus, FailMode, Fit, GrantCategory, Metadata, Outcome,
                     OverrideParams, RunLimitsParams, StepKind, When)
from .proxy import (anthropic_bedrock_client, anthropic_client, anthropic_vertex_client, async_anthropic_bedrock_client,
                    async_anthropic_client, async_anthropic_vertex_client, async_azure_openai_client,
                    async_openai_client, azure_openai_client, bedrock_runtime_client, gemini_client, openai_client,
                    proxy_headers, proxy_reservation_id, vertex_gemini_client)
from .reservation import AsyncReservationContext, ReservationContext, ReservationScope
from .runs import (AsyncRunAnswer, AsyncRunContext, AsyncRunHandle, DeniedRun, RunAnswer, RunContext,
                   RunHandle)
from .simulations import (ChangeCount, GroupPeak, Percentiles, Simulation, SimulationFailure, SimulationProgress,
                          SimulationReport, SimulationTotals, UserRow, UserScenario)
from .types import (Approval, ApprovalPage, Balance, BatchPrices, Catalog, CatalogEntry, CategoryTotals, CreditSummary,
                    Grant, GrantMade, JobKind, LongContextPrices, OpenJob, OutcomeAnswer, Page, Price, PriceDoc,
                    PriceSource, PriceSourceKind, Provider, ReviewEvery, Run, RunExtended, RunGroup, RunLimits, RunStart,
                    Usage, UsageEvent, UsageEventPage, UsageGroup, UserKey)
from .webhooks import (ApprovalEvent, ApprovalEventData, CreditEvent, CreditEventData, QuotaEvent, QuotaEventData, Scope,
                       WebhookEvent, WebhookTestEvent, sign_webhook, verify_webhook)

__version__ = "0.2.0"

__all__ = [
    "KEEP", "AlternativeParams", "Allowed", "Approval", "ApprovalEvent", "ApprovalEventData", "ApprovalPage",
    "ApprovalStatus",
    "AsyncQuotaGateway",
    "AsyncReservationContext", "AsyncRunAnswer", "AsyncRunContext", "AsyncRunHandle", "Balance", "BatchPrices",
    "Catalog",
    "CatalogEntry", "CategoryTotals", "ChangeCount", "Check", "CreditEvent", "CreditEventData", "CreditSummary",
    "Counter", "Decision", "Denial", "Denied",
    "DeniedRun", "FailMode", "Fit", "Grant", "GrantCategory", "GrantMade", "Granted", "GroupPeak", "JobKind",
    "LongContextPrices", "Metadata", "OpenJob", "Outcome", "OutcomeAnswer", "OverrideParams", "Page", "Passed",
    "Percentiles", "Price", "PriceDoc",
    "PriceSource",
    "PriceSourceKind", "Provider", "QuotaEvent", "QuotaEventData",
    "QuotaExceeded", "QuotaGateway", "QuotaGatewayError", "QuotaUnavailable", "Reason",
    "RefundEventWarning", "ReservationContext", "ReservationScope", "ReviewEvery", "Run", "RunAnswer", "RunContext",
    "RunExtended",
    "RunGroup", "RunHandle", "RunLimits", "RunLimitsParams", "RunProgress", "RunStart", "Scope", "Simulation",
    "Settled", "SimulationFailure", "SimulationProgress", "SimulationReport", "SimulationTotals", "SoonestExpiry",
    "StepKind",
    "Usage", "UsageEvent", "UsageEventPage", "UsageGroup", "UserKey", "UserRow", "UserScenario", "WebhookEvent",
    "WebhookTestEvent", "When", "anthropic_bedrock_client", "anthropic_client", "anthropic_vertex_client",
    "async_anthropic_bedrock_client", "async_anthropic_client", "async_anthropic_vertex_client",
    "async_azure_openai_client", "async_openai_client",
    "azure_openai_client", "bedrock_runtime_client", "gemini_client", "openai_client", "proxy_headers",
    "proxy_reservation_id",
    "sign_webhook", "verify_webhook", "vertex_gemini_client",
    "__version__",
]
