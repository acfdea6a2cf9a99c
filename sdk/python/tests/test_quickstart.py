"""The Python SDK README's quick start runs as written against a fresh gateway (its own
redis-server, the project `default` it makes at first start) and counts what it says, with
nothing warned: the code is read from the README, and only the reader's own functions
(`call_the_model`, `render`, `tell_user`) are given. The top-level README and the book run
theirs in `scripts/book test`."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, Iterator, List

import pytest
from gateway import REPO, Gateway, admin, start_gateway, start_redis

SDK_README = REPO / "sdk" / "python" / "README.md"
TOKENS_USED = 1234


@pytest.fixture
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, str]]:
    """A gateway on an empty redis-server: the project `default` and a secret key of it."""
    redis = start_redis()
    gateway: Gateway = start_gateway(redis.url, tmp_path_factory.mktemp("fresh"))
    try:
        made = admin(gateway.base_url, gateway.root_token, "POST", "/v1/projects/default/keys", {"kind": "secret"})
        assert isinstance(made, dict)
        yield {"QUOTA_GATEWAY_URL": gateway.base_url, "QUOTA_GATEWAY_KEY": made["key"]}
    finally:
        gateway.stop()
        redis.stop()


def python_blocks(readme: Path, start: str, end: str) -> List[str]:
    """The ```python blocks of a README between two headings (or texts)."""
    text = readme.read_text()
    section = text[text.index(start): text.index(end, text.index(start))]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def the_readers_own() -> Dict[str, Any]:
    usage = SimpleNamespace(total_tokens=TOKENS_USED)

    def tell_user(*why: Any) -> None:
        raise AssertionError(f"the quick start was denied: {why}")

    return {"call_the_model": lambda: SimpleNamespace(usage=usage), "render": lambda: b"png", "tell_user": tell_user}


def run_as_written(blocks: List[str], fresh: Dict[str, str], monkeypatch: pytest.MonkeyPatch,
                   caplog: pytest.LogCaptureFixture) -> Dict[str, Any]:
    for name, value in fresh.items():
        monkeypatch.setenv(name, value)
    scope = the_readers_own()
    with caplog.at_level(logging.WARNING, logger="quota_gateway"):
        for block in blocks:
            exec(compile(block, "README", "exec"), scope)   # noqa: S102 - the README's own code
    assert [r.getMessage() for r in caplog.records if r.name == "quota_gateway"] == []
    return scope


def test_the_sdk_readmes_quick_start_runs_as_written(
        fresh: Dict[str, str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    blocks = python_blocks(SDK_README, "# quota-gateway (Python client)", "## How a hold settles")
    assert len(blocks) == 2
    scope = run_as_written(blocks, fresh, monkeypatch, caplog)
    counters = {c.group_id: c for c in scope["qg"].usage("alice").counters}
    assert (counters["renders"].used, counters["tokens"].used) == (1, TOKENS_USED)
    assert counters["renders"].reserved == counters["tokens"].reserved == 0
