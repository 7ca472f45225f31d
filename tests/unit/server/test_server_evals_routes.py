"""``/v1/evals``: eval runs as JSON and their HTML reports, admin only, never creating the store on a read."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def save_runs(data_dir: Path) -> None:
    """Two runs: an older one, and the latest, whose ``faithfulness`` no item scored (a NaN mean)."""
    from llmkit.evals.store import EvalStore, Row, Run

    store = EvalStore(data_dir / "evals.db")
    summary = {"f1": {"mean": 0.5, "low": 0.25, "high": 0.75, "n": 2}}
    older = Run("20250101-000000-aaaaaa", 1.0, "faq", {}, {"rag": "answer@1"}, {"chat": "fake"}, "faq.jsonl", 2,
                summary, {"seconds": 1.0})  # fmt: skip
    store.save_run(
        older,
        [Row("q1", 0, {"answer": "<b>three</b> years"}, {"f1": 0.5})],
    )
    nan = {**summary, "faithfulness": {"mean": float("nan"), "low": float("nan"), "high": float("nan"), "n": 0}}
    store.save_run(
        Run("20250102-000000-bbbbbb", 2.0, "faq <v2>", {}, {}, {"chat": "fake"}, "faq.jsonl", 2, nan, {}),
        [Row("q1", 0, {"answer": "three years"}, {"f1": 1.0, "faithfulness": None})],
    )
    store.close()


@pytest.fixture
def evals_client(make_client: Callable[..., Any], tmp_path: Path) -> Any:
    client = make_client()
    save_runs(tmp_path / ".llmkit")
    return client


def test_lists_runs_newest_first_with_nan_as_null(evals_client: Any) -> None:
    body = evals_client.get("/v1/evals").json()
    assert [r["id"] for r in body["data"]] == ["20250102-000000-bbbbbb", "20250101-000000-aaaaaa"]
    latest = body["data"][0]
    assert latest["object"] == "eval.run" and latest["name"] == "faq <v2>"
    assert latest["summary"]["faithfulness"] == {"mean": None, "low": None, "high": None, "n": 0}
    assert latest["summary"]["f1"]["mean"] == 0.5
    assert latest["report"] == "/v1/evals/20250102-000000-bbbbbb/report"
    assert [r["id"] for r in evals_client.get("/v1/evals", params={"limit": 1}).json()["data"]] == [latest["id"]]


@pytest.mark.parametrize("ref", ["20250101-000000-aaaaaa", "20250101", "latest~1"])
def test_gets_one_run_by_id_prefix_or_latest(evals_client: Any, ref: str) -> None:
    r = evals_client.get(f"/v1/evals/{ref}")
    assert r.status_code == 200 and r.json()["id"] == "20250101-000000-aaaaaa"
    assert r.json()["prompts"] == {"rag": "answer@1"}
    assert evals_client.get("/v1/evals/latest").json()["id"] == "20250102-000000-bbbbbb"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/evals?limit=0", 400),
        ("/v1/evals?limit=1001", 400),
        ("/v1/evals?limit=many", 422),
        ("/v1/evals/latest~x", 400),
        ("/v1/evals/latest~99999999999999999999", 400),  # would overflow SQLite's OFFSET
        ("/v1/evals/2024", 404),
        ("/v1/evals/abc", 400),  # a prefix needs 4 characters
        ("/v1/evals/2025", 400),  # matches both runs
        ("/v1/evals/-x", 422),
        ("/v1/evals/a%20b", 422),
        ("/v1/evals/zzzz/report", 404),
    ],
)
def test_bad_input_gets_a_clear_error(evals_client: Any, path: str, status: int) -> None:
    r = evals_client.get(path)
    assert r.status_code == status, r.text
    assert r.json()["error"]["message"]


def test_report_is_escaped_html_sent_as_a_sandboxed_download(evals_client: Any) -> None:
    r = evals_client.get("/v1/evals/latest~1/report")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["content-disposition"] == 'attachment; filename="eval-20250101-000000-aaaaaa.html"'
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "sandbox" in csp and "script-src" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "20250101-000000-aaaaaa" in r.text
    assert "<b>three</b>" not in r.text and "&lt;b&gt;three&lt;/b&gt;" in r.text
    assert "faq &lt;v2&gt;" in evals_client.get("/v1/evals/latest/report").text


def test_without_runs_a_read_answers_and_creates_nothing(make_client: Callable[..., Any], tmp_path: Path) -> None:
    client = make_client()
    assert client.get("/v1/evals").json() == {"object": "list", "data": []}
    r = client.get("/v1/evals/latest")
    assert r.status_code == 404 and "no eval runs yet" in r.json()["error"]["message"]
    assert client.get("/v1/evals/latest/report").status_code == 404
    assert not (tmp_path / ".llmkit" / "evals.db").exists()


def test_evals_need_the_admin_scope(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from llmkit.config import load_settings
    from llmkit.server import create_app
    from llmkit.server.keys import KeyStore
    from llmkit.testing import FakeChatModel, HashEmbedder

    settings = load_settings(tmp_path, server={"log_json": False})
    save_runs(settings.data_dir)
    keys = KeyStore(settings.data_dir / "keys.db")
    admin, _ = keys.create("ops", ("admin",))
    other, _ = keys.create("bot", ("chat", "query", "ingest"))
    app = create_app(settings, chat_model=FakeChatModel(), embedder=HashEmbedder())
    with TestClient(app, raise_server_exceptions=False) as client:
        for path in ("/v1/evals", "/v1/evals/latest", "/v1/evals/latest/report"):
            assert client.get(path).status_code == 401, path
            r = client.get(path, headers={"Authorization": f"Bearer {other}"})
            assert r.status_code == 403 and r.json()["error"]["code"] == "insufficient_scope", path
            assert client.get(path, headers={"Authorization": f"Bearer {admin}"}).status_code == 200, path
