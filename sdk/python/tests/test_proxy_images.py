"""Image edits through the gateway, as the official `openai` client sends them (a multipart form:
the prompt and the options, then one image or several as `image[]`, and a mask): the form read
whole once, each image held at an image's most and `n` images out, the reported usage committed,
and a form the provider could read another way (a field twice, an image sent as text) refused
before the provider sees it."""

from __future__ import annotations

from typing import Callable

import httpx
import openai
import pytest
from conftest import ProxyEnv
from test_proxy import ledger, reported, settled

from quota_gateway import QuotaGateway

USER_PREFIX = "im"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_an_edit_of_two_images_and_a_mask_is_held_per_image_and_commits_what_was_reported(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on(measure={"weights": {"input_tokens": 1, "output_tokens": 1}})
    client = pqg.openai(user, max_retries=0)
    answer = client.images.edit(model="gpt-image-1", prompt="add a hat", n=2, size="1024x1024",
                                image=[("a.png", PNG, "image/png"), ("b.png", PNG, "image/png")],
                                mask=("m.png", PNG, "image/png"))
    assert answer.data is not None and len(answer.data) == 2
    assert answer.usage is not None
    stats = proxy.stats()
    assert stats["paths"] == {"/v1/images/edits": 1}
    sent = stats["requests"][-1]["body"]
    assert sent["prompt"] == "add a hat" and sent["n"] == "2"
    (entry,) = ledger(pqg, user, "commit")
    metadata = entry.metadata or {}
    assert (entry.event, metadata["images"], metadata["usage"]) == ("openai.images", 2, "reported")
    assert (metadata["input_tokens"], metadata["output_tokens"]) == (answer.usage.input_tokens,
                                                                      answer.usage.output_tokens)
    assert settled(proxy.env, user) == (reported(stats), 0)


def test_a_form_the_provider_could_read_another_way_is_refused_before_it_sees_it(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    user = user_on()
    client = pqg.openai(user, max_retries=0)
    # An image sent as text is no image the gateway can hold.
    with pytest.raises(openai.BadRequestError) as text:
        client.images.edit(model="gpt-image-1", prompt="add a hat", image=[],
                           extra_body={"image": "not a file"})
    assert "image" in str(text.value)
    # A prompt named twice: the provider's parser keeps the last, the hold would read one.
    form = [("model", (None, b"gpt-image-1")), ("prompt", (None, b"a")), ("prompt", (None, b"b")),
            ("image", ("a.png", PNG, "image/png"))]
    refused = httpx.post(f"{proxy.base_url}/proxy/openai/v1/images/edits", files=form,
                         headers={"Authorization": f"Bearer {proxy.env.secret}", "X-Quota-User": user}, timeout=10)
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "prompt"
    assert proxy.stats()["calls"] == 0
    assert settled(proxy.env, user) == (0, 0)


def test_an_edit_larger_than_what_is_left_is_denied_before_the_provider_sees_it(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str]) -> None:
    # Room for one image's input tokens, not for two images'.
    user = user_on(quota=10_000, measure={"weights": {"input_tokens": 1}}, period="lifetime")
    with pytest.raises(openai.RateLimitError):
        pqg.openai(user, max_retries=0).images.edit(
            model="gpt-image-1", prompt="add a hat",
            image=[("a.png", PNG, "image/png"), ("b.png", PNG, "image/png")])
    assert proxy.stats()["calls"] == 0
