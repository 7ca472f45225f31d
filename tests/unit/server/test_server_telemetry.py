"""OpenTelemetry spans request -> retrieve -> generate, and JSON log lines carrying the request id."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from server_fakes import upload

from llmkit.server.telemetry import REQUEST_ID, JsonFormatter


def test_spans_nest_request_retrieve_generate(make_client: Callable[..., Any]) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # once per process; nothing else in the suite sets one
    client = make_client()
    upload(client)
    exporter.clear()
    r = client.post("/v1/query", json={"query": "How long is the warranty?", "collection": "docs"})
    assert r.status_code == 200
    finished = exporter.get_finished_spans()
    by_id = {s.context.span_id: s for s in finished}
    request = next(s for s in finished if "llmkit.request_id" in (s.attributes or {}))

    def ancestors(span: Any) -> list[int]:
        ids = []
        while span.parent is not None:
            span = by_id[span.parent.span_id]
            ids.append(span.context.span_id)
        return ids

    for name in ("retrieve", "generate"):
        span = next(s for s in finished if s.name == name)
        assert request.context.span_id in ancestors(span) and span.context.trace_id == request.context.trace_id
    assert request.attributes["llmkit.request_id"] == r.headers["x-request-id"]


def test_json_log_lines_carry_the_request_id() -> None:
    record = logging.LogRecord("llmkit.server", logging.INFO, __file__, 1, "request", None, None)
    record.status = 200
    token = REQUEST_ID.set("req-7")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        REQUEST_ID.reset(token)
    assert line["request_id"] == "req-7" and line["status"] == 200 and line["msg"] == "request"


def test_otlp_export_needs_its_extra_and_is_off_by_default() -> None:
    import importlib.util

    import pytest

    from llmkit.errors import MissingExtra
    from llmkit.server.telemetry import setup_otlp

    setup_otlp(None)  # not configured: nothing happens, nothing is imported
    if importlib.util.find_spec("opentelemetry.exporter") is None:
        with pytest.raises(MissingExtra, match="otlp"):
            setup_otlp("http://127.0.0.1:4318/v1/traces")
