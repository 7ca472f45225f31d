"""The page's JavaScript under node (skipped without node): every file parses, and lib.js's pure functions
(SSE parsing, replies, citations, error lines) work, on a real stream of the server too."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from server_fakes import upload

NODE = shutil.which("node")
WEB = Path(__file__).resolve().parents[3] / "src" / "llmkit" / "server" / "web"
CHECK = Path(__file__).with_name("web_lib_check.mjs")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


@pytest.fixture
def modules(tmp_path: Path) -> Path:
    """The page's scripts in a folder marked as ES modules (node reads a bare .js as CommonJS otherwise)."""
    folder = tmp_path / "web"
    folder.mkdir()
    for script in WEB.glob("*.js"):
        shutil.copy(script, folder)
    (folder / "package.json").write_text('{"type": "module"}', encoding="utf-8")
    return folder


def node(*args: str) -> subprocess.CompletedProcess[str]:
    assert NODE is not None
    return subprocess.run([NODE, *args], capture_output=True, text=True, timeout=60, check=False)


def test_every_script_parses(modules: Path) -> None:
    scripts = sorted(modules.glob("*.js"))
    assert len(scripts) >= 8
    for script in scripts:
        done = node("--check", str(script))
        assert done.returncode == 0, f"{script.name}: {done.stderr}"


def test_pure_functions_and_a_real_stream(modules: Path, tmp_path: Path, make_client: Any) -> None:
    client = make_client(replies=("Three years [1].",))
    assert upload(client).status_code == 201
    ask = {"model": "rag/docs", "messages": [{"role": "user", "content": "How long is the warranty?"}],
           "stream": True, "stream_options": {"include_usage": True}}  # fmt: skip
    with client.stream("POST", "/v1/chat/completions", json=ask) as r:
        assert r.status_code == 200
        stream = tmp_path / "stream.txt"
        stream.write_bytes(r.read())
    done = node(str(CHECK), str(modules), str(stream))
    assert done.returncode == 0, done.stderr
    reply = json.loads(done.stdout)
    assert reply["done"] and reply["error"] is None and reply["finishReason"] == "stop"
    assert reply["body"] == "Three years [1]." and "Sources:" in reply["content"]
    cited = reply["citations"][0]
    assert cited["n"] == 1 and cited["source"] == "faq.md" and cited["heading"] == "Warranty" and cited["snippet"]
    assert reply["usage"]["completion_tokens"] > 0 and reply["cost"] == 0.0
