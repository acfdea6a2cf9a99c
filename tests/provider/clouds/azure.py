"""Azure OpenAI: `/openai/deployments/{deployment}/{operation}?api-version=...` and the newer
`/openai/v1/{operation}` (the deployment in the body's `model`), answered as OpenAI's own path
with the deployment's model; `/openai/{files,batches,...}` as OpenAI's. The key is `api-key` (or an
Entra ID token as `Authorization: Bearer`), refused as Azure's API Management refuses it."""

from __future__ import annotations

import re
import uuid
from typing import Any, Dict, List, Optional, Tuple

import sim

from . import Cloud

DEPLOYMENT = re.compile(r"^/openai/deployments/([A-Za-z0-9._-]+)/(.+)$")
OPERATIONS = ("chat/completions", "responses", "embeddings", "images/generations", "images/edits",
              "audio/transcriptions", "audio/translations", "audio/speech")
DENIED = ("Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
          "valid key for an active subscription and use a correct regional API endpoint for your resource.")
NOT_DEPLOYED = ("The API deployment for this resource does not exist. If you created the deployment within the "
                "last 5 minutes, please wait a moment and try again.")


class Azure(Cloud):
    provider = sim.OPENAI

    def __init__(self, handler: Any, deployment: Optional[str], inner: str) -> None:
        super().__init__(handler)
        self.deployment = deployment
        self.inner = inner
        self.apim_id = str(uuid.uuid4())
        if deployment is not None:
            self.model = handler.server.clouds.azure_deployments.get(deployment, deployment)

    def authenticate(self, h: Any, headers: Dict[str, str], raw: bytes) -> None:
        if self.deployment is not None and not h.query.get("api-version"):
            # Azure routes by the version: without one, no resource is found.
            raise sim.SimError(404, "Resource not found")
        check_key(h, headers)

    def dispatch(self, method: str, body: Dict[str, Any], d: sim.Directives) -> None:
        h = self.h
        if self.deployment is None and isinstance(body.get("model"), str):
            body["model"] = h.server.clouds.azure_deployments.get(body["model"], body["model"])
        elif self.model is not None and method == "POST":
            body["model"] = self.model
            if h.upload is not None:
                h.upload.fields["model"] = self.model
        h.dispatch(method, body, d)

    def headers(self, h: Any) -> List[Tuple[str, str]]:
        return [("x-request-id", h.request_id), ("apim-request-id", self.apim_id)]

    def reshape(self, h: Any, value: Any, headers: List[Tuple[str, str]]) -> Tuple[Any, List[Tuple[str, str]]]:
        if isinstance(value, dict) and value.get("object") == "chat.completion":
            # Azure's content filters report on the prompt and each choice.
            value["prompt_filter_results"] = [{"prompt_index": 0, "content_filter_results": {}}]
            for choice in value.get("choices") or []:
                choice["content_filter_results"] = {}
        return value, headers

    def error(self, h: Any, error: sim.SimError) -> Tuple[Any, List[Tuple[str, str]]]:
        return error_body(h, error), []


def check_key(h: Any, headers: Dict[str, str]) -> None:
    """A resource key in `api-key`; an Entra ID token as a bearer token (the key itself when no
    token is set). Either in the other's place is refused, as Azure refuses it."""
    key = h.server.key
    if key is None:
        return
    entra = h.server.clouds.azure_entra_token or key
    sent = [(headers[name], key) for name in ("api-key",) if name in headers]
    bearer = headers.get("authorization")
    if bearer is not None:
        sent.append((bearer[7:] if bearer.startswith("Bearer ") else "", entra))
    if not sent or any(given != wanted for given, wanted in sent):
        raise sim.SimError(401, DENIED)


def error_body(h: Any, error: sim.SimError) -> Any:
    """An error as Azure answers it: its gateway's refusals (a key, a path, a deployment) in its
    own shape, the model's in OpenAI's."""
    if error.status in (401, 404) and error.message in (DENIED, "Resource not found"):
        return {"error": {"code": str(error.status), "message": error.message}}
    if error.status == 404 and error.code == "DeploymentNotFound":
        return {"error": {"code": "DeploymentNotFound", "message": error.message}}
    return sim.error_body(sim.OPENAI, error, h.request_id)


def find(handler: Any, method: str) -> Optional[Cloud]:
    route = handler.route
    if not route.startswith("/openai/"):
        return None
    found = DEPLOYMENT.match(route)
    if found:
        deployment, operation = found.group(1), found.group(2)
        if operation not in OPERATIONS:
            return None
        handler.route = "/v1/" + operation
        return Azure(handler, deployment, handler.route)
    rest = route[len("/openai/v1/"):] if route.startswith("/openai/v1/") else route[len("/openai/"):]
    handler.route = "/v1/" + rest
    return Azure(handler, None, handler.route)
