"""OpenAI's paths beyond sim.py's own: `POST /v1/images/edits` (a multipart form: one `image` or
several `image[]`, a `mask`, `prompt`, `n`, `size`, `quality`; answered by `/v1/images/generations`'
code, each input image counted as gpt-image-1 counts it) and `POST /v1/videos/{id}/remix` (a new
video job, made from a completed one with a new prompt)."""

from __future__ import annotations

from typing import Any, Dict, List

import sim

# Input tokens an input image costs gpt-image-1 at low fidelity (its `image_tokens`).
IMAGE_INPUT_TOKENS = 65
IMAGE_PARTS = ("image", "image[]")


def image_sink(handler: Any) -> sim.Sink:
    """Counts each image part of an edit as it streams (a name given twice is read at its last
    part, but every `image[]` part is one more image, as OpenAI's form reader takes an array)."""
    handler.image_parts = []

    def sink(name: str, filename: str) -> sim.AudioFile:
        if name in IMAGE_PARTS:
            handler.image_parts.append(name)
        return sim.AudioFile(filename)
    return sink


def images_edit(h: Any, _body: Dict[str, Any], d: sim.Directives) -> None:
    upload = h.upload
    if upload is None:
        raise sim.SimError(400, "Expected a multipart form with 'image' and 'prompt'.", "image")
    fields: Dict[str, Any] = dict(upload.fields)
    parts: List[str] = getattr(h, "image_parts", [])
    # `image` given twice is one image (its last part); each `image[]` is one more.
    images = parts.count("image[]") + (1 if "image" in upload.files else 0)
    if not images:
        raise sim.SimError(400, "Missing required parameter: 'image'.", "image")
    if not isinstance(fields.get("prompt"), str) or not fields["prompt"]:
        raise sim.SimError(400, "Missing required parameter: 'prompt'.", "prompt")
    body: Dict[str, Any] = {"prompt": fields["prompt"]}
    for name in ("size", "quality", "model"):
        if name in fields:
            body[name] = fields[name]
    if "n" in fields:
        try:
            body["n"] = int(fields["n"])
        except ValueError:
            raise sim.SimError(400, f"Invalid type for 'n': expected an integer, but got {fields['n']!r}.", "n") from None
    h.api_images(body, d, image_tokens=images * IMAGE_INPUT_TOKENS)


def video_remix(h: Any, body: Dict[str, Any], d: sim.Directives, vid: str) -> None:
    source = h.find_job("video", vid)
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise sim.SimError(400, "Missing required parameter: 'prompt'.", "prompt")
    with source.lock:
        status = source.status()
    if status != "completed":
        raise sim.SimError(400, f"Video {vid} cannot be remixed: its status is '{status}'.", None, null_code=True)
    job = sim.Video(d, h.sim_header, source.model, prompt, source.seconds, source.size)
    job.remixed_from = vid
    h.new_job(job)
    h.answer_json(200, job.view(), cut=d.cut is not None)
