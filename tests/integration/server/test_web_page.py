"""The browser page against a real server and model: served keyless, the API keyed, and the page's own SSE
parser (lib.js, under node) reading a real rag/ stream into text and citations."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from live_server import Live

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[3]


def test_page_is_keyless_and_the_api_is_not(live: Live) -> None:
    page = httpx.get(f"{live.url}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert httpx.get(f"{live.url}/ui/app.js").headers["content-type"].startswith("text/javascript")
    assert httpx.get(f"{live.url}/v1/models").status_code == 401
    models = httpx.get(f"{live.url}/v1/models", headers=live.headers("samples")).json()["data"]
    assert "rag/samples" in [m["id"] for m in models]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_page_parser_reads_a_real_rag_stream(live: Live, tmp_path: Path) -> None:
    ask = {"model": "rag/samples", "stream": True, "stream_options": {"include_usage": True},
           "messages": [{"role": "user", "content": "How long is the warranty on the Acme Widget 3000?"}]}  # fmt: skip
    with httpx.stream("POST", f"{live.url}/v1/chat/completions", json=ask, headers=live.headers("samples"),
                      timeout=120) as r:  # fmt: skip
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        (tmp_path / "stream.txt").write_bytes(r.read())
    web = tmp_path / "web"
    shutil.copytree(ROOT / "src" / "llmkit" / "server" / "web", web, ignore=shutil.ignore_patterns("*.py", "__*"))
    (web / "package.json").write_text('{"type": "module"}', encoding="utf-8")
    check = ROOT / "tests" / "unit" / "server" / "web_lib_check.mjs"
    done = subprocess.run(["node", str(check), str(web), str(tmp_path / "stream.txt")],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    reply = json.loads(done.stdout)
    assert reply["done"] and reply["error"] is None and reply["body"].strip()
    assert reply["citations"] and all(c["source"].startswith("docs/") for c in reply["citations"])
    assert reply["usage"]["completion_tokens"] > 0
