"""The Gemini API beyond generateContent, as google-genai calls it: `models/{m}:embedContent` and
`:batchEmbedContents` (embeddings without usage: Google reports none, and the client reads none),
the Files API's resumable upload (`POST /upload/v1beta/files` to start, then `upload` and
`upload, finalize` at the URL it names; `GET`, `DELETE /v1beta/files/{id}`, `GET /v1beta/files`;
the bytes kept in memory, at most 64 MiB a file, so a batch can read them), and batch mode:
`models/{m}:batchGenerateContent` makes a batch (a long-running operation) that its reads
(`GET /v1beta/batches/{id}`) move along, as sim.py's OpenAI batches: PENDING, RUNNING, then from
read `reads=` (default 2) on SUCCEEDED, each request answered by generateContent's own code with its
usage. Its requests are inlined (answered in the batch, `inlinedResponses`) or a JSONL file of
`{"key", "request"}` lines (`inputConfig.fileName`), answered into a GENERATED file
`files/batch-{id}` (`responsesFile`) that `GET /v1beta/files/{id}:download?alt=media` sends back;
an uploaded file cannot be downloaded. The key is checked as on Gemini's other paths."""

from __future__ import annotations

import base64
import hashlib
import json
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
# google-genai's `files.download` GETs `files/{id}:download?alt=media` under the API's version; the
# `downloadUri` Google shows names it under `/download`.
DOWNLOAD = re.compile(r"^(?:/download)?/v1beta/files/([a-z0-9-]+):download$")
BATCH = re.compile(r"^/(?:v1beta|v1)/batches/([a-z0-9-]+)$")
UPLOAD = "/upload/v1beta/files"
KEPT = 1000  # files and batches, each; the oldest goes first
# Files are kept in memory (a batch reads its input from them): at most this much a file (Google
# takes 2 GB), and this much over all files, or all uploads under way, the oldest going first.
MAX_FILE = 64 << 20
KEPT_BYTES = 512 << 20
STATES = ("BATCH_STATE_PENDING", "BATCH_STATE_RUNNING")

lock = threading.Lock()
files: "OrderedDict[str, Dict[str, Any]]" = OrderedDict()
uploads: "OrderedDict[str, Dict[str, Any]]" = OrderedDict()
batches: "OrderedDict[str, Dict[str, Any]]" = OrderedDict()


def keep(store: "OrderedDict[str, Dict[str, Any]]", key: str, value: Dict[str, Any]) -> None:
    """Kept by count and by the bytes held (a file's or an upload's `data`), the oldest others
    going first: called again as an upload grows, so its growth is bounded too."""
    with lock:
        store[key] = value
        held = sum(len(kept.get("data") or b"") for kept in store.values())
        for old in [name for name in store if name != key]:
            if len(store) <= KEPT and held <= KEPT_BYTES:
                break
            held -= len(store.pop(old).get("data") or b"")


def missing(name: str) -> sim.SimError:
    # Google answers a file that is not there as one the caller may not see.
    return sim.SimError(403, f"You do not have permission to access the File {name} or it may not exist.")


FILE_URI = re.compile(r"^(?:https?://[^/]+/v1(?:beta|alpha)?/)?(files/[A-Za-z0-9_.-]+)$")


def named_objects(value: Any) -> List[str]:
    """The Files API files a request's `fileData` parts name (by `files/{id}` or its URL), in order."""
    found: List[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("fileData", "file_data") and isinstance(item, dict):
                uri = item.get("fileUri", item.get("file_uri"))
                matched = FILE_URI.match(uri) if isinstance(uri, str) else None
                if matched:
                    found.append(matched.group(1))
            found += named_objects(item)
    elif isinstance(value, list):
        for item in value:
            found += named_objects(item)
    return found


def require_files(request: Dict[str, Any]) -> None:
    """Google refuses a request naming a file it does not keep, as one the caller may not see."""
    for name in named_objects(request):
        with lock:
            known = name in files
        if not known:
            raise missing(name)


def too_large(size: int) -> sim.SimError:
    return sim.SimError(400, f"File size {size} bytes exceeds the limit of {MAX_FILE} bytes.")


def stored(host: str, name: str, mime: str, data: bytes, source: str, display: Any = None) -> Dict[str, Any]:
    """A file as the Files API shows it (`file`), its bytes beside it (`data`, never shown). Only a
    generated file has a `downloadUri`: Google lets no uploaded file be downloaded."""
    now = time.time()
    shown = {"name": name, "mimeType": mime, "sizeBytes": str(len(data)),
             "createTime": stamp(now), "updateTime": stamp(now), "expirationTime": stamp(now + 48 * 3600),
             "sha256Hash": base64.b64encode(hashlib.sha256(data).hexdigest().encode()).decode(),
             "uri": f"http://{host}/v1beta/{name}", "state": "ACTIVE", "source": source}
    if source == "GENERATED":
        shown["downloadUri"] = f"http://{host}/download/v1beta/{name}:download?alt=media"
    if display:
        shown["displayName"] = display
    return {"file": shown, "data": data}


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
            announced = h.headers.get("X-Goog-Upload-Header-Content-Length") or ""
            if announced.isdigit() and int(announced) > MAX_FILE:
                raise too_large(int(announced))
            upload_id = uuid.uuid4().hex
            name = str(asked.get("name") or f"files/{uuid.uuid4().hex[:12]}")
            keep(uploads, upload_id, {"name": name, "displayName": sim.field(asked, "displayName"),
                                      "mimeType": sim.field(asked, "mimeType") or h.headers.get(
                                          "X-Goog-Upload-Header-Content-Type") or "application/octet-stream",
                                      "data": bytearray()})
            self.extra = [("x-goog-upload-url", f"http://{h.host()}{UPLOAD}?upload_id={upload_id}&upload_protocol=resumable"),
                          ("x-goog-upload-status", "active"), ("x-goog-upload-chunk-granularity", "8388608")]
            h.answer_json(200, {})
            return
        upload_id = h.query.get("upload_id", [""])[0]
        with lock:
            found = uploads.get(upload_id)
        if found is None or command not in ("upload", "upload,finalize"):
            raise sim.SimError(400, "Failed to upload: unknown upload_id or command.")
        size = len(found["data"])
        if h.headers.get("X-Goog-Upload-Offset") != str(size):
            raise sim.SimError(400, f"Invalid offset: the upload has {size} bytes.")
        if size + len(h.raw) > MAX_FILE:
            with lock:
                uploads.pop(upload_id, None)
            raise too_large(size + len(h.raw))
        found["data"] += h.raw
        keep(uploads, upload_id, found)
        if command == "upload":
            self.extra = [("x-goog-upload-status", "active")]
            h.answer_json(200, {})
            return
        with lock:
            uploads.pop(upload_id, None)
        made = stored(h.host(), found["name"], found["mimeType"], bytes(found["data"]), "UPLOADED",
                      found["displayName"])
        keep(files, found["name"], made)
        self.extra = [("x-goog-upload-status", "final")]
        h.answer_json(200, {"file": made["file"]})

    def kept(self) -> Dict[str, Any]:
        with lock:
            found = files.get(f"files/{self.arg}")
        if found is None:
            raise missing(self.arg)
        return found

    def get_file(self, h: Any, body: Dict[str, Any], d: sim.Directives) -> None:
        h.answer_json(200, self.kept()["file"], cut=d.cut is not None)

    def delete_file(self, h: Any, body: Dict[str, Any], d: sim.Directives) -> None:
        with lock:
            found = files.pop(f"files/{self.arg}", None)
        if found is None:
            raise missing(self.arg)
        h.answer_json(200, {})

    def get_files(self, h: Any, body: Dict[str, Any], d: sim.Directives) -> None:
        with lock:
            listed = [found["file"] for found in reversed(files.values())]
        h.answer_json(200, {"files": listed} if listed else {})

    def get_download(self, h: Any, body: Dict[str, Any], d: sim.Directives) -> None:
        found = self.kept()
        if found["file"]["source"] != "GENERATED":
            raise sim.SimError(400, f"Only generated files can be downloaded: files/{self.arg} was uploaded, "
                                    "and uploaded files cannot be downloaded.")
        h.answer_bytes("application/octet-stream", found["data"], cut=d.cut is not None)

    # -- batch mode ----------------------------------------------------------------------------

    def post_batchGenerateContent(self, h: Any, body: Dict[str, Any], d: sim.Directives) -> None:
        batch = body.get("batch") if isinstance(body.get("batch"), dict) else body
        config = sim.field(batch, "inputConfig")
        given = sim.field(sim.field(config, "requests"), "requests")
        source = sim.field(config, "fileName")
        if given and source:
            raise sim.SimError(400, "* GenerateContentBatch.input_config: only one of requests and file_name "
                                    "may be set")
        if source:
            given = file_requests(source)
        elif not isinstance(given, list) or not given:
            raise sim.SimError(400, "* GenerateContentBatch.input_config: requests or file_name is required")
        name = f"batches/{uuid.uuid4().hex[:16]}"
        job = {"name": name, "model": f"models/{self.model}", "displayName": batch.get("displayName") or name,
               "requests": given, "source": source, "header": h.sim_header, "reads": 0, "wanted": d.reads,
               "created": time.time(), "output": None, "lock": threading.Lock()}
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
                if job["source"]:
                    write_results(h.host(), job)
            state = "BATCH_STATE_SUCCEEDED" if done else STATES[min(job["reads"], len(STATES) - 1)]
        h.server.stats.job(name, "gemini_batch", state, read=True)
        h.answer_json(200, view(job, state), cut=d.cut is not None)


def file_requests(name: Any) -> List[Dict[str, Any]]:
    """A batch's input file as its requests, one a line (blank lines skipped). Google reads the file
    when the batch is made: one it cannot read refuses the batch there."""
    with lock:
        found = files.get(name) if isinstance(name, str) else None
    if found is None:
        raise sim.SimError(400, f"* GenerateContentBatch.input_config.file_name: the file {name} does not "
                                "exist or you do not have permission to access it.")
    lines = [(number, line) for number, line in enumerate(found["data"].split(b"\n"), 1) if line.strip()]
    if not lines:
        raise sim.SimError(400, f"* GenerateContentBatch.input_config.file_name: the file {name} has no requests.")
    return [file_line(name, number, line) for number, line in lines]


def file_line(name: str, number: int, line: bytes) -> Dict[str, Any]:
    """One line of an input file: `{"key": "...", "request": {GenerateContentRequest}}`."""
    try:
        value = json.loads(line)
    except ValueError:  # not JSON, or not UTF-8
        value = None
    if not (isinstance(value, dict) and isinstance(value.get("key"), str) and isinstance(value.get("request"), dict)):
        raise sim.SimError(400, f"* GenerateContentBatch.input_config.file_name: line {number} of {name} is not "
                                'a request: each line must be {"key": string, "request": GenerateContentRequest}.')
    return value


def write_results(host: str, job: Dict[str, Any]) -> None:
    """A file batch's answers, as Google writes them: a generated JSONL file `files/batch-{id}`, a
    line `{"key", "response" | "error"}` per request in the input's order."""
    name = f"files/batch-{job['name'].split('/', 1)[1]}"
    data = "".join(sim.dumps(line) + "\n" for line in job["output"]).encode()
    keep(files, name, stored(host, name, "application/jsonl", data, "GENERATED"))
    job["results"] = name


def answer(server: Any, job: Dict[str, Any], inlined: Any) -> Dict[str, Any]:
    """One request (inlined, or a file's line) answered by generateContent's own code, with the
    batch's directives."""
    request = inlined.get("request") if isinstance(inlined, dict) else None
    route = f"/v1beta/{job['model']}:generateContent"
    status, value, _ = sim.answer_line(server, sim.GEMINI, route, request, job["header"])
    found: Dict[str, Any] = {"response": value} if status == 200 else {"error": value.get("error", value)}
    if job["source"]:
        return {"key": inlined["key"], **found}
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
        # A file batch's answers are in its generated file, an inlined batch's in the batch.
        metadata["output"] = ({"responsesFile": job["results"]} if job["source"]
                              else {"inlinedResponses": {"inlinedResponses": output}})
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
    found = DOWNLOAD.match(route)
    if found:
        return GoogleJobs(handler, "download", found.group(1))
    found = FILE.match(route)
    if found and route.startswith("/v1beta/"):
        return GoogleJobs(handler, "file", found.group(1))
    found = BATCH.match(route)
    if found:
        return GoogleJobs(handler, "batch", found.group(1))
    return None
