"""AWS event stream framing (`application/vnd.amazon.eventstream`), as botocore's parser reads it:
each message is a prelude (total length, headers' length, the prelude's CRC-32), its headers
(name length, name, type 7 = string, value length, value), its payload, and the CRC-32 of all
that came before it. Bedrock's streams are built on sim.py's Anthropic stream: each of its events
is handed to `BedrockStream.send`, which writes what Bedrock writes for it."""

from __future__ import annotations

import base64
import json
import struct
import time
import zlib
from typing import Any, Dict, List, Optional, Tuple

import sim


def header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return struct.pack("!B", len(raw_name)) + raw_name + struct.pack("!BH", 7, len(raw_value)) + raw_value


def message(headers: List[Tuple[str, str]], payload: bytes) -> bytes:
    """One event stream message, its CRCs as botocore checks them (CRC-32, big-endian)."""
    encoded = b"".join(header(name, value) for name, value in headers)
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack("!II", total, len(encoded))
    prelude += struct.pack("!I", zlib.crc32(prelude))
    body = prelude + encoded + payload
    return body + struct.pack("!I", zlib.crc32(body))


def event(kind: str, payload: Any) -> bytes:
    return message([(":event-type", kind), (":content-type", "application/json"), (":message-type", "event")],
                   json.dumps(payload, separators=(",", ":")).encode())


def decode(data: bytes) -> List[Tuple[Dict[str, str], bytes]]:
    """Messages back from bytes, checking both CRCs (the tests read raw streams with it)."""
    found = []
    while data:
        total, length = struct.unpack("!II", data[:8])
        if zlib.crc32(data[:8]) != struct.unpack("!I", data[8:12])[0]:
            raise ValueError("prelude CRC mismatch")
        if zlib.crc32(data[:total - 4]) != struct.unpack("!I", data[total - 4:total])[0]:
            raise ValueError("message CRC mismatch")
        headers, at = {}, 12
        while at < 12 + length:
            size = data[at]
            name = data[at + 1:at + 1 + size].decode()
            at += 1 + size + 1
            (size,) = struct.unpack("!H", data[at:at + 2])
            headers[name] = data[at + 2:at + 2 + size].decode()
            at += 2 + size
        found.append((headers, data[12 + length:total - 4]))
        data = data[total:]
    return found


class BedrockStream(sim.Stream):
    """An Anthropic stream written as Bedrock writes it: `converse` as the Converse API's events
    (messageStart, contentBlockDelta, contentBlockStop, messageStop, then metadata with the usage),
    else (invoke) each Anthropic event as a `chunk` whose `bytes` is its JSON in base64, the last
    carrying `amazon-bedrock-invocationMetrics`."""

    content_type = "application/vnd.amazon.eventstream"

    def __init__(self, handler: Any, d: sim.Directives, converse: bool) -> None:
        super().__init__(handler, d)
        self.converse = converse
        self.began = time.monotonic()
        self.first: Optional[float] = None
        self.usage: Dict[str, int] = {}
        self.stop: Optional[str] = None

    def send(self, event_name: Optional[str], data: Any) -> None:
        if not isinstance(data, dict):
            return
        kind = data.get("type")
        if kind == "message_start":
            self.usage.update(data["message"].get("usage") or {})
        if kind == "message_delta":
            self.usage.update(data.get("usage") or {})
            self.stop = data["delta"].get("stop_reason") or self.stop
        if self.first is None:
            self.first = time.monotonic()
        for name, payload in (self.conversed(data) if self.converse else self.wrapped(data)):
            super().send(name, payload)

    def frame(self, event_name: Optional[str], data: str) -> bytes:
        return event(event_name or "chunk", json.loads(data))

    def metrics(self) -> Dict[str, int]:
        now = time.monotonic()
        return {"latencyMs": int((now - self.began) * 1000),
                "firstByteLatency": int(((self.first or now) - self.began) * 1000)}

    def wrapped(self, data: Dict[str, Any]) -> List[Tuple[str, Any]]:
        if data.get("type") == "ping":
            return []  # Bedrock sends no pings
        if data.get("type") == "message_stop":
            timing = self.metrics()
            data = {**data, "amazon-bedrock-invocationMetrics": {
                "inputTokenCount": self.usage.get("input_tokens", 0),
                "outputTokenCount": self.usage.get("output_tokens", 0),
                "invocationLatency": timing["latencyMs"], "firstByteLatency": timing["firstByteLatency"]}}
        encoded = base64.b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()
        return [("chunk", {"bytes": encoded})]

    def conversed(self, data: Dict[str, Any]) -> List[Tuple[str, Any]]:
        kind = data.get("type")
        if kind == "message_start":
            return [("messageStart", {"role": "assistant"})]
        if kind == "content_block_delta":
            return [("contentBlockDelta", {"delta": {"text": data["delta"].get("text", "")},
                                           "contentBlockIndex": data.get("index", 0)})]
        if kind == "content_block_stop":
            return [("contentBlockStop", {"contentBlockIndex": data.get("index", 0)})]
        if kind == "message_stop":
            found: List[Tuple[str, Any]] = [("messageStop", {"stopReason": self.stop or "end_turn"})]
            metadata: Dict[str, Any] = {"metrics": {"latencyMs": self.metrics()["latencyMs"]}}
            if self.usage:
                metadata["usage"] = converse_usage(self.usage)
            return found + [("metadata", metadata)]
        return []


def converse_usage(usage: Dict[str, Any]) -> Dict[str, int]:
    """Anthropic's usage as the Converse API reports it: the cache reads and writes beside the
    input, as Anthropic reports them; the total all of them."""
    found = {"inputTokens": usage.get("input_tokens", 0), "outputTokens": usage.get("output_tokens", 0)}
    found["totalTokens"] = (found["inputTokens"] + found["outputTokens"] + usage.get("cache_read_input_tokens", 0)
                            + usage.get("cache_creation_input_tokens", 0))
    if usage.get("cache_read_input_tokens"):
        found["cacheReadInputTokens"] = usage["cache_read_input_tokens"]
    if usage.get("cache_creation_input_tokens"):
        found["cacheWriteInputTokens"] = usage["cache_creation_input_tokens"]
    return found
