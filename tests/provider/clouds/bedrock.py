"""Amazon Bedrock's runtime: `POST /model/{modelId}/converse`, `/converse-stream`, `/invoke`,
`/invoke-with-response-stream`, answered by sim.py's `/v1/messages` (so with its counts) in
Bedrock's shapes: the Converse API's, or Anthropic's message for invoke; the streams in the AWS
event stream framing (eventstream.py). A call is signed with Signature Version 4 (checked with
botocore's own signer over the bytes received) or carries a Bedrock API key as a bearer token."""

from __future__ import annotations

import hmac
import re
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import unquote

import sim

from . import Cloud, version_taken
from .eventstream import BedrockStream, converse_usage

CALL = re.compile(r"^/model/([^/]+)/(converse|converse-stream|invoke|invoke-with-response-stream)$")
INVOKE_VERSION = "bedrock-2023-05-31"
DEFAULT_MAX_TOKENS = 4096  # a Converse call without maxTokens: the model's own limit
ERROR_TYPES = {400: "ValidationException", 403: "AccessDeniedException", 404: "ResourceNotFoundException",
               408: "ModelTimeoutException", 424: "ModelErrorException", 429: "ThrottlingException",
               500: "InternalServerException", 503: "ServiceUnavailableException"}
SKEW = 5 * 60  # seconds a signature's x-amz-date may be from the clock
BAD_SIGNATURE = ("The request signature we calculated does not match the signature you provided. Check your AWS "
                 "Secret Access Key and signing method. Consult the service documentation for details.")


def denied(code: str, message: str) -> sim.SimError:
    return sim.SimError(403, message, code=code)


class Bedrock(Cloud):
    provider = sim.ANTHROPIC

    def __init__(self, handler: Any, model: str, operation: str) -> None:
        super().__init__(handler)
        self.model = model
        self.operation = operation
        self.converse = operation.startswith("converse")
        self.streamed = operation in ("converse-stream", "invoke-with-response-stream")
        self.aws_id = str(uuid.uuid4())
        self.began = time.monotonic()

    # -- authentication ------------------------------------------------------------------------

    def authenticate(self, h: Any, headers: Dict[str, str], raw: bytes) -> None:
        aws, key = h.server.clouds.aws_key, h.server.key
        if aws is None and key is None:
            return
        given = headers.get("authorization", "")
        if given.startswith("Bearer "):
            if key is None or not hmac.compare_digest(given[7:], key):
                raise denied("UnrecognizedClientException", "Invalid API Key format: the key is not one Bedrock issued.")
            return
        if not given.startswith("AWS4-HMAC-SHA256 "):
            raise denied("MissingAuthenticationTokenException", "Missing Authentication Token")
        if aws is None:
            raise denied("UnrecognizedClientException", "The security token included in the request is invalid.")
        self.check_signature(h, headers, raw, aws, given)

    def check_signature(self, h: Any, headers: Dict[str, str], raw: bytes,
                        aws: Tuple[str, str, Optional[str]], given: str) -> None:
        fields = dict(part.strip().split("=", 1) for part in given[len("AWS4-HMAC-SHA256 "):].split(",") if "=" in part)
        scope = fields.get("Credential", "").split("/")
        if len(scope) != 5 or scope[4] != "aws4_request" or "Signature" not in fields or "SignedHeaders" not in fields:
            raise denied("IncompleteSignatureException", "Authorization header requires 'Credential', "
                                                         "'Signature' and 'SignedHeaders' parameters.")
        key_id, day, region, service = scope[0], scope[1], scope[2], scope[3]
        if key_id != aws[0]:
            raise denied("UnrecognizedClientException", "The security token included in the request is invalid.")
        if service != "bedrock":
            raise denied("InvalidSignatureException", "Credential should be scoped to correct service: 'bedrock'.")
        stamp = headers.get("x-amz-date", "")
        try:
            signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            raise denied("IncompleteSignatureException", "Authorization header requires existence of either a "
                                                         "'X-Amz-Date' or a 'Date' header.") from None
        if abs(time.time() - signed_at) > SKEW:
            raise denied("InvalidSignatureException", f"Signature expired: {stamp} is now earlier or later than "
                                                      "the 5 minutes allowed either side of the server's clock.")
        if day != stamp[:8]:
            raise denied("InvalidSignatureException", "Credential should be scoped to a valid date.")
        if aws[2] is not None and headers.get("x-amz-security-token") != aws[2]:
            raise denied("UnrecognizedClientException", "The security token included in the request is invalid.")
        try:
            from botocore.auth import SigV4Auth
            from botocore.awsrequest import AWSRequest
            from botocore.credentials import Credentials
        except ImportError:
            raise sim.SimError(500, "the simulator needs botocore to check a Signature Version 4 "
                                    "(pip install botocore)", code="InternalServerException") from None
        signed = {name: headers.get(name, "") for name in fields["SignedHeaders"].split(";")}
        request = AWSRequest(method=h.command, url=f"http://{headers.get('host', '')}{h.path}", data=raw,
                             headers=signed)
        request.context["timestamp"] = stamp
        signer = SigV4Auth(Credentials(aws[0], aws[1], aws[2]), "bedrock", region)
        expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
        if not hmac.compare_digest(expected, fields["Signature"]):
            raise denied("InvalidSignatureException", BAD_SIGNATURE)

    # -- the call ------------------------------------------------------------------------------

    def dispatch(self, method: str, body: Dict[str, Any], d: sim.Directives) -> None:
        if method != "POST":
            raise sim.SimError(404, f"Unknown operation: {method} {self.h.shown}", code="UnknownOperationException")
        if self.converse:
            inner = converse_body(body)
        else:
            if "anthropic." not in self.model:
                raise sim.SimError(400, "The simulator answers invoke for Anthropic models only; use converse.")
            for key in ("model", "stream"):
                if key in body:
                    raise sim.SimError(400, f"Malformed input request: #: extraneous key [{key}] is not permitted, "
                                            "please reformat your input and try again.")
            if not version_taken(body.get("anthropic_version"), INVOKE_VERSION):
                raise sim.SimError(400, "Malformed input request: #/anthropic_version: "
                                        f"expected {INVOKE_VERSION}, please reformat your input and try again.")
            inner = {k: v for k, v in body.items() if k != "anthropic_version"}
        inner["model"] = self.model
        if self.streamed:
            inner["stream"] = True
        self.h.api_messages(inner, d)

    def headers(self, h: Any) -> List[Tuple[str, str]]:
        found = [("x-amzn-RequestId", self.aws_id)]
        if self.operation == "invoke-with-response-stream":
            found.append(("X-Amzn-Bedrock-Content-Type", "application/json"))
        return found

    def reshape(self, h: Any, value: Any, headers: List[Tuple[str, str]]) -> Tuple[Any, List[Tuple[str, str]]]:
        usage = value.get("usage") if isinstance(value, dict) else None
        latency = int((time.monotonic() - self.began) * 1000)
        if not self.converse:
            if usage:
                headers = headers + [("X-Amzn-Bedrock-Input-Token-Count", str(usage["input_tokens"])),
                                     ("X-Amzn-Bedrock-Output-Token-Count", str(usage["output_tokens"])),
                                     ("X-Amzn-Bedrock-Invocation-Latency", str(latency))]
            return value, headers
        content = [{"text": block["text"]} for block in value.get("content") or [] if block.get("type") == "text"]
        found: Dict[str, Any] = {"output": {"message": {"role": "assistant", "content": content}},
                                 "stopReason": value.get("stop_reason") or "end_turn",
                                 "metrics": {"latencyMs": latency}}
        if usage:
            found["usage"] = converse_usage(usage)
        return found, headers

    def error(self, h: Any, error: sim.SimError) -> Tuple[Any, List[Tuple[str, str]]]:
        code = error.code if error.code and error.code.endswith("Exception") else \
            ERROR_TYPES.get(error.status, "InternalServerException" if error.status >= 500 else "ValidationException")
        message = "Input is too long for requested model." if error.code == "context_length_exceeded" else error.message
        return {"message": message}, [("x-amzn-ErrorType", f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/")]

    def stream(self, h: Any, d: sim.Directives) -> sim.Stream:
        return BedrockStream(h, d, converse=self.converse)


def converse_body(body: Dict[str, Any]) -> Dict[str, Any]:
    """A Converse request as Anthropic's Messages body: its text, tool uses and results as the
    matching blocks, `system` as text, `inferenceConfig.maxTokens` as `max_tokens`, the tools."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise sim.SimError(400, "1 validation error detected: Value null at 'messages' failed to satisfy "
                                "constraint: Member must not be null")
    converted = []
    for message in messages:
        blocks = []
        for block in (message.get("content") or []) if isinstance(message, dict) else []:
            if not isinstance(block, dict):
                continue
            if "text" in block:
                blocks.append({"type": "text", "text": block["text"]})
            if isinstance(block.get("toolUse"), dict):
                use = block["toolUse"]
                blocks.append({"type": "tool_use", "id": use.get("toolUseId"), "name": use.get("name"),
                               "input": use.get("input")})
            if isinstance(block.get("toolResult"), dict):
                result = block["toolResult"]
                blocks.append({"type": "tool_result", "tool_use_id": result.get("toolUseId"),
                               "content": result.get("content")})
        converted.append({"role": message.get("role") if isinstance(message, dict) else None, "content": blocks})
    inner: Dict[str, Any] = {"messages": converted}
    system = body.get("system")
    if isinstance(system, list):
        inner["system"] = " ".join(str(block.get("text", "")) for block in system if isinstance(block, dict))
    config = body.get("inferenceConfig") or {}
    limit = config.get("maxTokens") if isinstance(config, dict) else None
    inner["max_tokens"] = limit if isinstance(limit, int) and not isinstance(limit, bool) else DEFAULT_MAX_TOKENS
    tools = (body.get("toolConfig") or {}).get("tools") if isinstance(body.get("toolConfig"), dict) else None
    if tools:
        inner["tools"] = tools
    return inner


def find(handler: Any, method: str) -> Optional[Cloud]:
    found = CALL.match(handler.route)
    if not found:
        return None
    model, operation = unquote(found.group(1)), found.group(2)
    handler.route = "/v1/messages"
    return Bedrock(handler, model, operation)
