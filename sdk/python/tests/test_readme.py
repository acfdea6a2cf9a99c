"""Every code block of the README, as written: each section's ```python blocks run in order, in
one namespace, against a project of their own (its own plans, users and ledger) on a gateway
whose proxy answers as OpenAI and Anthropic (the provider simulator), and then say what they
did; every block also passes `mypy --strict`. The reader's own functions and values (the model
call, the render, what the user is told, ...) come from `readme_context.py`, and nothing else is
added. A block that is not run is named in EXCEPTIONS with the reason."""

from __future__ import annotations

import builtins
import itertools
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest
import readme_context
from conftest import ProxyEnv
from gateway import admin

from quota_gateway import ChangeCount, QuotaGateway

SDK = Path(__file__).resolve().parents[1]
README = SDK / "README.md"
REPO = SDK.parents[1]

# Blocks not run here, by their section and first line, with the reason.
EXCEPTIONS = {
    ("Install", "pip install ./sdk/python"):
        "installs into the reader's environment: scripts/pack-sdks --check installs ./sdk/python into a fresh venv, "
        "and the packed wheel with every extra into another; test_the_install_section_names_what_is_packed holds "
        "these lines to pyproject.toml",
    ("Install", "scripts/pack-sdks"):
        "packs and installs: scripts/pack-sdks --check runs it and installs its wheel into a fresh venv, and "
        "test_the_install_section_names_what_is_packed holds the file name to pyproject.toml",
}


def sections() -> List[Tuple[str, List[Tuple[str, str]]]]:
    """The README's sections (`## ` headings) in order, each with its fenced blocks as (language, code)."""
    found: List[Tuple[str, List[Tuple[str, str]]]] = []
    for part in re.split(r"^## ", README.read_text(), flags=re.M)[1:]:
        title, _, body = part.partition("\n")
        found.append((title.strip(), re.findall(r"^```(\w*)\n(.*?)^```", body, re.S | re.M)))
    return found


def python_sections() -> List[str]:
    return [title for title, blocks in sections() if any(lang == "python" for lang, _ in blocks)]


def section_code(title: str) -> str:
    [blocks] = [blocks for t, blocks in sections() if t == title]
    return "\n".join(code for lang, code in blocks if lang == "python")


READERS_OWN = [name for name in vars(readme_context) if not name.startswith("_") and name not in {
    "annotations", "json", "time", "dataclass", "field", "Any", "Dict", "List", "Optional", "Tuple",
    "CallbackManagerForLLMRun", "BaseChatModel", "AIMessage", "BaseMessage", "UsageMetadata", "ChatGeneration",
    "ChatResult", "sign_webhook", "told", "offered", "TOKENS", "Usage", "Answer", "Request", "ChatModel"}]


def defines(code: str, name: str) -> bool:
    return re.search(rf"^(?:{name}\s*=|def {name}\b|class {name}\b|import {name}\b)|^from \S+ import .*\b{name}\b"
                     rf"|\bfor {name} in\b|\bas {name}\b", code, re.M) is not None


def left_to_the_reader(code: str) -> List[str]:
    """The reader's own names the code uses and does not make itself."""
    return [n for n in READERS_OWN if re.search(rf"\b{n}\b", code) and not defines(code, n)]


def prelude(code: str) -> str:
    """What the code is run after, and checked after: the reader's own names it uses, and the
    quick start's client `qg` when it makes none."""
    lines = []
    names = left_to_the_reader(code)
    if names:
        lines.append(f"from readme_context import {', '.join(names)}")
    if re.search(r"\bqg\b", code) and not defines(code, "qg"):
        lines += ["from quota_gateway import QuotaGateway", "qg = QuotaGateway()   # the quick start's"]
    return "\n".join(lines) + "\n"


def test_every_block_of_the_readme_is_run_or_named_with_a_reason() -> None:
    run, excused = 0, set()
    for title, blocks in sections():
        for lang, code in blocks:
            if lang == "python":
                run += 1
                continue
            key = (title, code.splitlines()[0].split("  #")[0].strip())
            assert key in EXCEPTIONS, f"a {lang or 'plain'} block of {title!r} is neither run nor excused: {key}"
            excused.add(key)
    assert excused == set(EXCEPTIONS), "every exception names a block the README has"
    assert run > 0


def test_the_install_section_names_what_is_packed() -> None:
    [install] = [blocks for title, blocks in sections() if title == "Install"]
    text = README.read_text().split("## Install\n", 1)[1].split("\n## ", 1)[0]
    pyproject = (SDK / "pyproject.toml").read_text()
    name = re.search(r'^name = "(.*)"$', pyproject, re.M)
    version = re.search(r'^version = "(.*)"$', pyproject, re.M)
    assert name and version
    extras = re.findall(r"^(\w+) = \[", pyproject.split("[project.optional-dependencies]")[1].split("\n[")[0], re.M)
    assert f"`{name[1]}` {version[1]}" in text, "the name and version it will be published under"
    for extra in extras:
        assert f"`[{extra}]`" in text, extra
    wheel = f"target/sdk/quota_gateway-{version[1]}-py3-none-any.whl"
    commands = "\n".join(code for _, code in install)
    assert f"pip install '{wheel}[fastapi]'" in commands and f"# prints the packed files: {wheel}" in commands
    assert "pip install ./sdk/python " in commands and "pip install './sdk/python[fastapi]'" in commands
    assert "scripts/pack-sdks" in commands and (REPO / "scripts" / "pack-sdks").exists()
    assert "uvicorn" in pyproject.split("fastapi = [")[1].split("]")[0], "the [fastapi] extra runs the examples"


@pytest.fixture
def project(proxy_env: ProxyEnv, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tuple[str, str]]:
    """A project of its own on the gateway with the proxy, its secret key in the environment as
    the quick start reads it: (url, key)."""
    env, url = proxy_env.env, proxy_env.base_url
    name = f"readme{next(_projects)}x{int(time.time() * 1000) % 100_000}"
    admin(url, proxy_env.gateway.root_token, "POST", "/v1/projects", {"id": name})
    made = admin(url, proxy_env.gateway.root_token, "POST", f"/v1/projects/{name}/keys", {"kind": "secret"})
    assert isinstance(made, dict) and env
    monkeypatch.setenv("QUOTA_GATEWAY_URL", url)
    monkeypatch.setenv("QUOTA_GATEWAY_KEY", made["key"])
    readme_context.told.clear()
    readme_context.offered.clear()
    yield url, made["key"]


_projects = itertools.count()


def check_quick_start(qg: QuotaGateway, scope: Dict[str, Any], out: str) -> None:
    counters = {c.group_id: c for c in qg.usage("alice").counters}
    assert (counters["renders"].used, counters["tokens"].used) == (1, 1200)
    assert counters["renders"].reserved == counters["tokens"].reserved == 0


def check_ledger(qg: QuotaGateway, scope: Dict[str, Any], out: str) -> None:
    assert out.strip() == "{}", "a new project's team has no usage"
    assert callable(scope["usage_by_model"])


def check_credits(qg: QuotaGateway, scope: Dict[str, Any], out: str) -> None:
    assert out.strip() == "credits 490 10 0 None"
    assert scope["hold"].allowed and readme_context.offered == []


def check_prices(qg: QuotaGateway, scope: Dict[str, Any], out: str) -> None:
    [dollars] = qg.usage("bob").counters
    assert dollars.used > 0 and dollars.reserved == 0
    assert [p.model for p in qg.prices().data] == ["acme/support-ft-7"]
    assert scope["max_tokens"] == 3000 and scope["hold"].granted.quantity == 5000


def check_approvals(qg: QuotaGateway, scope: Dict[str, Any], out: str) -> None:
    [(said, approval_id)] = readme_context.told
    assert said == "waiting for approval"
    decided = qg.get_approval(approval_id)
    assert (decided.status, decided.approved_quota) == ("approved", 8)
    assert "marketing launches campaign.launch 1" in out
    assert qg.reserve("marketing", "campaign.launch").allowed, "3 more launches this period"


def check_per_value(qg: QuotaGateway, scope: Dict[str, Any], out: str) -> None:
    assert out.strip() == "[('premium', 'flux-pro', 99)]"
    assert qg.get_subscription("alice").overrides == {}, "set, then removed"


def check_runs(qg: QuotaGateway, scope: Dict[str, Any], out: str) -> None:
    run = qg.get_run(scope["run"].id)
    [tokens] = run.groups
    assert (run.state, tokens.budget, tokens.used, tokens.open) == ("closed", 2500, 2100, 0), run
    assert scope["turn"] == 3 and scope["step"].reasons == ["run_budget_exhausted"]
    assert [(c.used, c.reserved) for c in qg.usage("alice").counters] == [(2100, 0)]


def check_simulations(qg: QuotaGateway, scope: Dict[str, Any], out: str) -> None:
    report = scope["report"]
    assert report.fidelity == 1 and report.newly_admitted == ChangeCount(1, 1)
    assert scope["csv"].startswith("userId,")
    assert "1 of 1 users" in out


def check_migrating(qg: QuotaGateway, scope: Dict[str, Any], out: str) -> None:
    assert [(c.used, c.reserved) for c in qg.usage("alice").counters] == [(1200, 0)]


def check_webhooks(qg: QuotaGateway, scope: Dict[str, Any], out: str) -> None:
    assert out.strip() == "webhook.test"


def check_proxy(qg: QuotaGateway, scope: Dict[str, Any], out: str) -> None:
    [tokens] = qg.usage("alice").counters
    assert tokens.used > 0 and tokens.reserved == 0
    assert readme_context.told == [] and scope["answer"].choices[0].message.content in out
    assert str(scope["client"].base_url) == "https://gateway.example.com/proxy/openai/v1/"
    assert scope["client"].api_key == readme_context.user_key


def check_integrations(qg: QuotaGateway, scope: Dict[str, Any], out: str) -> None:
    # The LangChain run: the usage the model reported.
    assert [(c.used, c.reserved) for c in qg.usage("alice").counters] == [(12, 0)]
    # The FastAPI app, as its server would run it, its auth setting the user.
    from fastapi import Request
    from fastapi.testclient import TestClient

    app, aqg = scope["app"], scope["aqg"]
    qg.put_plan({"id": "plan_api", "periodType": "month", "groups": [
        {"id": "requests", "unit": "count", "quota": 5, "matches": [{"event": "api.request"}]}]})
    qg.upsert_subscription("carol", "plan_api")

    @app.middleware("http")
    async def auth(request: Request, call_next: Callable[[Request], Any]) -> Any:
        request.state.user_id = request.headers["x-user"]
        return await call_next(request)

    with TestClient(app) as client:
        answers = [client.post("/chat", headers={"x-user": "carol"}) for _ in range(2)]
        client.portal.call(aqg.aclose)
    assert [a.status_code for a in answers] == [200, 429]
    assert answers[0].headers["RateLimit"].startswith('"requests";r=1'), "4 of 5 held"
    assert answers[1].json()["detail"]["reasons"] == ["limit_reached"]
    assert [(c.used, c.reserved) for c in qg.usage("carol").counters] == [(2, 0)], "hold.commit(2); the second was denied"


CHECKS: Dict[str, Callable[[QuotaGateway, Dict[str, Any], str], None]] = {
    "Quick start": check_quick_start,
    "The usage ledger": check_ledger,
    "Credits": check_credits,
    "Prices, the catalog and fit": check_prices,
    "Approval requests": check_approvals,
    "Per-value counters": check_per_value,
    "Runs": check_runs,
    "Simulations (pricing lab)": check_simulations,
    "Migrating from `@vevee/sdk`": check_migrating,
    "Webhooks": check_webhooks,
    "The provider through the gateway's proxy": check_proxy,
    "Integrations": check_integrations,
}


def test_every_section_with_python_has_a_check() -> None:
    assert sorted(CHECKS) == sorted(python_sections())


@pytest.mark.parametrize("title", list(CHECKS))
def test_the_sections_python_runs_as_written(title: str, project: Tuple[str, str], capsys: pytest.CaptureFixture[str],
                                             caplog: pytest.LogCaptureFixture) -> None:
    code = section_code(title)
    scope: Dict[str, Any] = {"__name__": "readme", "__builtins__": builtins}
    with caplog.at_level(logging.WARNING, logger="quota_gateway"):
        exec(compile(prelude(code) + code, f"README.md ({title})", "exec"), scope)   # noqa: S102 - the README's code
    out = capsys.readouterr().out
    with QuotaGateway() as qg:
        CHECKS[title](qg, scope, out)
    assert [r.getMessage() for r in caplog.records if r.name == "quota_gateway"] == [], "nothing warned"
    if "qg" in scope and isinstance(scope["qg"], QuotaGateway):
        scope["qg"].close()


def test_every_python_block_passes_mypy_strict(tmp_path: Path) -> None:
    """Each section's blocks as one module (they share names as the run does), after the same prelude."""
    files = []
    for n, title in enumerate(python_sections()):
        code = section_code(title)
        path = tmp_path / f"readme_{n}.py"
        path.write_text(f"# README.md: {title}\n{prelude(code)}{code}")
        files.append(str(path))
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--show-error-context",
         "--config-file", str(SDK / "pyproject.toml"), *files],
        cwd=SDK, capture_output=True, text=True, timeout=600,
        env={**os.environ, "MYPYPATH": str(SDK / "tests")})
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_refund_warning_is_silenced_from_outside_as_the_readme_says(tmp_path: Path) -> None:
    """`-W` and PYTHONWARNINGS are read before installed packages can be imported: the README's
    filter matches the warning by its message and category; a category of the package cannot."""
    said = [s for s in README.read_text().split("## Migrating from `@vevee/sdk`")[1].split("\n## ")[0].splitlines()
            if "python -W" in s]
    [flag] = re.findall(r"python -W '([^']+)'", said[0])
    [variable] = re.findall(r"PYTHONWARNINGS='([^']+)'", said[0])
    script = tmp_path / "app.py"
    script.write_text("from quota_gateway import _calls\n_calls.track('alice', 'llm.tokens.refund', 1, None, None)\n")

    def run(*args: str, **env: str) -> str:
        done = subprocess.run([sys.executable, *args, str(script)], capture_output=True, text=True, timeout=60,
                              cwd=tmp_path, env={**os.environ, **env})
        assert done.returncode == 0, done.stderr
        return done.stderr

    assert "RefundEventWarning" in run(), "warned without a filter"
    assert run("-W", flag) == "" and run(PYTHONWARNINGS=variable) == ""
    assert "Invalid -W option ignored" in run("-W", "ignore::quota_gateway.RefundEventWarning"), "what the README warns of"
