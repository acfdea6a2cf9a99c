"""The distribution as published: wheel and sdist ship `py.typed`, depend on httpx alone, and
offer the integrations as extras (FastAPI from the version that runs a dependency's exit after a
streamed body, with uvicorn for the examples); every module parses as Python 3.9."""

from __future__ import annotations

import ast
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_and_sdist_ship_py_typed_and_depend_on_httpx_alone(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "hatchling", "build", "-d", str(tmp_path)], cwd=ROOT, check=True,
                   capture_output=True, timeout=120)
    wheel = next(tmp_path.glob("quota_gateway-*.whl"))
    sdist = next(tmp_path.glob("quota_gateway-*.tar.gz"))
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        metadata = Parser().parsestr(z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode())
    assert "quota_gateway/py.typed" in names and "quota_gateway/openai.py" in names
    assert not any(n.startswith(("tests/", "examples/")) for n in names)
    with tarfile.open(sdist) as t:
        assert any(n.endswith("src/quota_gateway/py.typed") for n in t.getnames())
    assert metadata["Name"] == "quota-gateway" and metadata["Requires-Python"] == ">=3.9"
    requires = metadata.get_all("Requires-Dist") or []
    assert [r for r in requires if "extra ==" not in r] == ["httpx<1,>=0.24"]
    assert sorted(metadata.get_all("Provides-Extra") or []) == ["anthropic", "bedrock", "fastapi", "gemini", "langchain",
                                                                 "openai"]
    extras = sorted(r.replace(" ", "").replace('"', "'") for r in requires if "extra ==" in r)
    assert extras == ["anthropic>=0.41;extra=='anthropic'", "boto3>=1.39;extra=='bedrock'", "fastapi>=0.118;extra=='fastapi'",
                      "google-genai>=1.0;extra=='gemini'", "langchain-core>=0.2;extra=='langchain'",
                      "openai>=1.66;extra=='openai'", "uvicorn>=0.24;extra=='fastapi'"], "the examples' uvicorn too"


def test_every_module_parses_as_python_3_9() -> None:
    for path in [*(ROOT / "src").rglob("*.py"), *(ROOT / "examples").glob("*.py")]:
        source = path.read_text()
        ast.parse(source, filename=str(path), feature_version=(3, 9))
        assert "from __future__ import annotations" in source, path
