"""llmkit's own routes over real HTTP (httpx): collections, uploads, query with explain, traces, metrics."""

from __future__ import annotations

import httpx
import pytest
from live_server import Live

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_upload_list_query_delete(live: Live) -> None:
    h, url = live.headers(), live.url
    assert httpx.post(f"{url}/v1/collections", headers=h, json={"name": "notes"}).status_code == 201
    files = [("files", ("hours.md", b"# Hours\n\nThe shop opens at nine and closes at five.\n", "text/markdown"))]
    report = httpx.post(f"{url}/v1/collections/notes/documents", headers=h, files=files, timeout=60).json()
    assert report["added"] == 1 and not report["failed"]
    docs = httpx.get(f"{url}/v1/collections/notes/documents", headers=h).json()["data"]
    assert [d["source"] for d in docs] == ["hours.md"]
    ask = {"query": "When does the shop open?", "collection": "notes", "explain": True}
    body = httpx.post(f"{url}/v1/query", headers=h, timeout=120, json=ask).json()
    assert body["found"] and body["citations"][0]["source"] == "hours.md"
    assert body["hits"][0]["explain"]["dense_rank"] == 1 and body["trace_id"]
    trace = httpx.get(f"{url}/v1/traces", headers=h, params={"limit": 1}).json()["data"][0]
    assert trace["kind"] == "rag" and trace["attributes"]["request_id"] and trace["attributes"]["collection"] == "notes"
    assert httpx.delete(f"{url}/v1/collections/notes", headers=h).json()["deleted"] is True


def test_upload_refuses_bad_files(live: Live) -> None:
    h, url = live.headers(), live.url
    bad = httpx.post(f"{url}/v1/collections/samples/documents", headers=h, files=[("files", ("x.exe", b"MZ"))])
    assert bad.status_code == 415
    broken = httpx.post(f"{url}/v1/collections/samples/documents", headers=h,
                        files=[("files", ("broken.pdf", b"%PDF-1.4 not really"))]).json()  # fmt: skip
    assert broken["failed"] and broken["failed"][0][0] == "broken.pdf"


def test_metrics_and_probes(live: Live) -> None:
    assert httpx.get(f"{live.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{live.url}/readyz").json()["context_window"] >= 2048
    text = httpx.get(f"{live.url}/metrics").text
    for name in ("llmkit_requests_total", "llmkit_request_seconds_bucket", "llmkit_queue_depth"):
        assert name in text
