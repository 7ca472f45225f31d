"""``llmkit keys`` and ``llmkit serve``'s refusals; graceful shutdown lets an in-flight request finish."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from cli_runner import run_cli


def test_keys_create_list_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = str(tmp_path)
    code, out, _ = run_cli(capsys, "-C", p, "keys", "create", "bot", "-s", "query", "-c", "docs", "--json")
    created = json.loads(out)
    assert code == 0 and created["secret"].startswith("lk-") and created["key"]["collections"] == ["docs"]
    code, out, _ = run_cli(capsys, "-C", p, "keys", "list", "--json")
    listed = json.loads(out)
    assert [k["name"] for k in listed] == ["bot"] and created["secret"] not in out
    code, out, _ = run_cli(capsys, "-C", p, "keys", "revoke", created["key"]["id"])
    assert code == 0 and "revoked" in out
    code, _, err = run_cli(capsys, "-C", p, "keys", "revoke", created["key"]["id"])
    assert code == 66 and "no live key" in err
    code, _, err = run_cli(capsys, "-C", p, "keys", "create", "x", "-s", "root")
    assert code == 65 and "unknown scopes" in err


def test_key_names_are_text_never_markup_and_bad_ones_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = str(tmp_path)
    code, out, _ = run_cli(capsys, "-C", p, "keys", "create", "[/]", "-s", "chat")  # a MarkupError lost the secret
    assert code == 0 and out.startswith("secret (shown once): lk-") and "([/])" in out
    code, out, _ = run_cli(capsys, "-C", p, "keys", "list")
    assert code == 0 and "[/]" in out
    code, _, err = run_cli(capsys, "-C", p, "keys", "create", "bad\udcff", "-s", "chat")  # an undecodable byte
    assert code == 65 and "not valid UTF-8" in err
    code, _, err = run_cli(capsys, "-C", p, "keys", "create", "x", "-s", "chat", "-c", "bad coll!!")
    assert code == 65 and "not a collection name" in err
    (tmp_path / "afile").write_text("")
    code, _, err = run_cli(capsys, "init", str(tmp_path / "afile"))
    assert code == 74 and "cannot write the project" in err


def test_serve_refuses_no_auth_off_loopback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "-C", str(tmp_path), "serve", "--no-auth", "--host", "0.0.0.0")
    assert code == 78 and "loopback" in err


def test_graceful_shutdown_finishes_in_flight_requests(tmp_path: Path) -> None:
    import httpx

    from llmkit.config import load_settings
    from llmkit.server import create_app
    from llmkit.server.background import serve_in_thread
    from llmkit.testing import FakeChatModel, HashEmbedder

    settings = load_settings(tmp_path, server={"auth": "none", "log_json": False})
    app = create_app(settings, chat_model=FakeChatModel(["done"], delay_s=1.0), embedder=HashEmbedder())
    result: dict[str, Any] = {}
    chat = {"model": "smollm2-135m-instruct", "messages": [{"role": "user", "content": "hi"}]}
    with serve_in_thread(app) as url:

        def call() -> None:
            result["reply"] = httpx.post(f"{url}/v1/chat/completions", json=chat, timeout=30)

        t = threading.Thread(target=call)
        t.start()
        import time

        deadline = time.monotonic() + 20  # wait until the request is in flight, however busy the machine
        while app.state.llmkit.chat.gate.running == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert app.state.llmkit.chat.gate.running == 1  # leaving the block now asks the server to stop
    t.join(10)
    reply = result["reply"]
    assert reply.status_code == 200 and reply.json()["choices"][0]["message"]["content"] == "done"
