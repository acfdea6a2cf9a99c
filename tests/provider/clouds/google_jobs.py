"""The Gemini API beyond generateContent, as google-genai calls it: `models/{m}:embedContent` and
`:batchEmbedContents` (embeddings without usage: Google reports none, and the client reads none),
the Files API's resumable upload (`POST /upload/v1beta/files` to start, then `upload` and
`upload, finalize` at the URL it names; `GET`, `DELETE /v1beta/files/{id}`, `GET /v1beta/files`),
and batch mode: `models/{m}:batchGenerateContent` makes a batch (a long-running operation) that
its reads (`GET /v1beta/batches/{id}`) move along, as sim.py's OpenAI batches: PENDING, RUNNING,
then from read `reads=` (default 2) on SUCCEEDED, each inlined request answered by
generateContent's own code with its usage. The key is checked as on Gemini's other paths."""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import time
import uuid
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Tuple

import sim

from . import Cloud

MODEL_CALL = re.compile(r"^/(v1beta|v1)/models/([A-Za-z0-9._-]+):(embedContent|batchEmbedContents|batchGenerateContent)$")
FILE = re.compile(r"^/(?:v1beta|v1)/files/([a-z0-9-]+)$")
BATCH = re.compile(r"^/(?:v1beta|v1)/batches/([a-z0-9-]+)$")
UPLOAD = "/upload/v1beta/files"
KEPT = 1000  # files and batches, each; the oldest goes first
STATES = ("BATCH_STATE_PENDING", "BATCH_STATE_RUNNING")

lock = threading.Lock()
files: "OrderedDict[str, Dict[str, Any]]" = OrderedDict()
uploads: "OrderedDict[str, Dict[str, Any]]" = OrderedDict()
batches: "OrderedDict[str, Dict[str, Any]]" = OrderedDict()


def keep(store: "OrderedDict[str, Dict[str, Any]]", key: str, value: Dict[str, Any]) -> None:
    with lock:
        store[key] = value
        while len(store) > KEPT:
            store.popitem(last=False)


def stamp(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at * 1e6) % 1_000_000:06d}Z"


def vector(i: int, dims: int) -> List[float]:
    return [round(((i * 7 + j * 3) % 11) / 10 - 0.5, 3) for j in range(dims)]


class GoogleJobs(Cloud):
    provider = sim.GEMINI

    def __init__(self, handler: Any, kind: str, arg: str = "", model: str = "") -> None:
        super().__init__(handler)
        self.kind, self.arg = kind, arg
        self.model = model or None
        self.form = kind == "upload"
        self.extra: List[Tuple[str, str]] = []

    def headers(self, h: Any) -> List[Tuple[str, str]]:
        return self.extra

    def authenticate(self, h: Any, headers: Dict[str, str], raw: bytes) -> None:
        # An upload's URL is its session: its chunks carry no key, the upload_id stands for it.
        if self.kind == "upload" and headers.get("x-goog-upload-command", "").strip() != "start":
            return
        h.authenticate(headers)

    def dispatch(self, method: str, body: Dict[str, Any], d: sim.Directives) -> None:
        h = self.h
        answer = getattr(self, f"{method.lower()}_{self.kind}", None)
        if answer is None:
            raise sim.SimError(404, f"Unknown request URL: {method} {h.shown}.")
        answer(h, body, d)

    # -- embeddings ----------------------------------------------------------------------------

    def post_embedContent(self, h: Any, body: Dict[str, Any], d: sim.Directives) -> None:
        self.require_content(body)
        dims = sim.positive({"n": sim.field(body, "outputDimensionality")}, "n", sim.EMBEDDING_DIMENSIONS, 3072)
        h.answer_json(200, {"embedding": {"values": vector(0, dims)}}, cut=d.cut is not None)

    def post_batchEmbedContents(self, h: Any, body: Dict[str, Any], d: sim.Directives) -> None:
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            raise sim.SimError(400, "* BatchEmbedContentsRequest.requests: requests is not specified")
        found = []
        for i, request in enumerate(requests):
            self.require_content(request if isinstance(request, dict) else {})
            dims = sim.positive({"n": sim.field(request, "outputDimensionality")}, "n", sim.EMBEDDING_DIMENSIONS, 3072)
            found.append({"values": vector(i, dims)})
        h.answer_json(200, {"embeddings": found}, cut=d.cut is not None)

    @staticmethod
    def require_content(request: Dict[str, Any]) -> None:
        if not isinstance(request.get("content"), dict):
            raise sim.SimError(400, "* EmbedContentRequest.content: content is not specified")

    # -- files ---------------------------------------------------------------------------------

    def post_upload(self, h: Any, body: Dict[str, Any], d: sim.Directives) -> None:
        command = (h.headers.get("X-Goog-Upload-Command") or "").replace(" ", "")
        if command == "start":
            asked = body.get("file") if isinstance(body.get("file"), dict) else {}
            upload_id = uuid.uuid4().hex
            name = str(asked.get("name") or f"files/{uuid.uuid4().hex[:12]}")
            keep(uploads, upload_id, {"name": name, "displayName": sim.field(asked, "displayName"),
                                      "mimeType": sim.field(asked, "mimeType") or h.headers.get(
                                          "X-Goog-Upload-Header-Content-Type") or "application/octet-stream",
                                      "size": 0, "sha": hashlib.sha256()})
            self.extra = [("x-goog-upload-url", f"http://{h.host()}{UPLOAD}?upload_id={upload_id}&upload_protocol=resumable"),
                          ("x-goog-upload-status", "active"), ("x-goog-upload-chunk-granularity", "8388608")]
            h.answer_json(200, {})
            return
        upload_id = h.query.get("upload_id", [""])[0]
        with lock:
            found = uploads.get(upload_id)
        if found is None or command not in ("upload", "upload,finalize"):
            raise sim.SimError(400, "Failed to upload: unknown upload_id or command.")
        if h.headers.get("X-Goog-Upload-Offset") != str(found["size"]):
            raise sim.SimError(400, f"Invalid offset: the upload has {found['size']} bytes.")
        found["size"] += len(h.raw)
        found["sha"].update(h.raw)
        if command == "upload":
            self.extra = [("x-goog-upload-status", "active")]
            h.answer_json(200, {})
            return
        with lock:
            uploads.pop(upload_id, None)
        now = time.time()
        made = {"name": found["name"], "mimeType": found["mimeType"], "sizeBytes": str(found["size"]),
                "createTime": stamp(now), "updateTime": stamp(now), "expirationTime": stamp(now + 48 * 3600),
                "sha256Hash": base64.b64encode(found["sha"].hexdigest().encode()).decode(),
                "uri": f"http://{h.host()}/v1beta/{found['name']}", "state": "ACTIVE", "source": "UPLOADED"}
        if found["displayName"]:
            made["displayName"] = found["displayName"]
        keep(files, found["name"], made)
        self.extra = [("x-goog-upload-status", "final")]
        h.answer_json(200, {"file": made})

    def get_file(self, h: Any, body: Dict[str, Any], d: sim.Directives) -> None:
        with lock:
            found = files.get(f"files/{self.arg}")
        if found is None:
            raise sim.SimError(403, f"You do not have permission to access the File {self.arg} or it may not exist.")
        h.answer_json(200, found, cut=d.cut is not None)

    def delete_file(self, h: Any, body: Dict[str, Any], d: sim.Directives) -> None:
        with lock:
            found = files.pop(f"files/{self.arg}", None)
        if found is None:
            raise sim.SimError(403, f"You do not have permission to access the File {self.arg} or it may not exist.")
        h.answer_json(200, {})

    def get_files(self, h: Any, body: Dict[str, Any], d: sim.Directives) -> None:
        with lock:
            listed = list(reversed(files.values()))
        h.answer_json(200, {"files": listed} if listed else {})

    # -- batch mode ----------------------------------------------------------------------------

    def post_batchGenerateContent(self, h: Any, body: Dict[str, Any], d: sim.Directives) -> None:
        batch = body.get("batch") if isinstance(body.get("batch"), dict) else body
        given = sim.field(sim.field(sim.field(batch, "inputConfig"), "requests"), "requests")
        if not isinstance(given, list) or not given:
            raise sim.SimError(400, "* GenerateContentBatch.input_config: inlined requests are required "
                                    "(the simulator takes no input file)")
        name = f"batches/{uuid.uuid4().hex[:16]}"
        job = {"name": name, "model": f"models/{self.model}", "displayName": batch.get("displayName") or name,
               "requests": given, "header": h.sim_header, "reads": 0, "wanted": d.reads, "created": time.time(),
               "output": None, "lock": threading.Lock()}
        keep(batches, name, job)
        h.server.stats.job(name, "gemini_batch", STATES[0])
        h.answer_json(200, view(job, STATES[0]), cut=d.cut is not None)

    def get_batch(self, h: Any, body: Dict[str, Any], d: sim.Directives) -> None:
        name = f"batches/{self.arg}"
        with lock:
            job = batches.get(name)
        if job is None:
            raise sim.SimError(404, f"Batch {name} not found.")
        with job["lock"]:
            job["reads"] += 1
            done = job["reads"] >= job["wanted"]
            if done and job["output"] is None:
                job["output"] = [answer(h.server, job, request) for request in job["requests"]]
            state = "BATCH_STATE_SUCCEEDED" if done else STATES[min(job["reads"], len(STATES) - 1)]
        h.server.stats.job(name, "gemini_batch", state, read=True)
        h.answer_json(200, view(job, state), cut=d.cut is not None)


def answer(server: Any, job: Dict[str, Any], inlined: Any) -> Dict[str, Any]:
    """One inlined request answered by generateContent's own code, with the batch's directives."""
    request = inlined.get("request") if isinstance(inlined, dict) else None
    route = f"/v1beta/{job['model']}:generateContent"
    status, value, _ = sim.answer_line(server, sim.GEMINI, route, request, job["header"])
    found: Dict[str, Any] = {"response": value} if status == 200 else {"error": value.get("error", value)}
    if isinstance(inlined, dict) and inlined.get("metadata"):
        found["metadata"] = inlined["metadata"]
    return found


def view(job: Dict[str, Any], state: str) -> Dict[str, Any]:
    """The batch as its operation: its metadata (a GenerateContentBatch), `done` once final."""
    total = len(job["requests"])
    output = job["output"] or []
    ok = sum(1 for item in output if "response" in item)
    metadata: Dict[str, Any] = {
        "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.GenerateContentBatch",
        "model": job["model"], "displayName": job["displayName"], "name": job["name"], "state": state,
        "createTime": stamp(job["created"]), "updateTime": stamp(time.time()),
        "batchStats": {"requestCount": str(total), "pendingRequestCount": str(total - len(output))}}
    found: Dict[str, Any] = {"name": job["name"], "metadata": metadata}
    if state == "BATCH_STATE_SUCCEEDED":
        metadata["endTime"] = stamp(time.time())
        metadata["batchStats"].update({"successfulRequestCount": str(ok), "failedRequestCount": str(total - ok)})
        metadata["output"] = {"inlinedResponses": {"inlinedResponses": output}}
        found["done"] = True
        found["response"] = {"@type": metadata["@type"], **{k: v for k, v in metadata.items() if k != "@type"}}
    return found


def find(handler: Any, method: str) -> Optional[Cloud]:
    route = handler.route
    call = MODEL_CALL.match(route)
    if call:
        return GoogleJobs(handler, call.group(3), model=call.group(2))
    if route == UPLOAD:
        return GoogleJobs(handler, "upload")
    if route == "/v1beta/files":
        return GoogleJobs(handler, "files")
    found = FILE.match(route)
    if found and route.startswith("/v1beta/"):
        return GoogleJobs(handler, "file", found.group(1))
    found = BATCH.match(route)
    if found:
        return GoogleJobs(handler, "batch", found.group(1))
    return None
