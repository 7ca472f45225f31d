"""bench/serve.py's helpers: percentiles, and the stand-in's SSE events as the OpenAI client reads them."""

from __future__ import annotations

import doctest
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

from llmkit.types import ChatChunk, Usage

BENCH = Path(__file__).resolve().parents[3] / "bench"


def load(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def test_percentiles() -> None:
    serve = load("serve")
    assert doctest.testmod(serve).failed == 0
    values = [float(i) for i in range(1, 101)]
    assert (serve.pct(values, 50), serve.pct(values, 95), serve.pct(values, 99)) == (50.0, 95.0, 99.0)


def test_stand_in_sse_events() -> None:
    apps = load("serve_apps")
    chunks = [ChatChunk("Hel"), ChatChunk("lo"), ChatChunk("", finish_reason="stop", usage=Usage(3, 2))]
    events = list(apps.sse(iter(chunks), "m"))
    assert events[-1] == "data: [DONE]\n\n"
    parsed = [json.loads(e.removeprefix("data: ")) for e in events[:-1]]
    assert "".join(p["choices"][0]["delta"].get("content", "") for p in parsed) == "Hello"
    assert parsed[-1]["choices"][0]["finish_reason"] == "stop"
