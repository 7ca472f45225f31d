from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The loopback OpenAI server lives beside the chat-model tests; load it from there.
_PATH = Path(__file__).parents[1] / "models" / "fake_openai_server.py"
_spec = importlib.util.spec_from_file_location("fake_openai_server", _PATH)
assert _spec and _spec.loader
fake_openai_server = sys.modules.get("fake_openai_server") or importlib.util.module_from_spec(_spec)
if "fake_openai_server" not in sys.modules:
    sys.modules["fake_openai_server"] = fake_openai_server
    _spec.loader.exec_module(fake_openai_server)


@pytest.fixture
def openai_server() -> Iterator[object]:
    with fake_openai_server.FakeOpenAIServer() as server:
        yield server
