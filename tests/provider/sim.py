#!/usr/bin/env python3
"""A loopback simulator of the OpenAI, Anthropic and Gemini HTTP APIs, for the proxy's tests and benchmark.

    python3 tests/provider/sim.py [--port N] [--key SECRET]

prints `listening 127.0.0.1:<port>` once, then serves until killed. The path picks the provider
and its wire format; the `x-sim` request header steers an answer (see README.md beside this
file); `GET /_sim/stats` reads back what was sent and reported, `POST /_sim/reset` zeroes it.

Standard library only, Python 3.9 and later, so that any machine with a python3 can run it.
"""

from __future__ import annotations

import argparse
import base64
import codecs
import json
import math
import os
import re
import struct
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional, Set, Tuple
from urllib.parse import parse_qs, urlsplit

OPENAI = "openai"
ANTHROPIC = "anthropic"
GEMINI = "gemini"

# Tokens of a reply when no `output=` says otherwise (the request's maximum still caps it).
DEFAULT_OUTPUT = 5
# What every chat-like prompt costs besides its words: a few tokens per message and for the reply.
MESSAGE_TOKENS = 3
REPLY_TOKENS = 3
EMBEDDING_DIMENSIONS = 8
KEPT_REQUESTS = 100
# Gemini: the thoughts of a call that asks for thinking when no `reasoning=` says otherwise, and
# the tokens of a cached content a call names when no `cached=` does.
DEFAULT_THOUGHTS = 4
CACHED_CONTENT_TOKENS = 32
GEMINI_MAX_CANDIDATES = 8

INTEGER_DIRECTIVES = ("status", "stall", "delay", "cut", "output", "input", "cached", "reasoning",
                      "cache_write", "deltas", "chunks", "cost", "tool_prompt", "pause", "seconds", "context",
                      "reads", "failures", "read_stall", "fail_first")
# How a job ends (`end=`); each kind takes some of them.
JOB_ENDS = ("completed", "failed", "expired", "cancelled")

OPENAI_ERRORS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    409: ("invalid_request_error", None),
    422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    502: ("server_error", None),
    503: ("server_error", "service_unavailable"),
}
ANTHROPIC_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
# Google's status names (google.rpc.Code) by HTTP status.
GEMINI_ERRORS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
# Gemini's paths: a model's method (`:generateContent`, ...), the model list, one model.
GEMINI_CALL = re.compile(r"^/(v1beta|v1)/models/([A-Za-z0-9._-]+):([A-Za-z]+)$")
STORED_RESPONSE = re.compile(r"^/v1/responses/([A-Za-z0-9_-]+)$")
GEMINI_CACHE = re.compile(r"^/(?:v1beta|v1)/cachedContents/([A-Za-z0-9_-]+)$")
GEMINI_MODELS = re.compile(r"^/(v1beta|v1)/models(?:/([A-Za-z0-9._-]+))?$")
GEMINI_MODEL_NAMES = ("gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite", "gemini-2.0-flash")


def _png() -> bytes:
    """A valid 1x1 opaque PNG, built rather than pasted so that it is plainly what it claims."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8-bit RGB
    pixels = zlib.compress(b"\x00\x20\x80\xc0")  # filter byte, then one pixel
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


PNG_B64 = base64.b64encode(_png()).decode()


class SimError(Exception):
    """An answer in the provider's error shape."""

    def __init__(self, status: int, message: str, param: Optional[str] = None, code: Optional[str] = None,
                 null_code: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        # OpenAI's `code`, when not the status's own; `null_code`: none at all, as OpenAI answers
        # a missing file or batch (its 404 is not a model's `model_not_found`).
        self.code = code
        self.null_code = null_code


# ---------------------------------------------------------------------------------------------
# Counting. Words are never more than a tokenizer's count nor the UTF-8 bytes of the same text,
# so a proxy that holds either for the prompt always holds at least what is reported here.


def words(text: str) -> int:
    return len(text.split())


def json_words(value: Any) -> int:
    # Compact JSON: its spaces are only those inside strings, so its words never outnumber the
    # bytes of any serialisation of the same value.
    return words(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


def content_words(value: Any) -> int:
    """Words of a message's content, or of an input item: strings, parts' `text`, tool calls'
    arguments and results, nested as the providers nest them."""
    if isinstance(value, str):
        return words(value)
    if isinstance(value, list):
        return sum(content_words(part) for part in value)
    if isinstance(value, dict):
        count = 0
        for key in ("text", "content", "arguments", "output", "thinking", "refusal"):
            if key in value:
                count += content_words(value[key])
        if isinstance(value.get("input"), (dict, list)):  # Anthropic tool_use input
            count += json_words(value["input"])
        for call in value.get("tool_calls") or []:
            if isinstance(call, dict):
                count += content_words(call.get("function") or {})
        return count
    return 0


def named_file_ids(value: Any) -> List[str]:
    """Every `file_id` a chat or a response names in its parts (and `file_ids` a tool's container
    is given), in order."""
    found: List[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "file_id" and isinstance(item, str):
                found.append(item)
            elif key == "file_ids" and isinstance(item, list):
                found += [i for i in item if isinstance(i, str)]
            elif key != "metadata":
                found += named_file_ids(item)
    elif isinstance(value, list):
        for item in value:
            found += named_file_ids(item)
    return found


def chat_input(body: Dict[str, Any]) -> int:
    """OpenAI chat or Anthropic messages: every message's words, `system`, the tools' JSON."""
    given = body.get("messages")
    messages: List[Any] = given if isinstance(given, list) else []
    count = sum(MESSAGE_TOKENS + content_words(m) for m in messages)
    count += content_words(body.get("system") or "")
    for key in ("tools", "functions"):
        if body.get(key):
            count += json_words(body[key])
    return max(1, count + REPLY_TOKENS)


def responses_input(body: Dict[str, Any]) -> int:
    given = body.get("input")
    count = 0
    if isinstance(given, str):
        count += MESSAGE_TOKENS + words(given)
    elif isinstance(given, list):
        for item in given:
            is_message = isinstance(item, str) or (isinstance(item, dict) and ("role" in item or item.get("type") == "message"))
            count += (MESSAGE_TOKENS if is_message else 0) + content_words(item)
    count += content_words(body.get("instructions") or "")
    if body.get("tools"):
        count += json_words(body["tools"])
    return max(1, count + REPLY_TOKENS)


def snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def field(value: Any, name: str) -> Any:
    """A field of a Gemini request by its JSON name or its proto name (`maxOutputTokens`,
    `max_output_tokens`): Google's parser takes either, and its own Python client sends some
    nested fields by the latter (`thinkingConfig.thinking_budget`)."""
    if not isinstance(value, dict):
        return None
    return value[name] if name in value else value.get(snake(name))


def gemini_parts_words(content: Any) -> int:
    """Words of a Gemini `Content`'s parts: each `text`, and function calls and their responses
    (and code and its results) as compact JSON."""
    if isinstance(content, str):
        return words(content)
    parts = field(content, "parts")
    count = 0
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, dict):
            continue
        if isinstance(part.get("text"), str):
            count += words(part["text"])
        for key in ("functionCall", "functionResponse", "executableCode", "codeExecutionResult"):
            if field(part, key) is not None:
                count += json_words(field(part, key))
    return count


def gemini_input(body: Dict[str, Any]) -> int:
    """Gemini's generateContent: every content's parts, `systemInstruction`, the tools' JSON."""
    given = body.get("contents")
    contents: List[Any] = given if isinstance(given, list) else []
    count = sum(MESSAGE_TOKENS + gemini_parts_words(c) for c in contents)
    count += gemini_parts_words(field(body, "systemInstruction") or "")
    if body.get("tools"):
        count += json_words(body["tools"])
    return max(1, count + REPLY_TOKENS)


def embedding_inputs(given: Any) -> List[int]:
    """The token count of each input: words of a string, the length of a token array."""
    if isinstance(given, str):
        return [words(given)]
    if isinstance(given, list) and given and all(isinstance(t, int) for t in given):
        return [len(given)]
    if isinstance(given, list):
        return [words(x) if isinstance(x, str) else len(x) if isinstance(x, list) else 0 for x in given]
    return []


def positive(body: Dict[str, Any], key: str, default: int, most: int) -> int:
    value = body.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= most:
        return value
    return default


def max_tokens(body: Dict[str, Any], *keys: str) -> Optional[int]:
    for key in keys:
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return max(0, value)
    return None


# ---------------------------------------------------------------------------------------------
# Audio. An upload is read as it streams (a file of hundreds of megabytes is never whole in
# memory): its fields, and its file's first bytes and size, from which its length is decoded as a
# provider would: a WAV's samples, an MP3's frames; anything else only with `seconds=`.

AUDIO_UPLOADS = ("/v1/audio/transcriptions", "/v1/audio/translations")
# Every path whose multipart body is read as it streams: audio, files (to disk), videos.
UPLOADS = AUDIO_UPLOADS + ("/v1/files", "/v1/videos", "/v1/images/edits")
# Audio tokens a second of input, as OpenAI's transcription models count them (one per 100 ms).
AUDIO_TOKENS_PER_SECOND = 10
AUDIO_HEAD_BYTES = 64 << 10
UPLOAD_BLOCK = 64 << 10
MAX_PART_HEADER_BYTES = 16 << 10
MAX_FIELD_BYTES = 1 << 20
TOKEN_TRANSCRIBERS = ("gpt-4o-transcribe", "gpt-4o-mini-transcribe")
CHARACTER_SPEAKERS = ("tts-1", "tts-1-hd")
MAX_SPEECH_CHARACTERS = 4096
MP3_KBPS = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
MP3_FRAME = b"\xff\xfb\x90\x00" + bytes(413)  # MPEG-1 layer III, 128 kbit/s, 44.1 kHz: 417 bytes


def multipart_boundary(content_type: str) -> Optional[bytes]:
    kind, _, params = content_type.partition(";")
    if kind.strip().lower() != "multipart/form-data":
        return None
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "boundary" and value:
            return value.strip().strip('"').encode()
    return None


class BodyReader:
    """A request's body as it arrives, by its Content-Length or chunked."""

    def __init__(self, handler: "Handler") -> None:
        self.rfile = handler.rfile
        self.chunked = "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower()
        self.left = int(handler.headers.get("Content-Length") or 0)
        self.chunk_left = 0
        self.done = False

    def read(self, most: int) -> bytes:
        if self.done:
            return b""
        if not self.chunked:
            data = self.rfile.read(min(most, self.left)) if self.left else b""
            self.left -= len(data)
            self.done = not data
            return data
        if self.chunk_left == 0:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                self.done = True
                return b""
            self.chunk_left = size
        data = self.rfile.read(min(most, self.chunk_left))
        self.chunk_left -= len(data)
        if self.chunk_left == 0:
            self.rfile.readline()
        self.done = not data
        return data

    def drain(self) -> None:
        while self.read(UPLOAD_BLOCK):
            pass


class AudioFile:
    """A file part as it went by: its name, first bytes and size."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.head = bytearray()
        self.size = 0

    def take(self, data: bytes) -> None:
        if len(self.head) < AUDIO_HEAD_BYTES:
            self.head += data[: AUDIO_HEAD_BYTES - len(self.head)]
        self.size += len(data)


class DiskPart(AudioFile):
    """The `file` part of an upload to `/v1/files`, written to disk as it arrives: a file of
    hundreds of megabytes is never whole in memory."""

    def __init__(self, filename: str) -> None:
        super().__init__(filename)
        self.stored = StoredFile(filename)

    def take(self, data: bytes) -> None:
        if self.size + len(data) > MAX_FILE_BYTES:
            raise SimError(413, f"The file is larger than the {MAX_FILE_BYTES >> 20} MB an upload may be.", "file")
        super().take(data)
        self.stored.write(data)


# Which file part goes where: (the part's name, its filename) to what takes its bytes.
Sink = Callable[[str, str], AudioFile]


@dataclass
class Upload:
    fields: Dict[str, str]
    # The file parts by their names: a part with a filename, or named `file`.
    files: Dict[str, AudioFile]
    error: Optional[SimError] = None

    @property
    def file(self) -> Optional[AudioFile]:
        return self.files.get("file")

    def seen(self) -> Dict[str, Any]:
        """What the read-back keeps of it: the fields, each file's name and size."""
        found: Dict[str, Any] = dict(self.fields)
        for name, part in self.files.items():
            found[name] = {"filename": part.filename, "bytes": part.size}
        return found


def part_name(headers: str) -> Tuple[Optional[str], Optional[str]]:
    """A part's form-data `name` and `filename`, read as python-multipart and Starlette read
    them (OpenAI's servers answer so): the last `Content-Disposition` header, and in it the
    last of a parameter given twice."""
    disposition: Optional[str] = None
    for line in headers.split("\r\n"):
        header, _, value = line.partition(":")
        if header.strip().lower() == "content-disposition":
            disposition = value
    if disposition is None:
        return None, None
    found: Dict[str, str] = {}
    for param in re.finditer(r';\s*([A-Za-z*]+)="?((?:[^"\\]|\\.)*?)"?(?=;|$)', disposition):
        found[param.group(1).lower()] = param.group(2)
    return found.get("name"), found.get("filename")


def read_upload(reader: BodyReader, boundary: bytes, sink: Optional[Sink] = None) -> Upload:
    """The parts of a multipart body read as it comes, each file's bytes handed to its sink as
    they arrive (by default only counted and their head kept), a name given twice read at its
    last part; the whole body is read, whatever is wrong with it, before any answer."""
    delimiter = b"\r\n--" + boundary
    buf = b""
    fields: Dict[str, str] = {}
    files: Dict[str, AudioFile] = {}

    def fill() -> bool:
        nonlocal buf
        data = reader.read(UPLOAD_BLOCK)
        buf += data
        return bool(data)

    def fail(message: str) -> SimError:
        reader.drain()
        return SimError(400, message)

    while len(buf) < len(delimiter) and fill():
        pass
    if not buf.startswith(delimiter[2:]):
        raise fail("Could not parse multipart form: no opening boundary.")
    buf = buf[len(delimiter) - 2:]
    while True:
        while len(buf) < 2 and fill():
            pass
        if buf.startswith(b"--"):
            break
        if not buf.startswith(b"\r\n"):
            raise fail("Could not parse multipart form: a boundary without a line break.")
        buf = buf[2:]
        while b"\r\n\r\n" not in buf:
            if len(buf) > MAX_PART_HEADER_BYTES or not fill():
                raise fail("Could not parse multipart form: a part's headers did not end.")
        head, buf = buf.split(b"\r\n\r\n", 1)
        name, filename = part_name(head.decode("latin-1"))
        if name is None:
            raise fail("Could not parse multipart form: a part without a name.")
        text = bytearray()
        part: Optional[AudioFile] = None
        if filename is not None or name == "file":
            part = sink(name, filename or name) if sink else AudioFile(filename or name)
        while True:
            at = buf.find(delimiter)
            piece = buf[:at] if at >= 0 else buf[: max(0, len(buf) - len(delimiter) + 1)]
            if part is not None:
                try:
                    part.take(piece)
                except SimError:
                    reader.drain()
                    raise
            else:
                text += piece
                if len(text) > MAX_FIELD_BYTES:
                    raise fail(f"Could not parse multipart form: the field {name} is too long.")
            buf = buf[len(piece):]
            if at >= 0:
                buf = buf[len(delimiter):]
                break
            if not fill():
                raise fail("Could not parse multipart form: the body ended inside a part.")
        # A name given twice is read at its last part, field or file, as python-multipart and
        # Starlette read a form (OpenAI's servers answer so): the earlier part is dropped.
        fields.pop(name, None)
        files.pop(name, None)
        if part is not None:
            files[name] = part
        else:
            fields[name] = text.decode("utf-8", "replace")
    reader.drain()
    return Upload(fields, files)


def audio_seconds(head: bytes, size: int) -> Optional[float]:
    """The length of the audio in a file, decoded as a provider decodes it: a WAV's samples (the
    bytes its data holds, whatever its header says), an MP3's frames (a Xing frame's count, else
    its bytes at its first frame's bitrate); None for any other file."""
    tag = 0
    if head[:3] == b"ID3" and len(head) >= 10:
        tag = 10 + sum((b & 0x7F) << (7 * (3 - i)) for i, b in enumerate(head[6:10]))
    body = head[tag:]
    if body[:4] == b"RIFF" and body[8:12] == b"WAVE":
        at, byte_rate = 12, 0
        while at + 8 <= len(body):
            kind, length = body[at:at + 4], struct.unpack("<I", body[at + 4:at + 8])[0]
            if kind == b"fmt ":
                byte_rate = struct.unpack("<I", body[at + 16:at + 20])[0]
            if kind == b"data":
                return (size - tag - at - 8) / byte_rate if byte_rate else None
            at += 8 + length + (length & 1)
        return None
    for at in range(min(len(body) - 4, 4096)):
        b = body[at:at + 4]
        if b[0] != 0xFF or b[1] & 0xFE != 0xFA or not 0 < b[2] >> 4 < 15 or (b[2] >> 2) & 3 != 0:
            continue  # MPEG-1 layer III at 44.1 kHz only, as the tests write it
        bitrate = MP3_KBPS[b[2] >> 4] * 1000
        xing = body[at + 36:at + 48]
        if xing[:4] in (b"Xing", b"Info") and struct.unpack(">I", xing[4:8])[0] & 1:
            return struct.unpack(">I", xing[8:12])[0] * 1152 / 44100
        return (size - tag - at) * 8 / bitrate
    return None



# ---------------------------------------------------------------------------------------------
# Steering.


@dataclass
class Directives:
    usage: bool = True
    # Gemini streams: the usage in a last chunk of its own, without candidates (`usage=apart`).
    apart: bool = False
    status: Optional[int] = None
    stall: int = 0
    delay: int = 0
    # A stream waits this long (or until `POST /_sim/release`) before its end.
    pause: int = 0
    cut: Optional[int] = None
    output: Optional[int] = None
    input: Optional[int] = None
    cached: Optional[int] = None
    reasoning: Optional[int] = None
    cache_write: Optional[int] = None
    deltas: int = 1
    # The call's cost in micro-dollars, reported as OpenRouter does (`usage.cost`, in dollars).
    cost: Optional[int] = None
    # Gemini's `toolUsePromptTokenCount`.
    tool_prompt: int = 0
    # Audio: the length of an upload the simulator cannot decode (or of any, when given).
    seconds: Optional[int] = None
    # Not 0: the provider's own "the prompt is longer than the model's context" error (a 400).
    context: int = 0
    # Jobs (batches, message batches, videos), read from the call that creates one: the read
    # (GET) from which it is in its final state, how it ends, how many of its first lines fail.
    reads: int = 2
    end: str = "completed"
    failures: int = 0
    # Each read (GET) of the job waits this long before it answers: a provider that hangs.
    read_stall: int = 0
    # A video reports this model, size and seconds (each "" for the asked one), not the asked.
    made: Optional[Tuple[str, str, str]] = None
    # The first k tries of a call (its method, path and this very header) answer 500, nothing
    # made: a provider's passing fault, which the official clients retry.
    fail_first: int = 0


def parse_directives(header: Optional[str], model: Optional[str] = None) -> Directives:
    """A directive written `name=value@model` applies only to a call asking for that model."""
    found = Directives()
    for item in (header or "").split(","):
        item = item.strip()
        if not item:
            continue
        name, _, value = item.partition("=")
        value, at, scope = value.partition("@")
        name, value = name.strip(), value.strip()
        if at and scope.strip() != model:
            continue
        if name == "usage":
            if value not in ("none", "apart"):
                raise SimError(400, f"x-sim: usage takes 'none' or 'apart', not {value!r}", "x-sim")
            found.usage = value != "none"
            found.apart = value == "apart"
            continue
        if name == "made":
            parts = value.split("/")
            if len(parts) != 3:
                raise SimError(400, f"x-sim: made takes <model>/<size>/<seconds>, not {value!r}", "x-sim")
            found.made = (parts[0], parts[1], parts[2])
            continue
        if name == "end":
            if value not in JOB_ENDS:
                raise SimError(400, f"x-sim: end takes one of {', '.join(JOB_ENDS)}, not {value!r}", "x-sim")
            found.end = value
            continue
        if name not in INTEGER_DIRECTIVES:
            raise SimError(400, f"x-sim: unknown directive {name!r}", "x-sim")
        try:
            number = int(value)
        except ValueError:
            raise SimError(400, f"x-sim: {name} wants a whole number, not {value!r}", "x-sim") from None
        if number < 0 or (name == "status" and not 400 <= number <= 599) or (
                name in ("deltas", "reads") and number < 1):
            raise SimError(400, f"x-sim: {name}={number} is out of range", "x-sim")
        setattr(found, "output" if name == "chunks" else name, number)
    return found


@dataclass
class Plan:
    """What one answer reports: the reply's length per choice and the usage counts."""
    input: int
    cached: int
    cache_write: int
    reasoning: int
    per_choice: int
    choices: int
    truncated: bool

    @property
    def output(self) -> int:
        # Reasoning is billed as output, as both providers count it.
        return self.per_choice * self.choices + self.reasoning


def plan(d: Directives, counted_input: int, limit: Optional[int], choices: int = 1,
         partitioned: bool = False) -> Plan:
    """`partitioned`: the provider reports cache reads and writes beside `input_tokens` rather than
    within it (Anthropic), so the uncached remainder is what `input_tokens` says."""
    wanted = DEFAULT_OUTPUT if d.output is None else d.output
    reasoning = d.reasoning or 0
    per_choice = wanted
    truncated = False
    if limit is not None and wanted + reasoning > limit:
        truncated = True
        reasoning = min(reasoning, limit)
        per_choice = min(wanted, limit - reasoning)
    cache_write = d.cache_write or 0
    cached = d.cached or 0
    if d.input is not None:
        given = d.input
    elif partitioned:
        given = max(0, counted_input - cached - cache_write)
    else:
        given = counted_input
    return Plan(given, cached, cache_write, reasoning, per_choice, choices, truncated)


def reply_words(count: int) -> List[str]:
    """The content deltas: `tok0`, ` tok1`, ... so that the joined text has `count` words."""
    return [("" if i == 0 else " ") + f"tok{i}" for i in range(count)]


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


# ---------------------------------------------------------------------------------------------
# The read-back.


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.calls = 0
            self.paths: Dict[str, int] = {}
            self.usage = {"input_tokens": 0, "output_tokens": 0, "cached_input_tokens": 0,
                          "cache_write_tokens": 0, "reasoning_tokens": 0, "images": 0, "audio_seconds": 0,
                          "input_characters": 0, "audio_input_tokens": 0, "audio_output_tokens": 0}
            self.streams = {"completed": 0, "broken": 0, "cut": 0}
            self.open = 0
            self.requests: Deque[Dict[str, Any]] = deque(maxlen=KEPT_REQUESTS)
            # Each job created or read since the reset: its kind, its status now, its reads.
            self.jobs: "OrderedDict[str, Dict[str, Any]]" = OrderedDict()
            # The clouds' own counts (OAuth tokens minted, ...), by name.
            self.clouds: Dict[str, int] = {}
            # `fail_first=`: the tries of each call so far, by its method, path and header.
            self.tries: Dict[str, int] = {}

    def answered(self, path: str) -> None:
        with self.lock:
            self.calls += 1
            self.paths[path] = self.paths.get(path, 0) + 1

    def seen(self, path: str, query: str, headers: Dict[str, str], body: Any, raw: bytes) -> None:
        """`raw` is kept as the bytes came (as Latin-1 text, one character a byte), so a test can
        tell that the body the provider read is the body the client sent; `query` as it came too
        (a key in it shows)."""
        with self.lock:
            self.requests.append({"path": path, "query": query, "headers": headers, "body": body,
                                  "raw": raw.decode("latin-1")})

    def add(self, **counts: int) -> None:
        with self.lock:
            for key, value in counts.items():
                self.usage[key] += value

    def stream(self, outcome: Optional[str], opened: int = 0, instead_of: Optional[str] = None) -> None:
        with self.lock:
            self.open += opened
            if outcome:
                self.streams[outcome] += 1
            if instead_of:
                self.streams[instead_of] -= 1

    def job(self, jid: str, kind: str, status: str, read: bool = False) -> None:
        """A job's status now, and one more read of it when `read`."""
        with self.lock:
            found = self.jobs.setdefault(jid, {"kind": kind, "status": status, "reads": 0})
            found["status"] = status
            found["reads"] += 1 if read else 0
            while len(self.jobs) > MAX_JOBS:
                self.jobs.popitem(last=False)

    def snapshot(self) -> Dict[str, Any]:
        with self.lock:
            return {"calls": self.calls, "paths": dict(self.paths), "usage": dict(self.usage),
                    "streams": dict(self.streams), "open": self.open, "requests": list(self.requests),
                    "jobs": {jid: dict(found) for jid, found in self.jobs.items()}, "clouds": dict(self.clouds)}

    def count(self, name: str) -> None:
        with self.lock:
            self.clouds[name] = self.clouds.get(name, 0) + 1

    def tried(self, call: str) -> int:
        """This try of `call`'s number, from 1 (bounded as the jobs are: the oldest call goes)."""
        with self.lock:
            self.tries[call] = self.tries.pop(call, 0) + 1
            while len(self.tries) > MAX_JOBS:
                del self.tries[next(iter(self.tries))]
            return self.tries[call]


class ClientGone(Exception):
    """A write failed: the client hung up."""


class Cut(Exception):
    """The `cut=` directive ends this answer here."""


# ---------------------------------------------------------------------------------------------
# Jobs: OpenAI's files, batches and videos, Anthropic's message batches. A job moves along by its
# reads (the GETs of it), never by the clock, so that a test knows what each read answers; its
# steering is the x-sim header of the call that created it, kept with it. Stored bytes (uploads, a
# batch's requests and answers) are in temporary files unlinked from the start, so that they go
# with the process however it ends; they are written and read a block or a line at a time.

FILE_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
BATCH_ENDPOINTS = ("/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/completions")


def batch_route(endpoint: str) -> str:
    """A batch's endpoint as OpenAI's route: Azure OpenAI's batches name theirs without `/v1`
    (`/chat/completions`), which only its paths take (`clouds/azure.py`)."""
    return endpoint if endpoint.startswith("/v1/") else "/v1" + endpoint
# Both providers' batches expire a day after their creation.
JOB_WINDOW = 24 * 3600
MAX_FILE_BYTES = 512 << 20  # OpenAI's largest file
MAX_STORED_FILES = 256  # each holds a descriptor open; the oldest goes first
MAX_JOBS = 1000  # of each kind (and in the read-back); the oldest goes first
MAX_LINE_BYTES = 32 << 20  # one request of a batch
MAX_BATCH_ERRORS = 10  # a failed batch's `errors` names at most these
MAX_MESSAGE_BATCH_REQUESTS = 100_000  # Anthropic's limits
MAX_MESSAGE_BATCH_BYTES = 256 << 20
KEPT_BODY_BYTES = 1 << 20  # a message batch's body is in the read-back whole up to this
# `openai-poll-after-ms` on an unfinished job: the OpenAI SDK's pollers wait that long, not a second.
POLL_AFTER_MS = 10
VIDEO_SECONDS = ("4", "8", "12")
VIDEO_SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
# An ISO media file's first boxes, so that the bytes say what their type says (not a playable video).
MP4 = struct.pack(">I", 24) + b"ftypmp42" + struct.pack(">I", 0) + b"mp42isom" + struct.pack(">I", 8) + b"free"
EXPIRED_LINE = "This request could not be executed before the completion window expired."


def rfc3339(at: Optional[float]) -> Optional[str]:
    return None if at is None else datetime.fromtimestamp(at, timezone.utc).isoformat().replace("+00:00", "Z")


def quoted(values: Tuple[str, ...]) -> str:
    """OpenAI's list of the values a parameter takes: 'a', 'b', and 'c'."""
    names = [f"'{v}'" for v in values]
    return ", ".join(names[:-1]) + ", and " + names[-1]


class Reading:
    """One read of a stored file, through a duplicate of its descriptor and at its own offsets:
    a delete while it reads neither cuts it short nor hands it another file's bytes."""

    def __init__(self, fd: int, size: int) -> None:
        self.fd = fd
        self.size = size

    def __enter__(self) -> "Reading":
        return self

    def __exit__(self, *_: Any) -> None:
        os.close(self.fd)

    def blocks(self) -> Iterator[bytes]:
        at = 0
        while at < self.size:
            data = os.pread(self.fd, min(UPLOAD_BLOCK, self.size - at), at)
            if not data:
                return
            at += len(data)
            yield data

    def lines(self) -> Iterator[Optional[bytes]]:
        """Its lines without their ends; None for one longer than MAX_LINE_BYTES, whose bytes are
        passed over rather than held."""
        pending: List[bytes] = []
        held = 0
        long = False
        for data in self.blocks():
            start = 0
            while True:
                end = data.find(b"\n", start)
                if end < 0:
                    break
                yield None if long else b"".join(pending) + data[start:end]
                pending, held, long = [], 0, False
                start = end + 1
            if start < len(data) and not long:
                pending.append(data[start:])
                held += len(data) - start
                if held > MAX_LINE_BYTES:
                    pending, held, long = [], 0, True
        if pending or long:
            yield None if long else b"".join(pending)


class StoredFile:
    """A file's bytes in a temporary file unlinked from the start, written once, then only read."""

    def __init__(self, filename: str, purpose: str = "") -> None:
        self.id = new_id("file-")
        self.filename = filename
        self.purpose = purpose
        self.created = int(time.time())
        self.handle = tempfile.TemporaryFile(prefix="provider-sim-")
        self.size = 0

    def write(self, data: bytes) -> None:
        self.handle.write(data)
        self.size += len(data)

    def line(self, value: Any) -> None:
        self.write(dumps(value).encode() + b"\n")

    def done(self) -> "StoredFile":
        self.handle.flush()
        return self

    def reading(self) -> Optional[Reading]:
        """None once the file is closed (deleted, or the server closed)."""
        try:
            return Reading(os.dup(self.handle.fileno()), self.size)
        except (OSError, ValueError):
            return None

    def close(self) -> None:
        self.handle.close()

    def object(self) -> Dict[str, Any]:
        return {"id": self.id, "object": "file", "bytes": self.size, "created_at": self.created,
                "filename": self.filename, "purpose": self.purpose, "status": "processed", "expires_at": None,
                "status_details": None}


WHITESPACE = re.compile(r"[ \t\n\r]*")
DECODER = json.JSONDecoder()


class JsonReader:
    """JSON text as it arrives, decoded a value at a time by json's own decoder, so that a body of
    hundreds of megabytes is never whole in memory: only the value being read, bounded by `most`."""

    def __init__(self, reader: BodyReader, most: int, limit: int) -> None:
        self.reader = reader
        self.most = most
        self.limit = limit
        self.text = ""
        self.at = 0
        self.eof = False
        self.utf8 = codecs.getincrementaldecoder("utf-8")()
        self.head = bytearray()
        self.size = 0

    def more(self, wanted: int = 1) -> bool:
        """At least `wanted` more characters of the body (fewer at its end), joined to what is
        left unread in one copy; False when there was nothing more."""
        parts: List[str] = []
        got = 0
        while got < wanted and not self.eof:
            data = self.reader.read(UPLOAD_BLOCK)
            self.size += len(data)
            if self.size > self.limit:
                raise SimError(413, f"Request exceeds the maximum size of {self.limit >> 20} MB.")
            if len(self.head) <= KEPT_BODY_BYTES:
                self.head += data[: KEPT_BODY_BYTES + 1 - len(self.head)]
            try:
                parts.append(self.utf8.decode(data, final=not data))
            except UnicodeDecodeError:
                raise SimError(400, "The request body is not valid UTF-8.") from None
            got += len(parts[-1])
            self.eof = not data
        if not parts:
            return False
        self.text = self.text[self.at:] + "".join(parts)
        self.at = 0
        return True

    def peek(self) -> str:
        """The next character that is not whitespace, "" at the end."""
        while True:
            self.at = WHITESPACE.match(self.text, self.at).end()  # type: ignore[union-attr]
            if self.at < len(self.text):
                return self.text[self.at]
            if not self.more():
                return ""

    def take(self, char: str) -> None:
        found = self.peek()
        if found != char:
            raise SimError(400, f"Invalid JSON body: expected {char!r}, found {found or 'the end'!r}.")
        self.at += 1

    def value(self) -> Any:
        """The next JSON value. A value that the text read so far leaves unfinished is read
        again with twice as much text, so each is decoded a bounded number of times."""
        if not self.peek():
            raise SimError(400, "Invalid JSON body: it ended early.")
        while True:
            try:
                value, end = DECODER.raw_decode(self.text, self.at)
            except json.JSONDecodeError as error:
                unfinished = error.msg.startswith("Unterminated string") or error.pos >= len(self.text) - 8
                if self.eof or not unfinished:
                    raise SimError(400, f"Invalid JSON body: {error.msg}.") from None
            else:
                number = isinstance(value, (int, float)) and not isinstance(value, bool)
                if end < len(self.text) or self.eof or not number:  # a number may go on in the next block
                    self.at = end
                    return value
            held = len(self.text) - self.at
            if held > self.most:
                raise SimError(413, f"One request is larger than {self.most >> 20} MB.")
            self.more(max(UPLOAD_BLOCK, held))


class Spool:
    """A message batch's requests as they came, one JSON line each in a stored file, checked as
    Anthropic checks them when the batch is created (the params only when it runs)."""

    def __init__(self) -> None:
        self.file = StoredFile("requests.jsonl")
        self.count = 0
        self.ids: Set[str] = set()
        self.error: Optional[SimError] = None
        self.head = b""
        self.whole = False

    def add(self, item: Any) -> None:
        where = f"requests.{self.count}"
        if not isinstance(item, dict):
            raise SimError(400, f"{where}: Input should be a valid dictionary")
        cid = item.get("custom_id")
        if not isinstance(cid, str) or not CUSTOM_ID.match(cid):
            raise SimError(400, f"{where}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'")
        if not isinstance(item.get("params"), dict):
            raise SimError(400, f"{where}.params: Field required")
        if cid in self.ids:
            raise SimError(400, f"Duplicate custom_id: '{cid}'. Each request in a batch must have a unique custom_id.")
        if self.count >= MAX_MESSAGE_BATCH_REQUESTS:
            raise SimError(400, f"requests: a batch holds at most {MAX_MESSAGE_BATCH_REQUESTS} requests")
        line = dumps({"custom_id": cid, "params": item["params"]}).encode() + b"\n"
        if len(line) > MAX_LINE_BYTES:
            raise SimError(413, f"{where}: one request may be at most {MAX_LINE_BYTES >> 20} MB.")
        self.ids.add(cid)
        self.file.write(line)
        self.count += 1

    def seen(self) -> Any:
        """What the read-back keeps of the body: all of it when small, else how many requests."""
        if self.whole:
            try:
                return json.loads(self.head)
            except ValueError:
                return None
        return {"requests": self.count}

    def close(self) -> None:
        self.file.close()


def read_message_batch(reader: BodyReader) -> Spool:
    """A message batch's body (`{"requests": [...]}`) read as it streams, each request written to
    disk as soon as it is whole; the whole body is read, whatever is wrong with it, before any
    answer."""
    spool = Spool()
    r = JsonReader(reader, MAX_LINE_BYTES, MAX_MESSAGE_BATCH_BYTES)
    try:
        r.take("{")
        found = False
        if r.peek() == "}":
            r.at += 1
        else:
            while True:
                key = r.value()
                if not isinstance(key, str):
                    raise SimError(400, "Invalid JSON body: an object's key is not a string.")
                r.take(":")
                if key == "requests" and r.peek() == "[":
                    found = True
                    r.at += 1
                    if r.peek() == "]":
                        r.at += 1
                    else:
                        while True:
                            spool.add(r.value())
                            after = r.peek()
                            r.at += 1
                            if after == "]":
                                break
                            if after != ",":
                                raise SimError(400, "Invalid JSON body: expected ',' or ']' after a request.")
                else:
                    r.value()
                after = r.peek()
                r.at += 1
                if after == "}":
                    break
                if after != ",":
                    raise SimError(400, "Invalid JSON body: expected ',' or '}'.")
        if r.peek():
            raise SimError(400, "Invalid JSON body: extra data after the object.")
        if not found:
            raise SimError(400, "requests: Field required")
    except SimError as error:
        reader.drain()
        spool.error = error
    spool.file.done()
    spool.head = bytes(r.head[:KEPT_BODY_BYTES])
    spool.whole = r.eof and r.size <= KEPT_BODY_BYTES
    return spool


class Job:
    """A job's state, moved along by its reads: the create answers `steps[0]`, read i (from 1)
    `steps[min(i, len - 1)]`, until read `reads=`, from which it is final. A cancel shows
    `cancelling` at once, the final `cancelled` at the next read. `steps` is by `end=`."""

    kind = ""
    ends: Tuple[str, ...] = ()
    steps: Dict[str, Tuple[str, ...]] = {}
    terminal: Tuple[str, ...] = ()
    # The statuses a status implies were passed on the way, for their timestamps when skipped.
    implied: Dict[str, Tuple[str, ...]] = {}
    cancelling = "cancelling"
    cancelled = "cancelled"

    def __init__(self, jid: str, d: Directives, header: Optional[str]) -> None:
        self.id = jid
        self.d = d
        # Kept whole: each line of a batch reads it again for its own model.
        self.header = header
        self.created = time.time()
        self.reads = 0
        # The reads there were when a cancel came.
        self.cancelled_after: Optional[int] = None
        # When each status was first shown (Anthropic's timestamps have microseconds, OpenAI's not).
        self.times: Dict[str, float] = {}
        # One read at a time moves it (and processes it, once).
        self.lock = threading.Lock()
        self.processed = False

    def final(self) -> str:
        return self.d.end

    def status(self) -> str:
        if self.cancelled_after is not None:
            return self.cancelled if self.reads > self.cancelled_after else self.cancelling
        if self.reads >= self.d.reads:
            return self.final()
        steps = self.steps[self.d.end]
        return steps[min(self.reads, len(steps) - 1)]

    def reached(self, status: str) -> None:
        now = time.time()
        for passed in self.implied.get(status, ()) + (status,):
            self.times.setdefault(passed, now)

    def second(self, status: str) -> Optional[int]:
        """When a status was first shown, in OpenAI's whole seconds."""
        at = self.times.get(status)
        return None if at is None else int(at)

    def due(self, status: str) -> bool:
        """Whether a read showing `status` needs the answers (processed once, when first due)."""
        return False

    def process(self, server: "SimServer") -> None:
        pass

    def cancel(self, server: "SimServer") -> None:
        self.cancelled_after = self.reads

    def view(self, host: str = "") -> Dict[str, Any]:
        raise NotImplementedError

    def close(self) -> None:
        pass


def line_usage(body: Dict[str, Any]) -> Dict[str, int]:
    """A chat, responses or embeddings answer's usage in the batch's names."""
    usage = body.get("usage") or {}
    inputs = usage.get("prompt_tokens", usage.get("input_tokens", 0))
    outputs = usage.get("completion_tokens", usage.get("output_tokens", 0))
    given = usage.get("prompt_tokens_details") or usage.get("input_tokens_details") or {}
    made = usage.get("completion_tokens_details") or usage.get("output_tokens_details") or {}
    return {"input_tokens": inputs, "cached_tokens": given.get("cached_tokens", 0), "output_tokens": outputs,
            "reasoning_tokens": made.get("reasoning_tokens", 0)}


def batch_request(line: Optional[bytes], number: int,
                  endpoint: str) -> Tuple[Optional[Dict[str, Any]], Optional[Dict[str, Any]]]:
    """A line of a batch's input as a request, or what is wrong with it (an entry of `errors`)."""
    def wrong(code: str, message: str, param: Optional[str] = None) -> Tuple[None, Dict[str, Any]]:
        return None, {"code": code, "message": message, "param": param, "line": number}

    if line is None:
        return wrong("line_too_long", f"This line is longer than {MAX_LINE_BYTES >> 20} MB.")
    try:
        request = json.loads(line)
    except ValueError:
        return wrong("invalid_json_line", "This line is not parseable as valid JSON.")
    if not isinstance(request, dict):
        return wrong("invalid_json_line", "This line is not a JSON object.")
    for key in ("custom_id", "method", "url", "body"):
        if key not in request:
            return wrong("missing_required_parameter", f"Missing required parameter: '{key}'.", key)
    if not isinstance(request["custom_id"], str):
        return wrong("invalid_custom_id", "custom_id must be a string.", "custom_id")
    if request["method"] != "POST":
        return wrong("invalid_method", f"Invalid method {request['method']!r}: a batch's requests are POSTs.", "method")
    if request["url"] != endpoint:
        return wrong("mismatched_endpoint", f"The URL provided for this request does not match the batch endpoint "
                                            f"{endpoint}.", "url")
    if not isinstance(request["body"], dict):
        return wrong("invalid_body", "The body of this request is not a JSON object.", "body")
    return request, None


class Batch(Job):
    """OpenAI's batch: validating, in_progress, finalizing, then completed (or failed, expired,
    cancelled). Its input's lines are answered when a read first shows finalizing or its end."""

    kind = "batch"
    ends = JOB_ENDS
    steps = {"completed": ("validating", "in_progress", "finalizing"), "failed": ("validating",),
             "expired": ("validating", "in_progress"), "cancelled": ("validating", "in_progress", "cancelling")}
    terminal = ("completed", "failed", "expired", "cancelled")
    implied = {"finalizing": ("in_progress",), "completed": ("in_progress", "finalizing"),
               "expired": ("in_progress",), "cancelled": ("cancelling",)}

    def __init__(self, d: Directives, header: Optional[str], input_file_id: str, endpoint: str, window: str,
                 metadata: Optional[Dict[str, str]], total: int) -> None:
        super().__init__(new_id("batch_"), d, header)
        self.input_file_id = input_file_id
        self.endpoint = endpoint
        self.window = window
        self.metadata = metadata
        self.total = total
        self.succeeded = 0
        self.failed = 0
        self.usage = dict.fromkeys(("input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens"), 0)
        self.output: Optional[StoredFile] = None
        self.errors: Optional[StoredFile] = None
        # What is wrong with the input, found when it is processed: the batch then fails.
        self.invalid: Optional[List[Dict[str, Any]]] = None

    def status(self) -> str:
        if self.cancelled_after is None and self.invalid is not None:
            return "failed"
        return super().status()

    def due(self, status: str) -> bool:
        return status in ("finalizing", "completed", "expired") and not self.processed

    def process(self, server: "SimServer") -> None:
        """Each line answered as the simulator answers that call, with the job's directives,
        from disk to disk a line at a time: the answers to the output file, the failures
        (`failures=`, errors the call itself would answer, `end=expired`'s second half) to the
        error file."""
        self.processed = True
        stored = server.store.file(self.input_file_id)
        reading = stored.reading() if stored is not None else None
        if reading is None:
            self.invalid = [{"code": "file_not_found", "message": f"No such File object: {self.input_file_id}",
                             "param": "input_file_id", "line": None}]
            return
        output = StoredFile(f"{self.id}_output.jsonl", "batch_output")
        errors = StoredFile(f"{self.id}_error.jsonl", "batch_output")
        problems: List[Dict[str, Any]] = []
        answered = self.total // 2 if self.d.end == "expired" else self.total
        index = 0
        with reading:
            for number, line in enumerate(reading.lines(), 1):
                if line is not None and not line.strip():
                    continue
                request, problem = batch_request(line, number, self.endpoint)
                if problem is not None:
                    problems.append(problem)
                    if len(problems) >= MAX_BATCH_ERRORS:
                        break
                if request is None or problems:
                    continue  # a batch with a wrong line fails: only more of them are looked for
                rid, cid = new_id("batch_req_"), request["custom_id"]
                index += 1
                if index > answered:
                    errors.line({"id": rid, "custom_id": cid, "response": None,
                                 "error": {"code": "batch_expired", "message": EXPIRED_LINE}})
                    self.failed += 1
                    continue
                if index <= self.d.failures:
                    request_id = new_id("req_")
                    status, body = 400, error_body(OPENAI, SimError(400, "the simulator fails this request as x-sim "
                                                                         "asks (failures=)"), request_id)
                else:
                    status, body, request_id = answer_line(server, OPENAI, batch_route(self.endpoint), request["body"],
                                                           self.header)
                answer = {"id": rid, "custom_id": cid,
                          "response": {"status_code": status, "request_id": request_id, "body": body}, "error": None}
                if status == 200:
                    output.line(answer)
                    self.succeeded += 1
                    for key, value in line_usage(body).items():
                        self.usage[key] += value
                else:
                    errors.line(answer)
                    self.failed += 1
        if not problems and index == 0:
            problems = [{"code": "empty_file", "message": "The batch input file is empty.", "param": None,
                         "line": None}]
        if problems:
            output.close()
            errors.close()
            self.invalid = problems
            self.succeeded = self.failed = 0
            self.usage = dict.fromkeys(self.usage, 0)
            return
        for kept in (output, errors):
            if kept.size:
                server.store.add_file(kept.done())
            else:
                kept.close()
        self.output = output if output.size else None
        self.errors = errors if errors.size else None

    def cancel(self, server: "SimServer") -> None:
        """No line is answered before a cancel: any answers made (at finalizing) are dropped."""
        super().cancel(server)
        self.succeeded = self.failed = 0
        self.usage = dict.fromkeys(self.usage, 0)
        for kept in (self.output, self.errors):
            if kept is not None:
                server.store.drop_file(kept.id)
        self.output = self.errors = None

    def view(self, host: str = "") -> Dict[str, Any]:
        status = self.status()
        answered = status in ("finalizing", "completed", "expired")
        final = status in ("completed", "expired")
        counts = {"total": 0 if status in ("validating", "failed") else self.total, "completed": 0, "failed": 0}
        if answered:
            counts.update(completed=self.succeeded, failed=self.failed)
        errors = None
        if status == "failed":
            errors = {"object": "list", "data": self.invalid if self.invalid is not None else [{
                "code": "token_limit_exceeded", "param": None, "line": None,
                "message": "Enqueued token limit reached in organization org-sim, as x-sim asks (end=failed). "
                           "Please try again once some in_progress batches have been completed."}]}
        found: Dict[str, Any] = {
            "id": self.id, "object": "batch", "endpoint": self.endpoint, "errors": errors,
            "input_file_id": self.input_file_id, "completion_window": self.window, "status": status,
            "output_file_id": self.output.id if final and self.output else None,
            "error_file_id": self.errors.id if final and self.errors else None,
            "created_at": int(self.created), "in_progress_at": self.second("in_progress"),
            "expires_at": int(self.created) + JOB_WINDOW, "finalizing_at": self.second("finalizing"),
            "completed_at": self.second("completed"), "failed_at": self.second("failed"),
            "expired_at": self.second("expired"), "cancelling_at": self.second("cancelling"),
            "cancelled_at": self.second("cancelled"), "request_counts": counts, "metadata": self.metadata,
        }
        if self.d.usage:
            u = self.usage if final else dict.fromkeys(self.usage, 0)
            found["usage"] = {"input_tokens": u["input_tokens"],
                              "input_tokens_details": {"cached_tokens": u["cached_tokens"]},
                              "output_tokens": u["output_tokens"],
                              "output_tokens_details": {"reasoning_tokens": u["reasoning_tokens"]},
                              "total_tokens": u["input_tokens"] + u["output_tokens"]}
        return found


class MessageBatch(Job):
    """Anthropic's message batch: in_progress, then ended (canceling between a cancel and the
    next read). Its requests are answered when a read first shows it ended."""

    kind = "message_batch"
    ends = ("completed", "expired", "cancelled")
    steps = {"completed": ("in_progress",), "expired": ("in_progress",), "cancelled": ("in_progress", "canceling")}
    terminal = ("ended",)
    cancelling = "canceling"
    cancelled = "ended"

    def __init__(self, d: Directives, header: Optional[str], spool: Spool) -> None:
        super().__init__(new_id("msgbatch_"), d, header)
        self.requests = spool.file
        self.total = spool.count
        self.counts = {"processing": self.total, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        self.results: Optional[StoredFile] = None

    def final(self) -> str:
        return "ended"

    def reached(self, status: str) -> None:
        super().reached(status)
        if status == "ended" and (self.cancelled_after is not None or self.d.end == "cancelled"):
            self.times.setdefault("canceling", self.times["ended"])

    def due(self, status: str) -> bool:
        return status == "ended" and not self.processed

    def process(self, server: "SimServer") -> None:
        """Each request answered as `/v1/messages` answers it, with the job's directives; the
        results written a line at a time, in the requests' order."""
        self.processed = True
        results = StoredFile(f"{self.id}_results.jsonl")
        cancelled = self.cancelled_after is not None or self.d.end == "cancelled"
        answered = self.total // 2 if self.d.end == "expired" else self.total
        reading = self.requests.reading()
        assert reading is not None, "a batch's requests are closed only with it"
        with reading:
            for index, line in enumerate(reading.lines(), 1):
                if not line:
                    continue
                request = json.loads(line)
                result: Dict[str, Any]
                if cancelled:
                    result = {"type": "canceled"}
                elif index > answered:
                    result = {"type": "expired"}
                elif index <= self.d.failures:
                    result = {"type": "errored", "error": {"type": "error", "error": {
                        "type": "invalid_request_error",
                        "message": "the simulator fails this request as x-sim asks (failures=)"}}}
                else:
                    status, body, _ = answer_line(server, ANTHROPIC, "/v1/messages", request["params"], self.header)
                    if status == 200:
                        result = {"type": "succeeded", "message": body}
                    else:
                        result = {"type": "errored", "error": {"type": "error", "error": body["error"]}}
                self.counts[result["type"]] += 1  # the counts are named as the result types
                results.line({"custom_id": request["custom_id"], "result": result})
        self.counts["processing"] = 0
        self.results = results.done()

    def view(self, host: str = "") -> Dict[str, Any]:
        status = self.status()
        counts = self.counts if status == "ended" else {**dict.fromkeys(self.counts, 0), "processing": self.total}
        return {"id": self.id, "type": "message_batch", "processing_status": status, "request_counts": dict(counts),
                "ended_at": rfc3339(self.times.get("ended")), "created_at": rfc3339(self.created),
                "expires_at": rfc3339(self.created + JOB_WINDOW),
                "cancel_initiated_at": rfc3339(self.times.get("canceling")), "archived_at": None,
                "results_url": f"http://{host}/v1/messages/batches/{self.id}/results" if status == "ended" else None}

    def close(self) -> None:
        self.requests.close()
        if self.results is not None:
            self.results.close()


class Video(Job):
    """OpenAI's video: queued, in_progress (progress 50), then completed (100) or failed."""

    kind = "video"
    ends = ("completed", "failed")
    steps = {"completed": ("queued", "in_progress"), "failed": ("queued", "in_progress")}
    terminal = ("completed", "failed")

    def __init__(self, d: Directives, header: Optional[str], model: str, prompt: str, seconds: str, size: str) -> None:
        super().__init__(new_id("video_"), d, header)
        self.model, self.prompt, self.seconds, self.size = model, prompt, seconds, size
        self.remixed_from: Optional[str] = None
        if d.made is not None:
            # The provider's own account of what it made, from the create on (`made=`).
            self.model = d.made[0] or model
            self.size = d.made[1] or size
            self.seconds = d.made[2] or seconds

    def view(self, host: str = "") -> Dict[str, Any]:
        status = self.status()
        # A failed video keeps the progress it had when it failed.
        failed_at = 50 if "in_progress" in self.times else 0
        progress = {"queued": 0, "in_progress": 50, "completed": 100}.get(status, failed_at)
        error = None
        if status == "failed":
            error = {"code": "video_generation_failed",
                     "message": "Video generation failed, as x-sim asks (end=failed)."}
        return {"id": self.id, "object": "video", "model": self.model, "status": status, "progress": progress,
                "seconds": self.seconds, "size": self.size, "created_at": int(self.created),
                "completed_at": self.second("completed"), "expires_at": None, "error": error,
                "remixed_from_video_id": self.remixed_from, "prompt": self.prompt}


JOB_KINDS = (Batch, MessageBatch, Video)


class Store:
    """The files and jobs a server holds, each kind bounded (the oldest goes first)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.files: "OrderedDict[str, StoredFile]" = OrderedDict()
        self.jobs: Dict[str, "OrderedDict[str, Job]"] = {kind.kind: OrderedDict() for kind in JOB_KINDS}

    def add_file(self, stored: StoredFile) -> None:
        with self.lock:
            self.files[stored.id] = stored
            while len(self.files) > MAX_STORED_FILES:
                self.files.popitem(last=False)[1].close()

    def file(self, fid: str) -> Optional[StoredFile]:
        with self.lock:
            return self.files.get(fid)

    def drop_file(self, fid: str) -> None:
        with self.lock:
            found = self.files.pop(fid, None)
        if found is not None:
            found.close()

    def listed_files(self) -> List[StoredFile]:
        with self.lock:
            return list(self.files.values())

    def add_job(self, job: Job) -> None:
        with self.lock:
            jobs = self.jobs[job.kind]
            jobs[job.id] = job
            while len(jobs) > MAX_JOBS:
                jobs.popitem(last=False)[1].close()

    def job(self, kind: str, jid: str) -> Optional[Job]:
        with self.lock:
            return self.jobs[kind].get(jid)

    def drop_job(self, kind: str, jid: str) -> None:
        with self.lock:
            found = self.jobs[kind].pop(jid, None)
        if found is not None:
            found.close()

    def listed(self, kind: str) -> List[Job]:
        """Newest first, as the providers list them."""
        with self.lock:
            return list(reversed(self.jobs[kind].values()))

    def close(self) -> None:
        with self.lock:
            held: List[Any] = list(self.files.values())
            for jobs in self.jobs.values():
                held += jobs.values()
                jobs.clear()
            self.files.clear()
        for one in held:
            one.close()


# ---------------------------------------------------------------------------------------------
# HTTP.


class SimServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # A thousand streams opened at once must queue, not be refused.
    request_queue_size = 4096

    def __init__(self, address: Tuple[str, int], key: Optional[str] = None) -> None:
        super().__init__(address, Handler)
        self.key = key
        self.stats = Stats()
        # Files and jobs: their bytes on disk, unlinked, closed when the server shuts down.
        self.store = Store()
        # Streams paused before their end (`pause=`) wait for the next release, or their time.
        self.gate = threading.Condition()
        self.releases = 0
        # Stored responses (the Responses API's, newest last, bounded), by id.
        self.responses: "OrderedDict[str, Dict[str, Any]]" = OrderedDict()
        # Gemini's cached contents, by name: their model and size in tokens.
        self.caches: Dict[str, Dict[str, Any]] = {}
        self.caches_lock = threading.Lock()
        # What the clouds check and keep (their keys, deployments, tokens): see clouds/.
        self.clouds = clouds.Settings()

    def shutdown(self) -> None:
        super().shutdown()
        self.store.close()

    def server_close(self) -> None:
        super().server_close()
        self.store.close()

    def pause(self, ms: int) -> None:
        with self.gate:
            began = self.releases
            self.gate.wait_for(lambda: self.releases != began, ms / 1000)

    def release(self) -> None:
        with self.gate:
            self.releases += 1
            self.gate.notify_all()


class Stream:
    """One server-sent event stream: each event is written and sent at once, as one chunk of a
    chunked body (a keep-alive connection stays usable), or raw on an HTTP/1.0 connection that
    the close ends. An event's usage is counted once it is sent; the stream's end is written
    after every count, so a client that read to the end reads the stats with all of them."""

    content_type = "text/event-stream; charset=utf-8"

    def __init__(self, handler: "Handler", d: Directives) -> None:
        self.handler = handler
        self.d = d
        self.chunked = handler.request_version == "HTTP/1.1"
        self.events = 0
        self.deltas = 0

    def __enter__(self) -> "Stream":
        h = self.handler
        h.start(200, self.content_type,
                [("Transfer-Encoding", "chunked")] if self.chunked else [("Connection", "close")])
        if not self.chunked:
            h.close_connection = True
        h.server.stats.stream(None, opened=1)
        return self

    def __exit__(self, kind: Any, error: Any, _tb: Any) -> bool:
        stats = self.handler.server.stats
        stats.stream(None, opened=-1)
        if kind is None:
            # Counted before the end is written, so a client that saw the end reads it counted.
            stats.stream("completed")
            try:
                ending = self.ending()
                if ending:
                    self.write(ending)
                if self.chunked:
                    self.handler.send_raw(b"0\r\n\r\n")
            except ClientGone:
                self.handler.close_connection = True
                stats.stream("broken", instead_of="completed")
            return False
        self.handler.close_connection = True
        if kind is Cut:
            stats.stream("cut")
            return True
        if kind is ClientGone:
            stats.stream("broken")
            return True
        return False

    def send(self, event: Optional[str], data: Any) -> None:
        if self.events and self.d.delay:
            time.sleep(self.d.delay / 1000)
        self.events += 1
        self.write(self.frame(event, data if isinstance(data, str) else dumps(data)))

    def frame(self, event: Optional[str], data: str) -> bytes:
        """One event as the wire writes it."""
        return ((f"event: {event}\n" if event else "") + "data: " + data + "\n\n").encode()

    def ending(self) -> bytes:
        """What closes a stream written to its end, after its last event."""
        return b""

    def write(self, body: bytes) -> None:
        self.handler.send_raw(f"{len(body):x}\r\n".encode() + body + b"\r\n" if self.chunked else body)

    def delta(self, event: Optional[str], data: Any) -> None:
        """A content delta, unless `cut=` ends the stream before it."""
        if self.d.cut is not None and self.deltas >= self.d.cut:
            raise Cut()
        self.send(event, data)
        self.deltas += 1

    def before_end(self) -> None:
        """Where the content ends: a `cut=` larger than the reply still cuts, before the usage;
        `pause=` waits here."""
        if self.d.cut is not None:
            raise Cut()
        if self.d.pause:
            self.handler.server.pause(self.d.pause)


class GeminiStream(Stream):
    """Gemini's stream: with `?alt=sse` server-sent events (`data:` lines, each event ending in
    CRLF CRLF), else one JSON array written element by element (`[{...}`, `,\r\n{...}`, ..., `]`);
    a cut array stays open."""

    def __init__(self, handler: "Handler", d: Directives, sse: bool) -> None:
        super().__init__(handler, d)
        self.sse = sse
        if not sse:
            self.content_type = "application/json; charset=UTF-8"

    def frame(self, event: Optional[str], data: str) -> bytes:
        if self.sse:
            return f"data: {data}\r\n\r\n".encode()
        return (("[" if self.events == 1 else ",\r\n") + data).encode()

    def ending(self) -> bytes:
        if self.sse:
            return b""
        return b"]" if self.events else b"[]"


def refuse(d: Directives, provider: str) -> None:
    """The errors `status=` and `context=` ask for, before any answer (a job's line's too)."""
    if d.status is not None:
        raise SimError(d.status, f"the simulator answers {d.status} as x-sim asks")
    if d.context:
        message = ("prompt is too long: 210000 tokens > 200000 maximum" if provider == ANTHROPIC else
                   "This model's maximum context length is 128000 tokens. However, your messages "
                   "resulted in 210000 tokens. Please reduce the length of the messages.")
        raise SimError(400, message, "messages", "context_length_exceeded")


def error_body(provider: str, error: SimError, request_id: str) -> Dict[str, Any]:
    """An error in the provider's shape."""
    status = error.status
    if provider == ANTHROPIC:
        kind = ANTHROPIC_ERRORS.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return {"type": "error", "error": {"type": kind, "message": error.message}, "request_id": request_id}
    if provider == GEMINI:
        name = GEMINI_ERRORS.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
        return {"error": {"code": status, "message": error.message, "status": name}}
    kind, code = OPENAI_ERRORS.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
    return {"error": {"message": error.message, "type": kind, "param": error.param,
                      "code": None if error.null_code else error.code or code}}


# The jobs' paths beside the fixed ones: (method, path, the Handler method answering it, given the
# path's ids). An id is what the simulator made: letters, digits, `_` and `-`.
JOB_ID = r"([A-Za-z0-9_-]+)"
MESSAGE_BATCHES = "/v1/messages/batches"
# Paths whose bodies are not JSON, answered without reading them as JSON (the proxy's tests of
# what an upstream's `passthrough` lets through): an Uploads API part, a container file's bytes.
UPLOAD_PART = re.compile(r"^/v1/uploads/([A-Za-z0-9_-]+)/parts$")
CONTAINER_CONTENT = re.compile(r"^/v1/containers/([A-Za-z0-9_-]+)/files/([A-Za-z0-9_-]+)/content$")
JOB_ROUTES = [(method, re.compile(f"^{path}$"), name) for method, path, name in (
    ("POST", "/v1/files", "api_file_create"),
    ("GET", "/v1/files", "api_file_list"),
    ("GET", f"/v1/files/{JOB_ID}", "api_file_get"),
    ("GET", f"/v1/files/{JOB_ID}/content", "api_file_content"),
    ("DELETE", f"/v1/files/{JOB_ID}", "api_file_delete"),
    ("POST", "/v1/batches", "api_batch_create"),
    ("GET", "/v1/batches", "api_batch_list"),
    ("GET", f"/v1/batches/{JOB_ID}", "api_batch_get"),
    ("POST", f"/v1/batches/{JOB_ID}/cancel", "api_batch_cancel"),
    ("POST", MESSAGE_BATCHES, "api_message_batch_create"),
    ("GET", MESSAGE_BATCHES, "api_message_batch_list"),
    ("GET", f"{MESSAGE_BATCHES}/{JOB_ID}", "api_message_batch_get"),
    ("GET", f"{MESSAGE_BATCHES}/{JOB_ID}/results", "api_message_batch_results"),
    ("POST", f"{MESSAGE_BATCHES}/{JOB_ID}/cancel", "api_message_batch_cancel"),
    ("DELETE", f"{MESSAGE_BATCHES}/{JOB_ID}", "api_message_batch_delete"),
    ("POST", "/v1/videos", "api_video_create"),
    ("GET", "/v1/videos", "api_video_list"),
    ("GET", f"/v1/videos/{JOB_ID}", "api_video_get"),
    ("GET", f"/v1/videos/{JOB_ID}/content", "api_video_content"),
    ("DELETE", f"/v1/videos/{JOB_ID}", "api_video_delete"),
    ("POST", f"/v1/videos/{JOB_ID}/remix", "api_video_remix"),
)]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SimServer
    # The cloud (Azure, Bedrock, Vertex AI) whose path this call came by, if any: see clouds/.
    cloud: Any = None
    # An idle keep-alive connection gives its thread back after this long.
    timeout = 300
    # Events are small writes; Nagle's algorithm would hold each one back for the last ACK.
    disable_nagle_algorithm = True

    def log_message(self, *_args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.serve("GET")

    def do_POST(self) -> None:
        self.serve("POST")

    def do_PUT(self) -> None:
        self.serve("PUT")

    def do_DELETE(self) -> None:
        self.serve("DELETE")

    def do_PATCH(self) -> None:
        self.serve("PATCH")

    # -- plumbing ------------------------------------------------------------------------------

    def read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts: List[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        if len(data) < length:
            # The client broke its request off: a server has nothing of it to act on.
            raise ClientGone()
        return data

    def send_raw(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError as error:
            raise ClientGone() from error

    def start(self, status: int, content_type: str, extra: List[Tuple[str, str]]) -> None:
        self.server.stats.answered(self.shown)
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            # Google's API names no request id in its headers (its answers carry `responseId`).
            if self.cloud is not None:
                extra = self.cloud.headers(self) + extra
            elif self.provider != GEMINI:
                self.send_header("x-request-id" if self.provider == OPENAI else "request-id", self.request_id)
            for name, value in extra:
                self.send_header(name, value)
            self.end_headers()
        except OSError as error:
            raise ClientGone() from error

    def answer_json(self, status: int, value: Any, cut: bool = False, reported: Optional[Dict[str, int]] = None,
                    headers: Optional[List[Tuple[str, str]]] = None) -> None:
        """`reported` is what the read-back counts for a whole body. It is counted before the body's
        last byte is written: a client that has read the answer then reads the stats with it, never
        before it (a next test's reset must not race this call's count). A cloud wraps a success
        in its own shape."""
        if self.cloud is not None and status < 400:
            value, headers = self.cloud.reshape(self, value, headers or [])
        data = dumps(value).encode()
        self.start(status, "application/json", [("Content-Length", str(len(data)))] + (headers or []))
        if cut:
            # The length promised, half of it sent, then the connection closed.
            self.close_connection = True
            self.server.stats.stream("cut")
            self.send_raw(data[: len(data) // 2])
            return
        if reported:
            self.server.stats.add(**reported)
        self.send_raw(data)

    def answer_error(self, error: SimError) -> None:
        if self.cloud is not None:
            body, extra = self.cloud.error(self, error)
            self.answer_json(error.status, body, headers=extra)
            return
        self.answer_json(error.status, error_body(self.provider, error, self.request_id))

    def open_stream(self, d: Directives) -> "Stream":
        """A stream of events, in a cloud's own framing when a cloud asked."""
        return self.cloud.stream(self, d) if self.cloud is not None else Stream(self, d)

    # -- the request ---------------------------------------------------------------------------

    def serve(self, method: str) -> None:
        url = urlsplit(self.path)
        # A cloud's path is answered as the provider's path `route` (stats name it as it came).
        self.route = self.shown = url.path
        self.query = parse_qs(url.query, keep_blank_values=True)
        self.upload: Optional[Upload] = None
        self.spool: Optional[Spool] = None
        # What this call wrote to disk and no file or job has taken: closed when it is answered.
        self.pending: List[Any] = []
        try:
            self.answer_call(method, url.query)
        finally:
            for held in self.pending:
                held.close()

    def answer_call(self, method: str, query: str) -> None:
        self.cloud = clouds.find(self, method)
        boundary = multipart_boundary(self.headers.get("Content-Type") or "")
        if boundary is not None and self.route in UPLOADS:
            # Read as it comes, never whole: an upload may be hundreds of megabytes.
            try:
                sink = {"/v1/files": self.disk_sink, "/v1/images/edits": openai_more.image_sink(self)}.get(self.route)
                self.upload = read_upload(BodyReader(self), boundary, sink)
            except SimError as error:
                self.upload = Upload({}, {}, error)
            raw = b""
        elif method == "POST" and self.route == MESSAGE_BATCHES:
            # A message batch may be hundreds of megabytes too: read a request at a time.
            self.spool = read_message_batch(BodyReader(self))
            self.pending.append(self.spool)
            raw = self.spool.head if self.spool.whole else b""
        else:
            raw = self.read_body()
        if self.route.startswith("/_sim/"):
            self.control(method)
            return
        headers: Dict[str, str] = {}
        for name, value in self.headers.items():
            name = name.lower()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if self.upload is not None:
            body = self.upload.seen()
        if self.spool is not None:
            body = self.spool.seen()
        self.server.stats.seen(self.shown, query, headers, body, raw)
        anthropic = self.route.startswith("/v1/messages") or (
            self.route == "/v1/models" and "anthropic-version" in headers)
        # Gemini: anything under v1beta, a model's method, or a model list asked with Google's key.
        gemini = self.route.startswith("/v1beta/") or bool(GEMINI_CALL.match(self.route)) or (
            bool(GEMINI_MODELS.match(self.route)) and ("x-goog-api-key" in headers or "key" in self.query))
        self.provider = ANTHROPIC if anthropic else GEMINI if gemini else OPENAI
        if self.cloud is not None:
            self.provider = self.cloud.provider
        self.request_id = new_id("req_")
        # A job keeps the header of the call that created it, read again for each of its lines.
        self.sim_header = headers.get("x-sim")
        try:
            try:
                asked = (self.cloud and self.cloud.model) or (body.get("model") if isinstance(body, dict) else None)
                d = parse_directives(self.sim_header, asked if isinstance(asked, str) else None)
                if d.stall:
                    time.sleep(d.stall / 1000)
                if self.cloud is not None:
                    self.cloud.authenticate(self, headers, raw)
                else:
                    self.authenticate(headers)
                refuse(d, self.provider)
                if d.fail_first and self.server.stats.tried(f"{method} {self.route} {self.sim_header}") <= d.fail_first:
                    raise SimError(500, "The server had an error while processing your request. Sorry about that!")
                if self.upload is not None and self.upload.error is not None:
                    raise self.upload.error
                if self.spool is not None and self.spool.error is not None:
                    raise self.spool.error
                if raw and body is None and not UPLOAD_PART.match(self.route) and not (self.cloud and self.cloud.form):
                    raise SimError(400, "We could not parse the JSON body of your request.")
                self.raw = raw
                (self.cloud or self).dispatch(method, body if isinstance(body, dict) else {}, d)
            except SimError as error:
                self.answer_error(error)
        except ClientGone:
            self.close_connection = True

    def authenticate(self, headers: Dict[str, str]) -> None:
        key = self.server.key
        if key is None:
            return
        if self.provider == ANTHROPIC:
            # Anthropic takes the key as x-api-key or as a bearer token (its newer SDKs send the
            # latter). Every credential present must be the key, so one forwarded beside the
            # injected one is caught.
            sent = {name: headers[name] for name in ("x-api-key", "authorization") if name in headers}
            if not sent:
                raise SimError(401, "x-api-key header is required")
            if sent.get("x-api-key", key) != key or sent.get("authorization", f"Bearer {key}") != f"Bearer {key}":
                raise SimError(401, "invalid x-api-key")
        elif self.provider == GEMINI:
            # Google takes the key as x-goog-api-key or ?key=, and answers as its API does: no key
            # is 403, a wrong one 400. A bearer token would be an OAuth token: 401 unless it is the
            # key (so one forwarded beside the injected key is caught), like every key present.
            given = ([headers["x-goog-api-key"]] if "x-goog-api-key" in headers else []) + self.query.get("key", [])
            bearer = headers.get("authorization")
            if bearer is not None and bearer != f"Bearer {key}":
                raise SimError(401, "Request had invalid authentication credentials. Expected OAuth 2 access "
                                    "token, login cookie or other valid authentication credential.")
            if not given and bearer is None:
                raise SimError(403, "Method doesn't allow unregistered callers (callers without established "
                                    "identity). Please use API Key or other form of API consumer identity to call "
                                    "this API.")
            if any(k != key for k in given):
                raise SimError(400, "API key not valid. Please pass a valid API key.")
        else:
            given = headers.get("authorization")
            if given != f"Bearer {key}":
                raise SimError(401, "You didn't provide an API key." if given is None else "Incorrect API key provided.")

    def dispatch(self, method: str, body: Dict[str, Any], d: Directives) -> None:
        if self.provider == GEMINI:
            self.dispatch_gemini(method, body, d)
            return
        routes = {
            ("POST", "/v1/chat/completions"): self.api_chat,
            ("POST", "/v1/responses"): self.api_responses,
            ("POST", "/v1/embeddings"): self.api_embeddings,
            ("POST", "/v1/images/generations"): self.api_images,
            ("POST", "/v1/audio/transcriptions"): self.api_transcriptions,
            ("POST", "/v1/audio/translations"): self.api_translations,
            ("POST", "/v1/audio/speech"): self.api_speech,
            ("GET", "/v1/models"): self.api_models,
            ("POST", "/v1/messages"): self.api_messages,
            ("POST", "/v1/messages/count_tokens"): self.api_count_tokens,
            ("POST", "/v1/moderations"): self.api_moderations,
            ("POST", "/v1/images/edits"): lambda body, d: openai_more.images_edit(self, body, d),
        }
        handler = routes.get((method, self.route))
        if handler is not None:
            handler(body, d)
            return
        part = UPLOAD_PART.match(self.route)
        if method == "POST" and part:
            self.api_upload_part(part.group(1), d)
            return
        stored = STORED_RESPONSE.match(self.route)
        if method == "GET" and stored:
            with self.server.caches_lock:
                found = self.server.responses.get(stored.group(1))
            if found is None:
                raise SimError(404, f"Response with id '{stored.group(1)}' not found.")
            self.answer_json(200, found, cut=d.cut is not None)
            return
        if method == "DELETE" and stored:
            with self.server.caches_lock:
                found = self.server.responses.pop(stored.group(1), None)
            if found is None:
                raise SimError(404, f"Response with id '{stored.group(1)}' not found.")
            self.answer_json(200, {"id": stored.group(1), "object": "response", "deleted": True})
            return
        content = CONTAINER_CONTENT.match(self.route)
        if method == "GET" and content:
            self.api_container_content(content.group(1), d)
            return
        for verb, path, name in JOB_ROUTES:
            found = path.match(self.route)
            if verb == method and found:
                getattr(self, name)(body, d, *found.groups())
                return
        raise SimError(404, f"Unknown request URL: {method} {self.route}.")

    def control(self, method: str) -> None:
        stats = self.server.stats
        status = 200
        if method == "GET" and self.route == "/_sim/stats":
            data = dumps(stats.snapshot()).encode()
        elif method == "POST" and self.route == "/_sim/reset":
            stats.reset()
            data = b"{}"
        elif method == "POST" and self.route == "/_sim/release":
            self.server.release()
            data = b"{}"
        else:
            status, data = 404, dumps({"error": f"no {method} {self.route}"}).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    # -- OpenAI --------------------------------------------------------------------------------

    def require_files(self, body: Dict[str, Any]) -> None:
        """OpenAI refuses a call naming a file its account does not have (a chat's `file` part, a
        response's `input_file` or `input_image`), naming the file."""
        for fid in named_file_ids(body):
            if self.server.store.file(fid) is None:
                raise SimError(400, f"Invalid file id: '{fid}'. The file does not exist or is not accessible.", "file_id")

    def api_chat(self, body: Dict[str, Any], d: Directives) -> None:
        if not isinstance(body.get("messages"), list):
            raise SimError(400, "Missing required parameter: 'messages'.", "messages")
        self.require_files(body)
        n = positive(body, "n", 1, 128)
        p = plan(d, chat_input(body), max_tokens(body, "max_completion_tokens", "max_tokens"), n)
        model = str(body.get("model") or "gpt-4o-mini")
        cid, created = new_id("chatcmpl-"), int(time.time())
        finish = "length" if p.truncated else "stop"
        usage: Dict[str, Any] = {
            "prompt_tokens": p.input, "completion_tokens": p.output, "total_tokens": p.input + p.output,
            "prompt_tokens_details": {"cached_tokens": p.cached, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": p.reasoning, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
        }
        if d.cache_write is not None:
            usage["prompt_tokens_details"]["cache_write_tokens"] = p.cache_write
        if d.cost is not None:
            usage["cost"] = d.cost / 1_000_000
        counts = {"input_tokens": p.input, "output_tokens": p.output, "cached_input_tokens": p.cached,
                  "cache_write_tokens": p.cache_write, "reasoning_tokens": p.reasoning}
        pieces = reply_words(p.per_choice)
        if not body.get("stream"):
            answer = {"id": cid, "object": "chat.completion", "created": created, "model": model,
                      "choices": [{"index": i, "finish_reason": finish, "logprobs": None,
                                   "message": {"role": "assistant", "content": "".join(pieces), "refusal": None,
                                               "annotations": []}} for i in range(n)],
                      "service_tier": "default", "system_fingerprint": "fp_sim"}
            if d.usage:
                answer["usage"] = usage
            self.answer_json(200, answer, cut=d.cut is not None, reported=counts if d.usage else None)
            return
        include = d.usage and bool((body.get("stream_options") or {}).get("include_usage"))

        def chunk(choices: List[Dict[str, Any]], with_usage: Any = None) -> Dict[str, Any]:
            found = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                     "service_tier": "default", "system_fingerprint": "fp_sim", "choices": choices}
            if include:
                found["usage"] = with_usage
            return found

        def choice(i: int, delta: Dict[str, Any], reason: Optional[str] = None) -> Dict[str, Any]:
            return {"index": i, "delta": delta, "logprobs": None, "finish_reason": reason}

        with Stream(self, d) as s:
            for i in range(n):
                s.send(None, chunk([choice(i, {"role": "assistant", "content": "", "refusal": None})]))
            for piece in pieces:
                for i in range(n):
                    s.delta(None, chunk([choice(i, {"content": piece})]))
            s.before_end()
            for i in range(n):
                s.send(None, chunk([choice(i, {}, finish)]))
            if include:
                s.send(None, chunk([], usage))
                self.server.stats.add(**counts)
            s.send(None, "[DONE]")

    def api_responses(self, body: Dict[str, Any], d: Directives) -> None:
        self.require_files(body)
        counted = responses_input(body)
        previous = body.get("previous_response_id")
        if previous is not None:
            # A continuation's input carries the stored conversation: its input and its output.
            with self.server.caches_lock:
                stored = self.server.responses.get(str(previous))
            if stored is None:
                raise SimError(404, f"Previous response with id '{previous}' not found.", "previous_response_id")
            counted += stored["usage"]["input_tokens"] + stored["usage"]["output_tokens"]
        p = plan(d, counted, max_tokens(body, "max_output_tokens"))
        model = str(body.get("model") or "gpt-4o-mini")
        rid, mid = new_id("resp_"), new_id("msg_")
        pieces = reply_words(p.per_choice)
        text = "".join(pieces)
        part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
        item = {"id": mid, "type": "message", "status": "incomplete" if p.truncated else "completed",
                "role": "assistant", "content": [part]}
        status = "incomplete" if p.truncated else "completed"
        usage: Dict[str, Any] = {"input_tokens": p.input,
                 "input_tokens_details": {"cached_tokens": p.cached},
                 "output_tokens": p.output, "output_tokens_details": {"reasoning_tokens": p.reasoning},
                 "total_tokens": p.input + p.output}
        if d.cache_write is not None:
            usage["input_tokens_details"]["cache_write_tokens"] = p.cache_write
        counts = {"input_tokens": p.input, "output_tokens": p.output, "cached_input_tokens": p.cached,
                  "cache_write_tokens": p.cache_write, "reasoning_tokens": p.reasoning}
        done: Dict[str, Any] = {
            "id": rid, "object": "response", "created_at": int(time.time()), "status": status,
            "background": False, "error": None,
            "incomplete_details": {"reason": "max_output_tokens"} if p.truncated else None,
            "instructions": body.get("instructions"), "max_output_tokens": body.get("max_output_tokens"),
            "model": model, "output": [item], "parallel_tool_calls": True, "previous_response_id": None,
            "reasoning": {"effort": None, "summary": None}, "service_tier": "default",
            "store": body.get("store", True) is not False,
            "temperature": 1.0, "text": {"format": {"type": "text"}}, "tool_choice": "auto", "tools": [],
            "top_p": 1.0, "truncation": "disabled", "user": None, "metadata": {},
        }
        if previous is not None:
            done["previous_response_id"] = previous
        if body.get("store", True) is not False:
            with self.server.caches_lock:
                self.server.responses[rid] = {**done, "usage": usage}
                while len(self.server.responses) > MAX_JOBS:
                    self.server.responses.popitem(last=False)
        if d.usage:
            done["usage"] = usage
        if not body.get("stream"):
            self.answer_json(200, done, cut=d.cut is not None, reported=counts if d.usage else None)
            return
        running = {**done, "status": "in_progress", "output": [], "incomplete_details": None}
        if d.usage:
            running["usage"] = None
        numbered = iter(range(1 << 30))

        def event(kind: str, **data: Any) -> Dict[str, Any]:
            return {"type": kind, "sequence_number": next(numbered), **data}

        where = {"item_id": mid, "output_index": 0, "content_index": 0}
        with Stream(self, d) as s:
            s.send("response.created", event("response.created", response=running))
            s.send("response.in_progress", event("response.in_progress", response=running))
            s.send("response.output_item.added", event(
                "response.output_item.added", output_index=0,
                item={**item, "status": "in_progress", "content": []}))
            s.send("response.content_part.added", event(
                "response.content_part.added", **where, part={**part, "text": ""}))
            for piece in pieces:
                s.delta("response.output_text.delta", event("response.output_text.delta", **where,
                                                            delta=piece, logprobs=[]))
            s.before_end()
            s.send("response.output_text.done", event("response.output_text.done", **where, text=text, logprobs=[]))
            s.send("response.content_part.done", event("response.content_part.done", **where, part=part))
            s.send("response.output_item.done", event("response.output_item.done", output_index=0, item=item))
            final = f"response.{status}"
            s.send(final, event(final, response=done))
            if d.usage:
                self.server.stats.add(**counts)

    def api_embeddings(self, body: Dict[str, Any], d: Directives) -> None:
        counts = embedding_inputs(body.get("input"))
        if not counts:
            raise SimError(400, "'input' is a required property", "input")
        dims = positive(body, "dimensions", EMBEDDING_DIMENSIONS, 4096)
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for i in range(len(counts)):
            vector = [round(((i * 7 + j * 3) % 11) / 10 - 0.5, 3) for j in range(dims)]
            encoded: Any = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode() if as_base64 else vector
            data.append({"object": "embedding", "index": i, "embedding": encoded})
        tokens = d.input if d.input is not None else max(1, sum(counts))
        answer: Dict[str, Any] = {"object": "list", "data": data,
                                  "model": str(body.get("model") or "text-embedding-3-small")}
        if d.usage:
            answer["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
        self.answer_json(200, answer, cut=d.cut is not None, reported={"input_tokens": tokens} if d.usage else None)

    def api_images(self, body: Dict[str, Any], d: Directives, image_tokens: int = 0) -> None:
        """`image_tokens`: an edit's input images, counted within the input beside the prompt."""
        if not isinstance(body.get("prompt"), str):
            raise SimError(400, "Missing required parameter: 'prompt'.", "prompt")
        n = positive(body, "n", 1, 10)
        text_tokens = d.input if d.input is not None else max(1, words(body["prompt"]))
        tokens = text_tokens + image_tokens
        output = n * (DEFAULT_OUTPUT if d.output is None else d.output)
        answer: Dict[str, Any] = {
            "created": int(time.time()), "background": "opaque", "output_format": "png",
            "quality": str(body.get("quality") or "low"), "size": str(body.get("size") or "1024x1024"),
            "data": [{"b64_json": PNG_B64} for _ in range(n)],
        }
        if d.usage:
            answer["usage"] = {"input_tokens": tokens,
                               "input_tokens_details": {"image_tokens": image_tokens, "text_tokens": text_tokens},
                               "output_tokens": output,
                               "output_tokens_details": {"image_tokens": output, "text_tokens": 0},
                               "total_tokens": tokens + output}
        reported = {"images": n, **({"input_tokens": tokens, "output_tokens": output} if d.usage else {})}
        self.answer_json(200, answer, cut=d.cut is not None, reported=reported)

    def answer_bytes(self, content_type: str, data: bytes, cut: bool = False) -> None:
        """A body that is not JSON (a transcript as text, speech's audio), `cut=` as JSON's."""
        self.start(200, content_type, [("Content-Length", str(len(data)))])
        if cut:
            self.close_connection = True
            self.server.stats.stream("cut")
            self.send_raw(data[: len(data) // 2])
            return
        self.send_raw(data)

    def api_transcriptions(self, body: Dict[str, Any], d: Directives) -> None:
        self.transcribe(body, d, translate=False)

    def api_translations(self, body: Dict[str, Any], d: Directives) -> None:
        self.transcribe(body, d, translate=True)

    def transcribe(self, _body: Dict[str, Any], d: Directives, translate: bool) -> None:
        upload = self.upload
        if upload is None:
            raise SimError(400, "Could not parse multipart form", "file")
        model = upload.fields.get("model")
        if not model:
            raise SimError(400, "you must provide a model parameter", "model")
        if upload.file is None:
            raise SimError(400, "Missing required parameter: 'file'.", "file")
        if translate and model != "whisper-1":
            raise SimError(400, f"The model {model} does not support translations.", "model")
        decoded = audio_seconds(bytes(upload.file.head), upload.file.size)
        length = float(d.seconds) if d.seconds is not None else decoded
        if length is None:
            raise SimError(400, "Audio file might be corrupted or unsupported", "file")
        pieces = reply_words(DEFAULT_OUTPUT if d.output is None else d.output)
        text = "".join(pieces)
        stats = self.server.stats
        by_tokens = model in TOKEN_TRANSCRIBERS
        audio_tokens = math.ceil(length * AUDIO_TOKENS_PER_SECOND)
        prompt = words(upload.fields.get("prompt") or "")
        if by_tokens:
            usage: Dict[str, Any] = {"type": "tokens", "input_tokens": audio_tokens + prompt,
                                     "input_token_details": {"text_tokens": prompt, "audio_tokens": audio_tokens},
                                     "output_tokens": len(pieces), "total_tokens": audio_tokens + prompt + len(pieces)}
            counts = {"input_tokens": audio_tokens + prompt, "audio_input_tokens": audio_tokens,
                      "output_tokens": len(pieces)}
        else:
            usage = {"type": "duration", "seconds": math.ceil(length)}
            counts = {"audio_seconds": math.ceil(length)}
        form = upload.fields.get("response_format") or "json"
        if upload.fields.get("stream") == "true" and by_tokens and not translate:
            with Stream(self, d) as s:
                for piece in pieces:
                    s.delta(None, {"type": "transcript.text.delta", "delta": piece, "logprobs": None})
                s.before_end()
                done: Dict[str, Any] = {"type": "transcript.text.done", "text": text, "logprobs": None}
                if d.usage:
                    done["usage"] = usage
                    stats.add(**counts)
                s.send(None, done)
            return
        # A translation's answer, and a transcript as text, subtitles or (for tokens) without
        # usage, report none.
        reports = d.usage and not translate and form in ("json", "verbose_json")
        if form in ("text", "srt", "vtt"):
            if form == "srt":
                text = f"1\n00:00:00,000 --> 00:00:{min(59, math.ceil(length)):02d},000\n{text}\n"
            elif form == "vtt":
                text = f"WEBVTT\n\n00:00:00.000 --> 00:00:{min(59, math.ceil(length)):02d}.000\n{text}\n"
            self.answer_bytes("text/plain; charset=utf-8", text.encode(), cut=d.cut is not None)
            return
        answer: Dict[str, Any] = {"text": text}
        if form == "verbose_json":
            answer = {"task": "translate" if translate else "transcribe", "language": "english",
                      "duration": round(length, 2), "text": text, "segments": []}
        if reports:
            answer["usage"] = usage
        self.answer_json(200, answer, cut=d.cut is not None, reported=counts if reports else None)

    def api_speech(self, body: Dict[str, Any], d: Directives) -> None:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise SimError(400, "Missing required parameter: 'model'.", "model")
        given = body.get("input")
        if not isinstance(given, str):
            raise SimError(400, "Missing required parameter: 'input'.", "input")
        if len(given) > MAX_SPEECH_CHARACTERS:
            raise SimError(400, f"'input' is longer than {MAX_SPEECH_CHARACTERS} characters.", "input")
        if not body.get("voice"):
            raise SimError(400, "Missing required parameter: 'voice'.", "voice")
        sse = body.get("stream_format") == "sse"
        if sse and model in CHARACTER_SPEAKERS:
            raise SimError(400, f"stream_format 'sse' is not supported for {model}.", "stream_format")
        # One frame of audio a character: the answer's length follows its text.
        frames = max(1, len(given))
        if not sse:
            kinds = {"mp3": "audio/mpeg", "opus": "audio/ogg", "aac": "audio/aac", "flac": "audio/flac",
                     "wav": "audio/wav", "pcm": "audio/pcm"}
            kind = kinds.get(str(body.get("response_format") or "mp3"), "audio/mpeg")
            self.answer_bytes(kind, MP3_FRAME * frames, cut=d.cut is not None)
            return
        inputs = words(given) + words(str(body.get("instructions") or ""))
        output = DEFAULT_OUTPUT if d.output is None else d.output
        with Stream(self, d) as s:
            for _ in range(output):
                s.delta(None, {"type": "speech.audio.delta", "audio": base64.b64encode(MP3_FRAME).decode()})
            s.before_end()
            done: Dict[str, Any] = {"type": "speech.audio.done"}
            if d.usage:
                done["usage"] = {"input_tokens": inputs, "output_tokens": output, "total_tokens": inputs + output}
                self.server.stats.add(input_tokens=inputs, output_tokens=output, audio_output_tokens=output)
            s.send(None, done)

    def api_models(self, _body: Dict[str, Any], d: Directives) -> None:
        names = ["gpt-4o-mini", "gpt-4o", "gpt-image-1", "text-embedding-3-small"]
        if self.provider == ANTHROPIC:
            names = ["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"]
            data = [{"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"} for m in names]
            answer: Dict[str, Any] = {"data": data, "has_more": False, "first_id": names[0], "last_id": names[-1]}
        else:
            answer = {"object": "list", "data": [{"id": m, "object": "model", "created": 1700000000,
                                                  "owned_by": "system"} for m in names]}
        self.answer_json(200, answer, cut=d.cut is not None)

    def api_moderations(self, body: Dict[str, Any], d: Directives) -> None:
        inputs = body.get("input")
        if inputs is None:
            raise SimError(400, "Missing required parameter: 'input'.", "input")
        count = len(inputs) if isinstance(inputs, list) else 1
        result = {"flagged": False, "categories": {"violence": False}, "category_scores": {"violence": 0.0001}}
        self.answer_json(200, {"id": new_id("modr-"), "model": str(body.get("model") or "omni-moderation-latest"),
                               "results": [result] * count}, cut=d.cut is not None)

    def api_upload_part(self, upload_id: str, d: Directives) -> None:
        # An Uploads API part: a multipart form with its bytes in `data`; the part answers its size.
        self.answer_json(200, {"id": new_id("part_"), "object": "upload.part", "created_at": int(time.time()),
                               "upload_id": upload_id, "bytes": len(self.raw)}, cut=d.cut is not None)

    def api_container_content(self, container: str, d: Directives) -> None:
        # A container file's bytes: `cntr_<n>` holds n bytes (else 1,024), byte i being i % 251,
        # written a megabyte at a time as a file is served.
        found = re.fullmatch(r"cntr_(\d{1,10})", container)
        size = int(found.group(1)) if found else 1024
        self.start(200, "application/octet-stream", [("Content-Length", str(size))])
        pattern = bytes(i % 251 for i in range(251)) * ((1 << 20) // 251 + 2)
        sent = 0
        while sent < size:
            offset = sent % 251
            chunk = pattern[offset:offset + min(1 << 20, size - sent)]
            if d.cut is not None and sent + len(chunk) >= size // 2:
                self.close_connection = True
                self.send_raw(chunk[: size // 2 - sent])
                return
            self.send_raw(chunk)
            sent += len(chunk)

    # -- Anthropic -----------------------------------------------------------------------------

    def api_messages(self, body: Dict[str, Any], d: Directives) -> None:
        if not isinstance(body.get("messages"), list):
            raise SimError(400, "messages: Field required")
        limit = max_tokens(body, "max_tokens")
        if limit is None:
            raise SimError(400, "max_tokens: Field required")
        p = plan(d, chat_input(body), limit, partitioned=True)
        model = str(body.get("model") or "claude-sonnet-4-5")
        mid = new_id("msg_")
        pieces = reply_words(p.per_choice)
        stop = "max_tokens" if p.truncated else "end_turn"

        def usage(output: int, final: bool, start: bool = False) -> Dict[str, Any]:
            found: Dict[str, Any] = {"input_tokens": p.input, "cache_creation_input_tokens": p.cache_write,
                                     "cache_read_input_tokens": p.cached, "output_tokens": output}
            if start or not body.get("stream"):
                found["cache_creation"] = {"ephemeral_5m_input_tokens": p.cache_write, "ephemeral_1h_input_tokens": 0}
                found["service_tier"] = "standard"
            if final and p.reasoning:
                found["output_tokens_details"] = {"thinking_tokens": p.reasoning}
            return found

        message: Dict[str, Any] = {"id": mid, "type": "message", "role": "assistant", "model": model,
                                   "content": [], "stop_reason": None, "stop_sequence": None}
        if not body.get("stream"):
            if pieces:
                message["content"] = [{"type": "text", "text": "".join(pieces)}]
            message["stop_reason"] = stop
            if d.usage:
                message["usage"] = usage(p.output, final=True)
            counts = {"input_tokens": p.input, "output_tokens": p.output, "cached_input_tokens": p.cached,
                      "cache_write_tokens": p.cache_write, "reasoning_tokens": p.reasoning}
            self.answer_json(200, message, cut=d.cut is not None, reported=counts if d.usage else None)
            return
        # The start reports the prompt and a first output token; each message_delta then reports
        # the running totals, never increments. The read-back counts what was reported so far.
        started = min(1, p.output)
        if d.usage:
            message["usage"] = usage(started, final=False, start=True)
        with self.open_stream(d) as s:
            s.send("message_start", {"type": "message_start", "message": message})
            reported = 0
            if d.usage:
                self.server.stats.add(input_tokens=p.input, cached_input_tokens=p.cached,
                                      cache_write_tokens=p.cache_write, output_tokens=started)
                reported = started
            s.send("content_block_start", {"type": "content_block_start", "index": 0,
                                           "content_block": {"type": "text", "text": ""}})
            s.send("ping", {"type": "ping"})
            for piece in pieces:
                s.delta("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                "delta": {"type": "text_delta", "text": piece}})
            s.before_end()
            s.send("content_block_stop", {"type": "content_block_stop", "index": 0})
            for k in range(1, d.deltas + 1):
                final = k == d.deltas
                running = max(started, math.ceil(p.output * k / d.deltas))
                event: Dict[str, Any] = {"type": "message_delta",
                                         "delta": {"stop_reason": stop if final else None, "stop_sequence": None}}
                if d.usage:
                    event["usage"] = usage(running, final)
                s.send("message_delta", event)
                if d.usage:
                    self.server.stats.add(output_tokens=running - reported,
                                          reasoning_tokens=p.reasoning if final else 0)
                    reported = running
            s.send("message_stop", {"type": "message_stop"})

    def api_count_tokens(self, body: Dict[str, Any], d: Directives) -> None:
        if not isinstance(body.get("messages"), list):
            raise SimError(400, "messages: Field required")
        tokens = d.input if d.input is not None else chat_input(body)
        self.answer_json(200, {"input_tokens": tokens}, cut=d.cut is not None)

    # -- Jobs: files, batches, message batches, videos ------------------------------------------

    def disk_sink(self, name: str, filename: str) -> AudioFile:
        """An upload to `/v1/files`: its `file` part to disk, held until the file is stored."""
        if name != "file":
            return AudioFile(filename)
        part = DiskPart(filename)
        self.pending.append(part.stored)
        return part

    def adopt(self, held: Any) -> Any:
        """What this call wrote to disk, now a stored file's or a job's: no longer closed with the call."""
        self.pending.remove(held)
        return held

    def host(self) -> str:
        return self.headers.get("Host") or f"127.0.0.1:{self.server.server_address[1]}"

    def query_int(self, name: str, default: int, most: int) -> int:
        given = self.query.get(name, [None])[0]
        if given is None:
            return default
        try:
            value = int(given)
        except ValueError:
            value = 0
        if not 1 <= value <= most:
            raise SimError(400, f"Invalid '{name}': {given!r}, expected an integer from 1 to {most}.", name)
        return value

    def page(self, items: List[Any], default: int, most: int, after: str = "after",
             before: Optional[str] = None) -> Tuple[List[Any], bool]:
        """A page of `items` (in the order they are listed): those after the id the query names
        as `after` (or before the one it names as `before`), at most `limit` of them."""
        limit = self.query_int("limit", default, most)
        ids = [item.id for item in items]
        later = self.query.get(before, [None])[0] if before else None
        if later is not None:
            items = items[: ids.index(later)] if later in ids else []
            return items[-limit:], len(items) > limit
        earlier = self.query.get(after, [None])[0]
        if earlier is not None:
            items = items[ids.index(earlier) + 1:] if earlier in ids else []
        return items[:limit], len(items) > limit

    def find_job(self, kind: str, jid: str) -> Job:
        job = self.server.store.job(kind, jid)
        if job is None:
            raise SimError(404, {"batch": f"No batch found with id '{jid}'.",
                                 "message_batch": f"Message Batch {jid} not found.",
                                 "video": f"Video with id '{jid}' not found."}[kind], None, null_code=True)
        return job

    def new_job(self, job: Job) -> None:
        if job.d.end not in job.ends:
            raise SimError(400, f"x-sim: end={job.d.end} does not apply to a {job.kind.replace('_', ' ')} "
                                f"(it takes {', '.join(job.ends)})", "x-sim")
        status = job.status()
        job.reached(status)
        self.server.store.add_job(job)
        self.server.stats.job(job.id, job.kind, status)

    def read_job(self, kind: str, jid: str, d: Directives) -> None:
        """A GET of a job: one read more, which moves it along (and answers its lines when they
        are first due), counted in the read-back."""
        job = self.find_job(kind, jid)
        if job.d.read_stall:
            time.sleep(job.d.read_stall / 1000)
        with job.lock:
            job.reads += 1
            if job.due(job.status()):
                job.process(self.server)
            status = job.status()
            job.reached(status)
            view = job.view(self.host())
        self.server.stats.job(job.id, job.kind, status, read=True)
        waiting = []
        if status not in job.terminal and self.provider == OPENAI:
            waiting = [("openai-poll-after-ms", str(POLL_AFTER_MS))]
        self.answer_json(200, view, cut=d.cut is not None, headers=waiting)

    def cancel_job(self, kind: str, jid: str, d: Directives) -> None:
        job = self.find_job(kind, jid)
        with job.lock:
            status = job.status()
            if status in job.terminal:
                if kind == "batch":
                    raise SimError(409, f"Cannot cancel a batch with status '{status}'.", None, null_code=True)
                raise SimError(400, f"Message Batch {jid} has already ended; it cannot be canceled.")
            if job.cancelled_after is None:
                job.cancel(self.server)
            status = job.status()
            job.reached(status)
            view = job.view(self.host())
        self.server.stats.job(job.id, job.kind, status)
        self.answer_json(200, view, cut=d.cut is not None)

    def list_jobs(self, kind: str, d: Directives, default: int, most: int, anthropic: bool = False) -> None:
        jobs = self.server.store.listed(kind)
        if self.query.get("order", ["desc"])[0] == "asc":
            jobs.reverse()
        shown, more = self.page(jobs, default, most, "after_id" if anthropic else "after",
                                "before_id" if anthropic else None)
        data = []
        for job in shown:
            with job.lock:
                data.append(job.view(self.host()))
        answer: Dict[str, Any] = {"data": data, "has_more": more, "first_id": shown[0].id if shown else None,
                                  "last_id": shown[-1].id if shown else None}
        if not anthropic:
            answer = {"object": "list", **answer}
        self.answer_json(200, answer, cut=d.cut is not None)

    def answer_stored(self, stored: StoredFile, content_type: str, d: Directives) -> None:
        """A stored file's bytes, streamed from disk a block at a time; `cut=` as JSON's."""
        reading = stored.reading()
        if reading is None:
            raise SimError(404, f"No such File object: {stored.id}", "id", null_code=True)
        with reading:
            self.start(200, content_type, [("Content-Length", str(reading.size))])
            left = reading.size // 2 if d.cut is not None else reading.size
            if d.cut is not None:
                self.close_connection = True
                self.server.stats.stream("cut")
            for data in reading.blocks():
                if left <= 0:
                    break
                self.send_raw(data[:left])
                left -= len(data)

    # OpenAI's files.

    def stored_file(self, fid: str) -> StoredFile:
        found = self.server.store.file(fid)
        if found is None:
            raise SimError(404, f"No such File object: {fid}", "id", null_code=True)
        return found

    def api_file_create(self, _body: Dict[str, Any], d: Directives) -> None:
        upload = self.upload
        if upload is None:
            raise SimError(400, "The body must be multipart/form-data with the fields 'purpose' and 'file'.", "file")
        purpose = upload.fields.get("purpose")
        if not purpose:
            raise SimError(400, "Missing required parameter: 'purpose'.", "purpose")
        if purpose not in FILE_PURPOSES:
            raise SimError(400, f"Invalid value: '{purpose}'. Supported values are: {quoted(FILE_PURPOSES)}.",
                           "purpose", "invalid_value")
        part = upload.file
        if not isinstance(part, DiskPart):
            raise SimError(400, "Missing required parameter: 'file'.", "file")
        stored = self.adopt(part.stored).done()
        stored.purpose = purpose
        self.server.store.add_file(stored)
        self.answer_json(200, stored.object(), cut=d.cut is not None)

    def api_file_list(self, _body: Dict[str, Any], d: Directives) -> None:
        purpose = self.query.get("purpose", [None])[0]
        files = [f for f in reversed(self.server.store.listed_files()) if purpose is None or f.purpose == purpose]
        if self.query.get("order", ["desc"])[0] == "asc":
            files.reverse()
        shown, more = self.page(files, 10000, 10000)
        self.answer_json(200, {"object": "list", "data": [f.object() for f in shown],
                               "first_id": shown[0].id if shown else None,
                               "last_id": shown[-1].id if shown else None, "has_more": more}, cut=d.cut is not None)

    def api_file_get(self, _body: Dict[str, Any], d: Directives, fid: str) -> None:
        self.answer_json(200, self.stored_file(fid).object(), cut=d.cut is not None)

    def api_file_content(self, _body: Dict[str, Any], d: Directives, fid: str) -> None:
        self.answer_stored(self.stored_file(fid), "application/octet-stream", d)

    def api_file_delete(self, _body: Dict[str, Any], d: Directives, fid: str) -> None:
        self.stored_file(fid)
        self.server.store.drop_file(fid)
        self.answer_json(200, {"id": fid, "object": "file", "deleted": True}, cut=d.cut is not None)

    # OpenAI's batches.

    def api_batch_create(self, body: Dict[str, Any], d: Directives) -> None:
        for name in ("input_file_id", "endpoint", "completion_window"):
            if not body.get(name):
                raise SimError(400, f"Missing required parameter: '{name}'.", name)
        fid, endpoint, window = body["input_file_id"], body["endpoint"], body["completion_window"]
        azure = type(self.cloud).__name__ == "Azure"
        if (batch_route(endpoint) if azure else endpoint) not in BATCH_ENDPOINTS:
            raise SimError(400, f"Invalid value: '{endpoint}'. Supported values are: {quoted(BATCH_ENDPOINTS)}.",
                           "endpoint", "invalid_value")
        if window != "24h":
            raise SimError(400, f"Invalid value: '{window}'. Supported values are: '24h'.", "completion_window",
                           "invalid_value")
        metadata = body.get("metadata")
        if metadata is not None and (not isinstance(metadata, dict) or len(metadata) > 16 or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())):
            raise SimError(400, "Invalid 'metadata': at most 16 pairs of a string and a string.", "metadata")
        stored = self.server.store.file(fid) if isinstance(fid, str) else None
        reading = stored.reading() if stored is not None else None
        if stored is None or reading is None:
            raise SimError(400, f"Invalid 'input_file_id': '{fid}'. No such File object.", "input_file_id")
        with reading:
            if stored.purpose != "batch":
                raise SimError(400, f"Invalid 'input_file_id': '{fid}'. The file's purpose must be 'batch', not "
                                    f"'{stored.purpose}'.", "input_file_id")
            # Counted now, for the counts of the reads before the lines are answered.
            total = sum(1 for line in reading.lines() if line is None or line.strip())
        job = Batch(d, self.sim_header, fid, endpoint, window, metadata, total)
        self.new_job(job)
        self.answer_json(200, job.view(), cut=d.cut is not None)

    def api_batch_list(self, _body: Dict[str, Any], d: Directives) -> None:
        self.list_jobs("batch", d, 20, 100)

    def api_batch_get(self, _body: Dict[str, Any], d: Directives, bid: str) -> None:
        self.read_job("batch", bid, d)

    def api_batch_cancel(self, _body: Dict[str, Any], d: Directives, bid: str) -> None:
        self.cancel_job("batch", bid, d)

    # Anthropic's message batches.

    def api_message_batch_create(self, _body: Dict[str, Any], d: Directives) -> None:
        spool = self.spool
        assert spool is not None, "a message batch's body is read into a spool"
        if spool.count == 0:
            raise SimError(400, "requests: List should have at least 1 item after validation, not 0")
        job = MessageBatch(d, self.sim_header, spool)
        self.new_job(job)
        self.adopt(spool)
        self.answer_json(200, job.view(self.host()), cut=d.cut is not None)

    def api_message_batch_list(self, _body: Dict[str, Any], d: Directives) -> None:
        self.list_jobs("message_batch", d, 20, 1000, anthropic=True)

    def api_message_batch_get(self, _body: Dict[str, Any], d: Directives, jid: str) -> None:
        self.read_job("message_batch", jid, d)

    def api_message_batch_results(self, _body: Dict[str, Any], d: Directives, jid: str) -> None:
        job = self.find_job("message_batch", jid)
        with job.lock:
            results = job.results if isinstance(job, MessageBatch) and job.status() == "ended" else None
        if results is None:
            raise SimError(400, f"Message Batch {jid} has not ended yet; its results are not available.")
        self.answer_stored(results, "application/binary", d)

    def api_message_batch_cancel(self, _body: Dict[str, Any], d: Directives, jid: str) -> None:
        self.cancel_job("message_batch", jid, d)

    def api_message_batch_delete(self, _body: Dict[str, Any], d: Directives, jid: str) -> None:
        job = self.find_job("message_batch", jid)
        with job.lock:
            status = job.status()
        if status != "ended":
            raise SimError(400, f"Message Batch {jid} cannot be deleted while it is {status.replace('_', ' ')}; "
                                "cancel it first.")
        self.server.store.drop_job("message_batch", jid)
        self.server.stats.job(jid, job.kind, "deleted")
        self.answer_json(200, {"id": jid, "type": "message_batch_deleted"}, cut=d.cut is not None)

    # OpenAI's videos.

    def api_video_create(self, body: Dict[str, Any], d: Directives) -> None:
        # The official client sends a multipart form (its reference image a file part); JSON too.
        fields: Dict[str, Any] = dict(self.upload.fields) if self.upload is not None else body
        prompt = fields.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            raise SimError(400, "Missing required parameter: 'prompt'.", "prompt")
        model = fields.get("model") or "sora-2"
        if not isinstance(model, str):
            raise SimError(400, f"Invalid type for 'model': expected a string, but got {type(model).__name__}.",
                           "model")
        chosen = []
        for name, default, allowed in (("seconds", "4", VIDEO_SECONDS), ("size", "720x1280", VIDEO_SIZES)):
            given = fields.get(name, default)
            if str(given) not in allowed or isinstance(given, (bool, float)):
                raise SimError(400, f"Invalid value: '{given}'. Supported values are: {quoted(allowed)}.", name,
                               "invalid_value")
            chosen.append(str(given))
        job = Video(d, self.sim_header, model, prompt, chosen[0], chosen[1])
        self.new_job(job)
        self.answer_json(200, job.view(), cut=d.cut is not None)

    def api_video_list(self, _body: Dict[str, Any], d: Directives) -> None:
        self.list_jobs("video", d, 20, 100)

    def api_video_get(self, _body: Dict[str, Any], d: Directives, vid: str) -> None:
        self.read_job("video", vid, d)

    def api_video_content(self, _body: Dict[str, Any], d: Directives, vid: str) -> None:
        job = self.find_job("video", vid)
        variant = self.query.get("variant", ["video"])[0]
        if variant != "video":
            raise SimError(400, f"Invalid value: '{variant}'. The simulator serves only the 'video' variant.",
                           "variant", "invalid_value")
        with job.lock:
            status = job.status()
        if status != "completed":
            raise SimError(400, f"Video {vid} is not ready: its status is '{status}'.", None, null_code=True)
        self.answer_bytes("video/mp4", MP4, cut=d.cut is not None)

    def api_video_remix(self, body: Dict[str, Any], d: Directives, vid: str) -> None:
        openai_more.video_remix(self, body, d, vid)

    def api_video_delete(self, _body: Dict[str, Any], d: Directives, vid: str) -> None:
        job = self.find_job("video", vid)
        self.server.store.drop_job("video", vid)
        self.server.stats.job(vid, job.kind, "deleted")
        self.answer_json(200, {"id": vid, "object": "video.deleted", "deleted": True}, cut=d.cut is not None)

    # -- Gemini --------------------------------------------------------------------------------

    def dispatch_gemini(self, method: str, body: Dict[str, Any], d: Directives) -> None:
        call = GEMINI_CALL.match(self.route)
        listed = GEMINI_MODELS.match(self.route)
        if method == "POST" and call:
            model, verb = call.group(2), call.group(3)
            if verb in ("generateContent", "streamGenerateContent"):
                self.api_generate(model, body, d, stream=verb == "streamGenerateContent")
                return
            if verb == "countTokens":
                self.api_gemini_count_tokens(body, d)
                return
        if method == "GET" and listed:
            self.api_gemini_models(listed.group(2), d)
            return
        if method == "POST" and self.route in ("/v1beta/cachedContents", "/v1/cachedContents"):
            self.api_cache_create(body, d)
            return
        cache = GEMINI_CACHE.match(self.route)
        if method == "GET" and cache:
            self.api_cache_get("cachedContents/" + cache.group(1), d)
            return
        raise SimError(404, f"Unknown request URL: {method} {self.route}.")

    def api_cache_create(self, body: Dict[str, Any], d: Directives) -> None:
        """A cached content: its tokens are its contents' (or `input=` of x-sim), as Google counts
        them and reports them in `usageMetadata.totalTokenCount`."""
        model = field(body, "model")
        if not isinstance(model, str) or not model.startswith("models/"):
            raise SimError(400, "* CreateCachedContentRequest.cached_content.model: model is required")
        tokens = d.input if d.input is not None else gemini_input(body)
        with self.server.caches_lock:
            name = f"cachedContents/sim{len(self.server.caches) + 1}"
            cache = {"name": name, "model": model, "usageMetadata": {"totalTokenCount": tokens},
                     "createTime": "2026-01-01T00:00:00Z", "expireTime": "2026-01-01T01:00:00Z"}
            self.server.caches[name] = cache
        self.answer_json(200, cache, cut=d.cut is not None)

    def api_cache_get(self, name: str, d: Directives) -> None:
        with self.server.caches_lock:
            cache = self.server.caches.get(name)
        if cache is None:
            raise SimError(404, f"CachedContent not found (or permission denied): {name}")
        self.answer_json(200, cache, cut=d.cut is not None)

    def api_generate(self, model: str, body: Dict[str, Any], d: Directives, stream: bool) -> None:
        if not isinstance(body.get("contents"), list) or not body["contents"]:
            raise SimError(400, "* GenerateContentRequest.contents: contents is not specified")
        config = field(body, "generationConfig") or {}
        if not isinstance(config, dict):
            raise SimError(400, "Invalid JSON payload received. Unknown name \"generationConfig\": not an object.")
        n = positive({"n": field(config, "candidateCount")}, "n", 1, GEMINI_MAX_CANDIDATES)
        budget = field(field(config, "thinkingConfig"), "thinkingBudget")
        if d.reasoning is None and isinstance(budget, int) and budget != 0:
            # A budget asks for thinking: some of it (all of a small one), -1 the model's choice.
            d.reasoning = min(budget, DEFAULT_THOUGHTS) if budget > 0 else DEFAULT_THOUGHTS
        from clouds import google_jobs  # (here: the clouds import this module first)
        google_jobs.require_files(body)
        counted = gemini_input(body)
        if field(body, "cachedContent"):
            # The cached content's tokens are in the prompt, beside the request's own: a cache
            # made here reports its own size.
            with self.server.caches_lock:
                made = self.server.caches.get(str(field(body, "cachedContent")))
            own = made["usageMetadata"]["totalTokenCount"] if made else CACHED_CONTENT_TOKENS
            cached = own if d.cached is None else d.cached
            counted += cached
            d.cached = cached
        p = plan(d, counted, max_tokens({"max": field(config, "maxOutputTokens")}, "max"), n)
        p.cached = min(p.cached, p.input)
        tool_prompt = d.tool_prompt
        finish = "MAX_TOKENS" if p.truncated else "STOP"
        response_id = new_id("")[:22]
        pieces = reply_words(p.per_choice)

        def usage(candidates: int, prompt_only: bool = False) -> Dict[str, Any]:
            # Running totals; a count of 0 is left out, as Google's JSON leaves out zeros.
            found: Dict[str, Any] = {"promptTokenCount": p.input}
            thoughts = 0 if prompt_only else p.reasoning
            if candidates and not prompt_only:
                found["candidatesTokenCount"] = candidates
            found["totalTokenCount"] = p.input + tool_prompt + (0 if prompt_only else candidates) + thoughts
            if p.cached:
                found["cachedContentTokenCount"] = p.cached
            if tool_prompt:
                found["toolUsePromptTokenCount"] = tool_prompt
            if thoughts:
                found["thoughtsTokenCount"] = thoughts
            found["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": p.input}]
            return found

        def counts(candidates: int, prompt_only: bool = False) -> Dict[str, int]:
            thoughts = 0 if prompt_only else p.reasoning
            return {"input_tokens": p.input + tool_prompt, "cached_input_tokens": p.cached,
                    "output_tokens": (0 if prompt_only else candidates) + thoughts, "reasoning_tokens": thoughts}

        def candidate(i: int, text: Optional[str], reason: Optional[str]) -> Dict[str, Any]:
            found: Dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}}
            if text is None:
                found["content"] = {"role": "model"}
            if reason:
                found["finishReason"] = reason
            found["index"] = i
            return found

        def answer(candidates: List[Dict[str, Any]], with_usage: Optional[Dict[str, Any]]) -> Dict[str, Any]:
            found: Dict[str, Any] = {"candidates": candidates} if candidates else {}
            if with_usage is not None:
                found["usageMetadata"] = with_usage
            found["modelVersion"] = model
            found["responseId"] = response_id
            return found

        total = p.per_choice * p.choices
        if not stream:
            text = "".join(pieces) if pieces else None
            whole = answer([candidate(i, text, finish) for i in range(n)], usage(total) if d.usage else None)
            self.answer_json(200, whole, cut=d.cut is not None, reported=counts(total) if d.usage else None)
            return
        stats = self.server.stats
        reported = {"input_tokens": 0, "cached_input_tokens": 0, "output_tokens": 0, "reasoning_tokens": 0}

        def count(now: Dict[str, int]) -> None:
            # The read-back counts each chunk's rise, so it shows what was reported so far.
            stats.add(**{k: now[k] - reported[k] for k in reported})
            reported.update(now)

        apart = d.usage and d.apart
        with GeminiStream(self, d, sse=self.query.get("alt") == ["sse"]) as s:
            # One chunk per word of every candidate; the last word comes with the finish.
            for k in range(max(1, len(pieces))):
                last = k >= len(pieces) - 1
                if last:
                    s.before_end()
                text = pieces[k] if pieces else None
                so_far = (k + 1 if pieces else 0) * p.choices
                with_usage = usage(so_far, prompt_only=apart) if d.usage else None
                chunk = answer([candidate(i, text, finish if last else None) for i in range(n)], with_usage)
                (s.send if last else s.delta)(None, chunk)
                if d.usage:
                    count(counts(so_far, prompt_only=apart))
            if apart:
                s.send(None, answer([], usage(total)))
                count(counts(total))

    def api_gemini_count_tokens(self, body: Dict[str, Any], d: Directives) -> None:
        # The request's contents, or a whole generateContent request, as Google's clients send it.
        inner = field(body, "generateContentRequest")
        request = inner if isinstance(inner, dict) else body
        if not isinstance(request.get("contents"), list):
            raise SimError(400, "* CountTokensRequest.contents: contents is not specified")
        tokens = d.input if d.input is not None else gemini_input(request)
        self.answer_json(200, {"totalTokens": tokens}, cut=d.cut is not None)

    def api_gemini_models(self, name: Optional[str], d: Directives) -> None:
        def model(m: str) -> Dict[str, Any]:
            return {"name": f"models/{m}", "version": "001", "displayName": m.replace("-", " ").title(),
                    "description": f"{m}, as the simulator answers it", "inputTokenLimit": 1048576,
                    "outputTokenLimit": 65536,
                    "supportedGenerationMethods": ["generateContent", "countTokens", "createCachedContent"],
                    "temperature": 1, "topP": 0.95, "topK": 64, "maxTemperature": 2, "thinking": True}
        if name is None:
            self.answer_json(200, {"models": [model(m) for m in GEMINI_MODEL_NAMES]}, cut=d.cut is not None)
            return
        if name not in GEMINI_MODEL_NAMES:
            raise SimError(404, f"models/{name} is not found for API version {self.route.split('/')[1]}, or is "
                                "not supported for this method.")
        self.answer_json(200, model(name), cut=d.cut is not None)


class Answerer(Handler):
    """One request of a job answered as the call itself would be, into memory rather than onto a
    socket: the same code answers both, so that a batch's line is what the single call answers."""

    def __init__(self, server: SimServer, provider: str, route: str) -> None:  # no request to handle
        self.server = server
        self.provider = provider
        self.route = self.shown = route
        self.query: Dict[str, List[str]] = {}
        self.upload = None
        self.request_id = new_id("req_")
        self.answered: Tuple[int, Any] = (500, None)

    def answer_json(self, status: int, value: Any, cut: bool = False, reported: Optional[Dict[str, int]] = None,
                    headers: Optional[List[Tuple[str, str]]] = None) -> None:
        self.answered = (status, value)


def answer_line(server: SimServer, provider: str, route: str, body: Any, header: Optional[str]) -> Tuple[int, Any, str]:
    """A job's request answered as that call is: the job's directives read for the request's model,
    `status=` and `context=` included. A line always carries its usage (a job's `usage=none` is the
    job's own), and is never a stream, nor waited for, nor cut."""
    answerer = Answerer(server, provider, route)
    try:
        if not isinstance(body, dict):
            raise SimError(400, "The body of this request is not a JSON object.")
        body = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
        asked = body.get("model")
        d = parse_directives(header, asked if isinstance(asked, str) else None)
        d.usage, d.apart, d.cut, d.stall, d.delay, d.pause = True, False, None, 0, 0, 0
        refuse(d, provider)
        answerer.dispatch("POST", body, d)
    except SimError as error:
        answerer.answered = (error.status, error_body(provider, error, answerer.request_id))
    except Exception as error:  # noqa: BLE001 -- one odd request must not stop its batch midway
        failed = SimError(500, f"The simulator could not answer this request: {error!r}")
        answerer.answered = (500, error_body(provider, failed, answerer.request_id))
    return answerer.answered[0], answerer.answered[1], answerer.request_id


def serve(port: int = 0, key: Optional[str] = None, **cloud: Any) -> SimServer:
    """A simulator serving on its own thread, for a test in the same process; `server_close()`
    after `shutdown()` ends it (either closes its stored files). `cloud`: clouds.Settings' fields."""
    server = SimServer(("127.0.0.1", port), key)
    server.clouds = clouds.Settings(**cloud)
    threading.Thread(target=server.serve_forever, name="provider-sim", daemon=True).start()
    return server


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description="OpenAI, Anthropic and Gemini API simulator on loopback")
    parser.add_argument("--port", type=int, default=0, help="0 (the default): any free port")
    parser.add_argument("--key", help="the API key every provider call must carry")
    clouds.add_arguments(parser)
    args = parser.parse_args(argv)
    server = SimServer(("127.0.0.1", args.port), args.key)
    server.clouds = clouds.settings(args)
    print(f"listening 127.0.0.1:{server.server_address[1]}", flush=True)
    clouds.listen_tls(server, args)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


# The clouds' modules read this one as `sim`, run as a script or imported.
sys.modules.setdefault("sim", sys.modules[__name__])
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clouds  # noqa: E402 -- after every name it uses is defined
from clouds import openai_more  # noqa: E402

if __name__ == "__main__":
    main(sys.argv[1:])
