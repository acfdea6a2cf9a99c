"""Vertex AI: `/{v1,v1beta1}/projects/{p}/locations/{l}/publishers/google/models/{m}:{verb}` answered
as sim.py's Gemini paths (`generateContent`, `streamGenerateContent`, `countTokens`), and
`.../publishers/anthropic/models/{m}:{rawPredict,streamRawPredict}` as `/v1/messages` (the body
Anthropic's, with `anthropic_version: "vertex-2023-10-16"` and no `model`; `count-tokens:rawPredict`
as `/v1/messages/count_tokens`). The credential is an access token minted by the simulator's own
`POST /token` (google_oauth.py), checked when the simulator has a service account's key."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

import sim

from . import Cloud, version_taken
from .google_oauth import token_valid

CALL = re.compile(r"^/(v1|v1beta1)/projects/([^/]+)/locations/([^/]+)/publishers/(google|anthropic)/models/"
                  r"([A-Za-z0-9._@-]+):([A-Za-z]+)$")
GEMINI_VERBS = ("generateContent", "streamGenerateContent", "countTokens")
ANTHROPIC_VERBS = ("rawPredict", "streamRawPredict")
VERTEX_VERSION = "vertex-2023-10-16"
UNAUTHENTICATED = ("Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
                   "or other valid authentication credential. See "
                   "https://developers.google.com/identity/sign-in/web/devconsole-project.")


class Vertex(Cloud):
    def __init__(self, handler: Any, publisher: str, model: str, verb: str) -> None:
        super().__init__(handler)
        self.provider = sim.GEMINI if publisher == "google" else sim.ANTHROPIC
        self.model = model
        self.verb = verb

    def authenticate(self, h: Any, headers: Dict[str, str], raw: bytes) -> None:
        settings = h.server.clouds
        if settings.google_key is None:
            return
        given = headers.get("authorization", "")
        if not given.startswith("Bearer ") or not token_valid(settings, given[7:]):
            raise sim.SimError(401, UNAUTHENTICATED, code="UNAUTHENTICATED")

    def dispatch(self, method: str, body: Dict[str, Any], d: sim.Directives) -> None:
        h = self.h
        if self.provider == sim.GEMINI:
            h.dispatch(method, body, d)
            return
        if not version_taken(body.get("anthropic_version"), VERTEX_VERSION):
            raise sim.SimError(400, f"anthropic_version: Input should be '{VERTEX_VERSION}'")
        inner = {k: v for k, v in body.items() if k != "anthropic_version"}
        if self.model == "count-tokens":
            h.api_count_tokens(inner, d)
            return
        if "model" in body:
            raise sim.SimError(400, "model: Extra inputs are not permitted")
        inner["model"] = self.model
        if self.verb == "streamRawPredict":
            inner["stream"] = True
        h.api_messages(inner, d)

    def headers(self, h: Any) -> List[Tuple[str, str]]:
        return []  # Google's front door names no request id; a Claude body carries its own id

    def error(self, h: Any, error: sim.SimError) -> Tuple[Any, List[Tuple[str, str]]]:
        # Vertex's own refusals are Google's; the model's (behind rawPredict) are Anthropic's.
        if self.provider == sim.GEMINI or error.code == "UNAUTHENTICATED":
            return sim.error_body(sim.GEMINI, error, h.request_id), []
        return sim.error_body(sim.ANTHROPIC, error, h.request_id), []


def find(handler: Any, method: str) -> Optional[Cloud]:
    found = CALL.match(handler.route)
    if not found:
        return None
    publisher, model, verb = found.group(4), found.group(5), found.group(6)
    if publisher == "google" and verb in GEMINI_VERBS:
        handler.route = f"/v1beta/models/{model}:{verb}"
        return Vertex(handler, publisher, model, verb)
    if publisher == "anthropic" and verb in ANTHROPIC_VERBS:
        handler.route = "/v1/messages/count_tokens" if model == "count-tokens" else "/v1/messages"
        return Vertex(handler, publisher, model, verb)
    return None
