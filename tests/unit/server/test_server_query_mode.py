"""``POST /v1/query`` honours ``mode`` when it answers, as it does when it only searches."""

from __future__ import annotations

from typing import Any

import pytest
from server_fakes import upload


@pytest.mark.parametrize("answer", [False, True])
def test_query_mode_is_used_for_the_answer_too(client: Any, answer: bool) -> None:
    assert client.post("/v1/collections", json={"name": "docs"}).status_code == 201
    upload(client)
    body = {"query": "How long is the warranty?", "collection": "docs", "mode": "lexical", "explain": True}
    hits = client.post("/v1/query", json={**body, "answer": answer}).json()["hits"]
    assert hits and all(h["explain"]["dense_rank"] is None for h in hits)  # before: hybrid when answering
    assert all(h["explain"]["lexical_rank"] is not None for h in hits)
