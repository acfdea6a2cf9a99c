"""Google's Gemini Live API, the Gemini API's (not Vertex AI's): `BidiGenerateContent` over a
WebSocket, as the `google-genai` client (2.x) speaks it with an API key:
`GET /ws/google.ai.generativelanguage.{v1beta,v1alpha}.GenerativeService.BidiGenerateContent`
with `Upgrade: websocket`, the key in `x-goog-api-key` (the client's way) or `?key=`.

The WebSocket is realtime.py's (`realtime.WebSocket`: the handshake's key, masked client frames,
fragments, ping, close). The key is checked before the upgrade as on Gemini's HTTP paths (a refusal
is an HTTP answer in Google's error shape, never a socket). Then one session a connection: the
client's `setup`, answered `setupComplete`; its `clientContent`, `realtimeInput` and `toolResponse`
answered as Google answers them, with automatic activity detection on the audio (or the client's
`activityStart` / `activityEnd`), each turn's response as `serverContent` messages ending in
`turnComplete` with that turn's `usageMetadata`, counted by fixed rules (README.md, "Live"). Every
server message is JSON in a binary frame, as Google sends it (the clients read either); a client's
may be text or binary. A message Google would not take closes the socket with Google's code (1007,
or 1008 for an unknown model or session) and reason. The responses run on their own thread, so speech or a `clientContent` that interrupts
one is read while it streams. The read-back keeps each session in `jobs` (kind `live`), its turns'
usage in `usage` as the other paths' is.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import queue
import re
import threading
from fractions import Fraction
from typing import Any, Dict, List, Optional, Tuple

import sim

from . import Cloud, realtime

ROUTE = re.compile(r"^/ws/google\.ai\.generativelanguage\.(v1beta|v1alpha)\.GenerativeService\.BidiGenerateContent$")

# Output tokens of a turn's response when no `output=` says otherwise (maxOutputTokens still cuts it).
DEFAULT_OUTPUT = 20
# Gemini's audio: 25 tokens a second, in and out (40 ms a token), rounded up per turn.
AUDIO_TOKENS_PER_SECOND = 25
INPUT_RATE = 16000  # the rate of `audio/pcm` without `;rate=`
OUTPUT_MIME = "audio/pcm;rate=24000"
# One output token's audio: 40 ms of realtime.py's 400 Hz tone at 24 kHz; 5 tokens a message.
TOKEN_AUDIO = realtime.TONE_TOKEN * 2
AUDIO_TOKENS_PER_MESSAGE = 5
# Automatic activity detection: a 20 ms frame is speech when its peak |sample| is above this, and
# this much silence after speech ends the turn (setup's `silenceDurationMs` when given).
VAD_FRAME_MS = 20
SPEECH_PEAK = realtime.SPEECH_PEAK
SILENCE_MS = 500
MODALITIES = ("TEXT", "AUDIO")
# A client message is one of these (Google's parser takes the proto names too: the Python client
# sends `client_content`, `realtime_input`, `tool_response`).
CLIENT_MESSAGES = ("setup", "clientContent", "realtimeInput", "toolResponse")
REALTIME_INPUTS = ("mediaChunks", "audio", "video", "text", "activityStart", "activityEnd", "audioStreamEnd")
SETUP_FIELDS = ("model", "generationConfig", "systemInstruction", "tools", "realtimeInputConfig", "sessionResumption",
                "contextWindowCompression", "inputAudioTranscription", "outputAudioTranscription", "proactivity",
                "historyConfig", "avatarConfig", "safetySettings")
CONTENT_FIELDS = ("turns", "turnComplete")
INVALID = 1007  # Google closes a session over a message it cannot take with this code

# `close=<k>` (realtime.py names it) and `calls=<k>`: named here, where they mean something; any
# other call takes them and does nothing with them.
if "calls" not in sim.INTEGER_DIRECTIVES:
    sim.INTEGER_DIRECTIVES = sim.INTEGER_DIRECTIVES + ("calls",)  # type: ignore[assignment]


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def pcm_rate(mime: Any) -> Optional[int]:
    """The sample rate of a PCM16 blob's `audio/pcm[;rate=N]`; None for any other type."""
    if not isinstance(mime, str):
        return None
    kind, *params = [p.strip() for p in mime.split(";")]
    if kind.lower() not in ("audio/pcm", "audio/l16"):
        return None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "rate" and value.strip().isdigit() and int(value) > 0:
            return int(value)
    return INPUT_RATE


def blob_bytes(blob: Any) -> bytes:
    """A Blob's `data`: base64, standard or URL-safe (the Python client sends the latter)."""
    data = sim.field(blob, "data") if isinstance(blob, dict) else None
    if not isinstance(data, str):
        raise Invalid("Invalid JSON payload received. A blob's 'data' must be a base64 string.")
    text = data.strip().replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("Invalid value at 'data' (TYPE_BYTES), Base64 decoding failed.") from None


def seconds(size: int, rate: int) -> Fraction:
    """PCM16 mono: the length of `size` bytes (an odd last byte is no sample)."""
    return Fraction(size // 2, rate)


def audio_tokens(length: Fraction) -> int:
    return math.ceil(length * AUDIO_TOKENS_PER_SECOND)


def details(**counts: int) -> List[Dict[str, Any]]:
    """A `*TokensDetails` list: one `{modality, tokenCount}` per modality that has tokens."""
    return [{"modality": name, "tokenCount": count} for name, count in counts.items() if count]


class Invalid(Exception):
    """A client message Google would not take: the session is closed with 1007 and this reason."""

    def __init__(self, reason: str, code: int = INVALID) -> None:
        super().__init__(reason)
        self.reason, self.code = reason, code


# ---------------------------------------------------------------------------------------------
# The path.


class Live(Cloud):
    provider = sim.GEMINI

    def __init__(self, handler: Any, version: str) -> None:
        super().__init__(handler)
        self.version = version

    def headers(self, h: Any) -> List[Tuple[str, str]]:
        return []  # Google's front door names no request id

    def error(self, h: Any, error: sim.SimError) -> Tuple[Any, List[Tuple[str, str]]]:
        body, extra = super().error(h, error)
        return body, extra + realtime.upgrade_refused(error)

    def dispatch(self, method: str, body: Dict[str, Any], d: sim.Directives) -> None:
        h = self.h
        headers = realtime.request_headers(h)
        key = realtime.upgrade_key(headers, "BidiGenerateContent")
        Session(h, d, headers, self.version).run(key)


def find(handler: Any, method: str) -> Optional[Cloud]:
    # A base URL ending in `/` makes the client ask for `//ws/...`, which urlsplit reads as a host.
    path = re.sub(r"^/+", "/", handler.path.split("?", 1)[0])
    found = ROUTE.match(path)
    if not found or method != "GET":
        return None
    handler.route = handler.shown = path
    return Live(handler, found.group(1))


# ---------------------------------------------------------------------------------------------
# The session's pieces.


class Config:
    """What `setup` asked for."""

    def __init__(self, setup: Dict[str, Any], version: str) -> None:
        for name in setup:
            if camel(name) not in SETUP_FIELDS:
                raise Invalid(f"Invalid JSON payload received. Unknown name \"{name}\" at 'setup': Cannot find field.")
        model = sim.field(setup, "model")
        if not isinstance(model, str) or not model:
            raise Invalid("Invalid JSON payload received. setup.model is required.")
        if not model.startswith("models/") or len(model) == len("models/"):
            raise Invalid(f"{model} is not found for API version {version}, or is not supported for "
                          "bidiGenerateContent. Call ListModels to see the list of available models and their "
                          "supported methods.", 1008)
        self.model = model[len("models/"):]
        if sim.field(sim.field(setup, "sessionResumption"), "handle"):
            # A handle is a session this server made and kept: it keeps none.
            raise Invalid("BidiGenerateContent session not found", 1008)
        generation = sim.field(setup, "generationConfig") or {}
        if not isinstance(generation, dict):
            raise Invalid("Invalid JSON payload received. setup.generationConfig must be an object.")
        modalities = sim.field(generation, "responseModalities")
        if modalities is None or modalities == []:
            modalities = ["AUDIO"]
        if not isinstance(modalities, list) or not all(isinstance(m, str) for m in modalities) or \
                any(m.upper() not in MODALITIES for m in modalities):
            raise Invalid("Invalid value at 'setup.generation_config.response_modalities': supported values "
                          "are TEXT and AUDIO.")
        if len({m.upper() for m in modalities}) > 1:
            raise Invalid("Multiple response modalities are not supported: ask for TEXT or AUDIO.")
        self.modality = modalities[0].upper()
        limit = sim.field(generation, "maxOutputTokens")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
            raise Invalid("Invalid value at 'setup.generation_config.max_output_tokens' (TYPE_INT32).")
        self.max_output: Optional[int] = limit or None  # 0 is unset, as proto3 reads it
        realtime_config = sim.field(setup, "realtimeInputConfig") or {}
        detection = sim.field(realtime_config, "automaticActivityDetection") or {}
        if not isinstance(realtime_config, dict) or not isinstance(detection, dict):
            raise Invalid("Invalid JSON payload received. setup.realtimeInputConfig must be an object.")
        self.automatic = not sim.field(detection, "disabled")
        silence = sim.field(detection, "silenceDurationMs")
        if silence is not None and (not isinstance(silence, int) or isinstance(silence, bool) or silence < 0):
            raise Invalid("Invalid value at 'setup.realtime_input_config.automatic_activity_detection."
                          "silence_duration_ms' (TYPE_INT32).")
        self.silence_ms = silence or SILENCE_MS
        self.interrupts = str(sim.field(realtime_config, "activityHandling") or "").upper() != "NO_INTERRUPTION"
        self.all_input = str(sim.field(realtime_config, "turnCoverage") or "").upper() == "TURN_INCLUDES_ALL_INPUT"
        self.hear_input = sim.field(setup, "inputAudioTranscription") is not None
        self.hear_output = sim.field(setup, "outputAudioTranscription") is not None
        # The prompt's fixed part: the system instruction's words and the tools' JSON, every turn.
        instruction = sim.field(setup, "systemInstruction")
        tools = sim.field(setup, "tools")
        self.fixed = sim.gemini_parts_words(instruction) if instruction is not None else 0
        self.fixed += sim.json_words(tools) if tools else 0
        self.functions: List[str] = []
        for tool in tools if isinstance(tools, list) else []:
            for declared in sim.field(tool, "functionDeclarations") or []:
                name = sim.field(declared, "name")
                if isinstance(name, str):
                    self.functions.append(name)


class Turn:
    """A user's turn as it weighs in the conversation (its text's words and its audio's tokens)."""

    def __init__(self, text: int, audio: int, heard: bool) -> None:
        self.text, self.audio, self.heard = text, audio, heard


class Response:
    """One turn's response: its input, its prompt (fixed when it starts) and what it has sent."""

    def __init__(self, turn: Turn) -> None:
        self.turn = turn
        self.prompt_text = self.prompt_audio = self.cached = 0
        self.tool_text = 0  # the function responses' words: this turn's input too
        self.text_sent = self.audio_sent = 0
        self.messages = 0  # modelTurn messages sent (cut= counts them)
        self.calls: Dict[str, bool] = {}  # the tool call's ids: answered yet?
        self.reported: Optional[Dict[str, Any]] = None  # the usage, once written
        self.stop = threading.Event()

    @property
    def prompt(self) -> int:
        return self.prompt_text + self.prompt_audio

    def usage(self, tool_prompt: int) -> Dict[str, Any]:
        """`usageMetadata` as Google writes it: zeros left out."""
        made = self.text_sent + self.audio_sent
        found: Dict[str, Any] = {"promptTokenCount": self.prompt}
        if self.cached:
            found["cachedContentTokenCount"] = self.cached
        if made:
            found["responseTokenCount"] = made
        if tool_prompt:
            found["toolUsePromptTokenCount"] = tool_prompt
        found["totalTokenCount"] = self.prompt + made + tool_prompt
        prompt = details(TEXT=self.prompt_text, AUDIO=self.prompt_audio)
        if prompt:
            found["promptTokensDetails"] = prompt
        if self.cached:
            found["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": self.cached}]
        if made:
            found["responseTokensDetails"] = details(TEXT=self.text_sent, AUDIO=self.audio_sent)
        return found


# ---------------------------------------------------------------------------------------------
# One session.


class Session(realtime.WebSocket):
    def __init__(self, h: Any, d: sim.Directives, headers: Dict[str, str], version: str) -> None:
        super().__init__(h)
        self.d = d
        self.headers = headers
        self.version = version
        self.id = sim.new_id("live_")[:27]
        self.config: Optional[Config] = None
        # Session state: the reader's messages and the responses' thread both move it, one at a time.
        self.lock = threading.RLock()
        self.history: List[Tuple[int, int]] = []  # every earlier turn's input and output: (text, audio)
        # The user's turn being gathered: its words, its audio's length, whether it has any.
        self.text = 0
        self.audio = Fraction(0)
        self.heard = False
        # The audio stream: where it is (seconds of all realtime audio), the part of a frame not yet
        # looked at and its rate, the speech under way (automatic detection) or the activity (manual).
        self.now = Fraction(0)
        self.rest = bytearray()
        self.rate = INPUT_RATE
        self.speech: Optional[List[Fraction]] = None  # [start, end of its last loud frame]
        self.silent = Fraction(0)
        self.activity = False
        self.activity_start = Fraction(0)
        self.turns: "queue.Queue[Optional[Turn]]" = queue.Queue()
        self.active: Optional[Response] = None
        self.worker: Optional[threading.Thread] = None
        self.done_turns = 0
        self.cut_used = False
        self.ending = False

    # -- the connection --------------------------------------------------------------------

    def run(self, key: str) -> None:
        self.serve(key, [])

    def stop(self) -> None:
        with self.lock:
            self.ending = True
            if self.active is not None:
                self.active.stop.set()
        self.turns.put(None)
        self.wake()
        if self.worker is not None:
            self.worker.join(5)

    def send(self, message: Dict[str, Any]) -> None:
        """A server message: JSON in a binary frame, as Google sends it."""
        self.send_frame(realtime.OP_BINARY, sim.dumps(message).encode())

    # -- the read-back ---------------------------------------------------------------------

    def entry(self) -> Dict[str, Any]:
        return {"kind": "live", "status": "open", "reads": 0, "open": True,
                "model": self.config.model if self.config else None, "headers": self.headers,
                "messages": [], "turns": [], "close": None}

    # -- client messages ---------------------------------------------------------------------

    def message(self, kind: int, data: bytes) -> None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            if kind == realtime.OP_TEXT:
                raise realtime.Failure(1007, "a text message that is not UTF-8") from None
            text = ""
        try:
            given = json.loads(text)
        except ValueError:
            given = None
        with self.lock:
            try:
                if not isinstance(given, dict):
                    self.record(add=("messages", {"type": None}))
                    raise Invalid("Invalid JSON payload received. Expected a JSON object: one of setup, "
                                  "clientContent, realtimeInput, toolResponse.")
                names = [camel(name) for name in given]
                for name in names:
                    if name not in CLIENT_MESSAGES:
                        self.record(add=("messages", {"type": name}))
                        raise Invalid(f"Invalid JSON payload received. Unknown name \"{name}\": Cannot find field.")
                if len(names) != 1:
                    self.record(add=("messages", {"type": None}))
                    raise Invalid("Invalid JSON payload received. A message sets exactly one of setup, "
                                  "clientContent, realtimeInput, toolResponse.")
                name, body = names[0], next(iter(given.values()))
                self.take(name, body)
            except Invalid as refused:
                self.close(refused.code, refused.reason)

    def take(self, name: str, body: Any) -> None:
        if name == "setup":
            self.record(add=("messages", {"type": "setup", "setup": body}))
            self.on_setup(body)
            return
        if not isinstance(body, dict):
            self.record(add=("messages", {"type": name}))
            raise Invalid(f"Invalid JSON payload received. '{name}' must be an object.")
        if name == "realtimeInput":
            self.record_input(body)
        elif name == "clientContent":
            self.record(add=("messages", {"type": name, "turnComplete": bool(sim.field(body, "turnComplete"))}))
        else:
            ids = [sim.field(r, "id") for r in sim.field(body, "functionResponses") or [] if isinstance(r, dict)]
            self.record(add=("messages", {"type": name, "ids": ids}))
        if self.config is None:
            raise Invalid("Request contains an invalid argument.")  # Google's words for anything before setup
        if name == "realtimeInput":
            self.on_realtime_input(body)
        elif name == "clientContent":
            self.on_client_content(body)
        else:
            self.on_tool_response(body)

    def record_input(self, body: Dict[str, Any]) -> None:
        """`realtimeInput.<field>` for each field it sets; a blob's with the bytes it decodes to."""
        for raw, value in body.items():
            name = camel(raw)
            seen: Dict[str, Any] = {"type": f"realtimeInput.{name}"}
            blobs = value if name == "mediaChunks" and isinstance(value, list) else \
                [value] if name in ("audio", "video") else []
            if blobs:
                size = 0
                for blob in blobs:
                    data = sim.field(blob, "data") if isinstance(blob, dict) else None
                    if isinstance(data, str):
                        data = data.strip().rstrip("=")
                        size += len(data) * 3 // 4
                seen["bytes"] = size
            self.record(add=("messages", seen))

    def on_setup(self, body: Any) -> None:
        if self.config is not None:
            raise Invalid("A session takes one setup message, its first.")
        if not isinstance(body, dict):
            raise Invalid("Invalid JSON payload received. 'setup' must be an object.")
        self.config = Config(body, self.version)
        # `name=value@model` reads setup's model (without `models/`): it was not known at the connect.
        self.d = sim.parse_directives(self.headers.get("x-sim"), self.config.model)
        self.record(model=self.config.model)
        self.send({"setupComplete": {}})
        self.worker = threading.Thread(target=self.respond, name="provider-sim-live", daemon=True)
        self.worker.start()

    def on_realtime_input(self, body: Dict[str, Any]) -> None:
        config = self.config
        assert config is not None
        for raw, value in body.items():
            name = camel(raw)
            if name not in REALTIME_INPUTS:
                raise Invalid(f"Invalid JSON payload received. Unknown name \"{raw}\" at 'realtime_input': "
                              "Cannot find field.")
            if name in ("activityStart", "activityEnd") and config.automatic:
                raise Invalid("Explicit activity control is not supported when automatic activity detection "
                              "is enabled.")
            if name == "audio" or name == "mediaChunks":
                for blob in value if name == "mediaChunks" and isinstance(value, list) else [value]:
                    data = blob_bytes(blob)
                    rate = pcm_rate(sim.field(blob, "mimeType"))
                    if rate is not None:  # other media (images, video) are kept, and weigh nothing
                        self.hear(data, rate)
            elif name == "video":
                blob_bytes(value)
            elif name == "text":
                if not isinstance(value, str):
                    raise Invalid("Invalid value at 'realtime_input.text' (TYPE_STRING).")
                self.text += sim.words(value)
                if config.automatic:
                    self.started()  # text counts as activity
                    if self.speech is None:
                        self.end_turn()
                elif not self.activity:
                    self.end_turn()
            elif name == "activityStart":
                if not self.activity:  # a nested one is nothing
                    self.started()
                    self.activity = True
                    self.activity_start = self.now
            elif name == "activityEnd":
                if self.activity:
                    self.activity = False
                    if self.now == self.activity_start and not self.text:
                        # An activity without a byte of audio: Google completes the turn, reports an
                        # empty usage, and fails the session.
                        self.send({"serverContent": {"turnComplete": True}, "usageMetadata": {}})
                        raise Invalid("Precondition check failed.")
                    self.end_turn()
            elif name == "audioStreamEnd" and config.automatic and value:
                if self.rest:
                    self.frame(bytes(self.rest), self.rate)
                    self.rest.clear()
                if self.speech is not None:
                    self.end_speech()

    def on_client_content(self, body: Dict[str, Any]) -> None:
        """Turns appended to the conversation (a text's words, an inline PCM blob's audio); with
        `turnComplete` the response starts. A client's content interrupts the response under way."""
        for name in body:
            if camel(name) not in CONTENT_FIELDS:
                raise Invalid(f"Invalid JSON payload received. Unknown name \"{name}\" at 'client_content': Cannot "
                              "find field.")
        turns = sim.field(body, "turns")
        if turns is not None and not isinstance(turns, list):
            raise Invalid("Invalid value at 'client_content.turns': expected a list of Content.")
        self.interrupt(always=True)
        for content in turns or []:
            if not isinstance(content, dict):
                raise Invalid("Invalid value at 'client_content.turns': expected a list of Content.")
            self.text += sim.gemini_parts_words(content)
            for part in sim.field(content, "parts") or []:
                blob = sim.field(part, "inlineData") if isinstance(part, dict) else None
                rate = pcm_rate(sim.field(blob, "mimeType")) if isinstance(blob, dict) else None
                if rate is not None:
                    self.audio += seconds(len(blob_bytes(blob)), rate)
                    self.heard = True
        if sim.field(body, "turnComplete"):
            self.end_turn()

    def on_tool_response(self, body: Dict[str, Any]) -> None:
        """The function responses' words (as compact JSON) are the turn's input; once every call of
        the response waiting for them is answered, it goes on."""
        responses = sim.field(body, "functionResponses")
        if not isinstance(responses, list):
            raise Invalid("Invalid value at 'tool_response.function_responses': expected a list.")
        r = self.active
        for given in responses:
            words = sim.json_words(given)
            call = sim.field(given, "id") if isinstance(given, dict) else None
            if r is not None and call in r.calls:
                r.calls[call] = True
                r.tool_text += words
            else:
                self.text += words

    # -- activity ------------------------------------------------------------------------------

    def hear(self, data: bytes, rate: int) -> None:
        """Realtime audio: with automatic detection each whole 20 ms frame is looked at (a part
        frame waits for the rest); without, the activity's audio (all of it with
        TURN_INCLUDES_ALL_INPUT) is the turn's."""
        config = self.config
        assert config is not None
        if not config.automatic:
            length = seconds(len(data), rate)
            self.now += length
            if self.activity or config.all_input:
                self.audio += length
                self.heard = True
            return
        if rate != self.rate and self.rest:
            self.frame(bytes(self.rest), self.rate)
            self.rest.clear()
        self.rate = rate
        self.rest += data
        size = 2 * (rate * VAD_FRAME_MS // 1000)
        at = 0
        while at + size <= len(self.rest):
            self.frame(bytes(self.rest[at:at + size]), rate)
            at += size
        del self.rest[:at]

    def frame(self, data: bytes, rate: int) -> None:
        config = self.config
        assert config is not None
        begin = self.now
        self.now += seconds(len(data), rate)
        if config.all_input:
            self.audio += seconds(len(data), rate)
            self.heard = True
        loud = realtime.peak(data, "audio/pcm") > SPEECH_PEAK
        if self.speech is None:
            if loud:
                self.speech = [begin, self.now]
                self.silent = Fraction(0)
                self.started()
            return
        if loud:
            self.speech[1] = self.now
            self.silent = Fraction(0)
            return
        self.silent += seconds(len(data), rate)
        if self.silent * 1000 >= config.silence_ms:
            self.end_speech()

    def end_speech(self) -> None:
        """The speech's end: its span (first loud frame to last) is the turn's audio, unless the
        turn takes all input, which counted every frame already."""
        assert self.config is not None and self.speech is not None
        if not self.config.all_input:
            self.audio += self.speech[1] - self.speech[0]
            self.heard = True
        self.speech = None
        self.end_turn()

    def started(self) -> None:
        """The user's activity starts: it interrupts the response under way, unless setup said
        NO_INTERRUPTION."""
        self.interrupt(always=False)

    def interrupt(self, always: bool) -> None:
        assert self.config is not None
        r = self.active
        if r is not None and not r.stop.is_set() and (always or self.config.interrupts):
            r.stop.set()
            self.wake()

    def end_turn(self) -> None:
        """The turn gathered so far, answered by the responses' thread (after any before it)."""
        turn = Turn(self.text, audio_tokens(self.audio), self.heard)
        self.text, self.audio, self.heard = 0, Fraction(0), False
        self.turns.put(turn)

    # -- responses -------------------------------------------------------------------------------

    def respond(self) -> None:
        while True:
            turn = self.turns.get()
            if turn is None:
                return
            with self.lock:
                if self.ending:
                    return
                r = Response(turn)
                self.active = r
            try:
                self.produce(r)
            finally:
                with self.lock:
                    self.active = None

    def pace(self, r: Response) -> None:
        """`delay=` between a response's messages (an interruption cuts the wait short)."""
        if self.d.delay and not r.stop.is_set():
            r.stop.wait(self.d.delay / 1000)

    def step(self, r: Response, message: Dict[str, Any]) -> None:
        self.pace(r)
        self.send(message)

    def gone(self) -> bool:
        """Nobody to tell any more: the session ends, or a close (or a cut) was sent."""
        return self.ending or self.sent_close or self.dropped

    def over(self, r: Response) -> bool:
        return r.stop.is_set() or self.gone()

    def produce(self, r: Response) -> None:
        config = self.config
        d = self.d
        assert config is not None
        with self.lock:
            turn = r.turn
            r.prompt_text = config.fixed + sum(text for text, _ in self.history) + turn.text
            r.prompt_audio = sum(audio for _, audio in self.history) + turn.audio
        if turn.heard and config.hear_input:
            heard = max(1, math.ceil(Fraction(turn.audio, AUDIO_TOKENS_PER_SECOND)))
            self.step(r, {"serverContent": {"inputTranscription": {
                "text": " ".join(f"heard{i}" for i in range(heard))}}})
        calls = getattr(d, "calls", 0) or 0
        if calls and config.functions and not self.over(r):
            self.call_tools(r, calls, config.functions[0])
        with self.lock:
            r.prompt_text += r.tool_text
            r.cached = min(d.cached or 0, r.prompt)
        wanted = DEFAULT_OUTPUT if d.output is None else d.output
        planned = wanted if config.max_output is None else min(wanted, config.max_output)
        cutting = d.cut is not None and not self.cut_used
        if cutting:
            self.cut_used = True
        for text, count in self.pieces(planned, config.modality):
            if self.over(r):
                break
            if cutting and r.messages >= (d.cut or 0):
                self.drop()
                return
            part: Dict[str, Any] = {"text": text}
            if text is None:
                part = {"inlineData": {"mimeType": OUTPUT_MIME,
                                       "data": base64.b64encode(TOKEN_AUDIO * count).decode()}}
            self.pace(r)
            if self.over(r):
                break  # interrupted while it waited: nothing more of it goes out
            self.send({"serverContent": {"modelTurn": {"parts": [part]}}})
            r.messages += 1
            if text is None:
                r.audio_sent += count
                if config.hear_output:
                    # A word of transcript a message of audio; it weighs nothing.
                    word = ("" if r.messages == 1 else " ") + f"tok{r.messages - 1}"
                    self.step(r, {"serverContent": {"outputTranscription": {"text": word}}})
            else:
                r.text_sent += count
        if cutting and not self.over(r):
            self.drop()
            return
        if d.pause and not self.over(r):
            gate = self.server.gate
            with gate:
                began = self.server.releases
                gate.wait_for(lambda: self.server.releases != began or self.over(r), d.pause / 1000)
        if d.usage and d.apart and not self.gone():
            # `usage=apart`: the usage in a message of its own (an empty serverContent beside it),
            # as some Live models send it; turnComplete then carries an empty one.
            self.step(r, {"serverContent": {}, "usageMetadata": self.report(r)})
        if r.stop.is_set():
            self.step(r, {"serverContent": {"interrupted": True}})
        else:
            self.step(r, {"serverContent": {"generationComplete": True}})
        self.finish(r)

    def pieces(self, planned: int, modality: str) -> List[Tuple[Optional[str], int]]:
        """The response's modelTurn messages: (a word, 1 token) for TEXT, (None, up to 5 tokens of
        audio) for AUDIO."""
        if modality == "TEXT":
            return [(word, 1) for word in sim.reply_words(planned)]
        return [(None, min(AUDIO_TOKENS_PER_MESSAGE, planned - at))
                for at in range(0, planned, AUDIO_TOKENS_PER_MESSAGE)]

    def call_tools(self, r: Response, calls: int, name: str) -> None:
        """`calls=<k>`: a toolCall of k calls to the first declared function, then the response
        waits for every one's functionResponse (an interruption cancels them)."""
        with self.lock:
            r.calls = {sim.new_id("call_")[:21]: False for _ in range(calls)}
        self.step(r, {"toolCall": {"functionCalls": [{"id": call, "name": name, "args": {}} for call in r.calls]}})
        while not self.over(r):
            with self.lock:
                if all(r.calls.values()):
                    return
            r.stop.wait(0.01)
        if r.stop.is_set() and not self.gone():
            self.send({"toolCallCancellation": {"ids": [call for call, done in r.calls.items() if not done]}})

    def report(self, r: Response) -> Dict[str, Any]:
        """The turn's usage, counted in the read-back before it is written: a client that read it
        reads the stats with it."""
        with self.lock:
            tool_prompt = self.d.tool_prompt
            usage = r.usage(tool_prompt)
            self.server.stats.add(input_tokens=r.prompt + tool_prompt, output_tokens=r.text_sent + r.audio_sent,
                                  cached_input_tokens=r.cached, audio_input_tokens=r.prompt_audio,
                                  audio_output_tokens=r.audio_sent)
            r.reported = usage
            return usage

    def finish(self, r: Response) -> None:
        with self.lock:
            if self.gone():
                return  # nobody to tell: a turn never complete reports nothing
            message: Dict[str, Any] = {"serverContent": {"turnComplete": True}}
            if self.d.usage:
                message["usageMetadata"] = {} if r.reported is not None else self.report(r)
            self.record(add=("turns", {"interrupted": r.stop.is_set(), "usageMetadata": r.reported}))
            self.send(message)
            self.history.append((r.turn.text + r.tool_text, r.turn.audio))
            self.history.append((r.text_sent, r.audio_sent))
            self.done_turns += 1
            closing = getattr(self.d, "close", 0) or 0
            if closing and self.done_turns == closing:
                self.send({"goAway": {"timeLeft": "0s"}})
                self.close(1011, f"The simulator closes the session after turn {closing}, as x-sim asks "
                                 f"(close={closing}).")
