"""Structured output on a remote backend: validate → repair → re-ask through a real server and the real client.

llmkit's own server runs on loopback (uvicorn) and ``OpenAIChatModel`` talks to it with the official
``openai`` package. Behind the server a scripted model answers, so each test knows which replies are bad;
everything between (HTTP, ``response_format``, the re-ask conversation) is the real path.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from llmkit.types import Message

pytest.importorskip("fastapi", reason="the serve extra is not installed")
pytest.importorskip("openai", reason="the openai client is not installed")
pytestmark = pytest.mark.integration

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[tuple[object, object]]:
    """``(model, scripted)``: an ``OpenAIChatModel`` on a live server whose replies come from ``scripted``."""
    from llmkit.config import load_settings
    from llmkit.models.openai_compat import OpenAIChatModel
    from llmkit.server import create_app
    from llmkit.server.background import serve_in_thread
    from llmkit.testing import FakeChatModel, HashEmbedder

    scripted = FakeChatModel(["ok"])
    settings = load_settings(tmp_path, server={"auth": "none", "log_json": False})
    with serve_in_thread(create_app(settings, chat_model=scripted, embedder=HashEmbedder())) as url:
        model = OpenAIChatModel(settings.model.name, base_url=f"{url}/v1", api_key="none", max_retries=0)
        yield model, scripted


def _script(scripted: object, replies: Sequence[str]) -> None:
    scripted.replies = tuple(replies)  # type: ignore[attr-defined]
    scripted.calls.clear()  # type: ignore[attr-defined]


def test_bad_json_is_re_asked_with_the_errors(remote: tuple[object, object]) -> None:
    from llmkit.structured.core import StructuredGenerator

    model, scripted = remote
    _script(scripted, ['{"name": "Ana"}', '{"name": "Ana", "age": 41}'])
    reply = StructuredGenerator(model, retries=2, grammar=False).generate([Message.user("Ana is 41.")], SCHEMA)
    assert reply.value == {"name": "Ana", "age": 41} and reply.attempts == 2
    second = scripted.calls[1][0]  # type: ignore[attr-defined]
    assert "'age' is a required property" in second[-1].content and second[-2].content == '{"name": "Ana"}'
    assert scripted.calls[0][1].json_schema is None  # type: ignore[attr-defined]  # grammar=False: no response_format


def test_malformed_reply_is_repaired_without_a_re_ask(remote: tuple[object, object]) -> None:
    from llmkit.structured.core import StructuredGenerator

    model, scripted = remote
    _script(scripted, ["Sure! ```json\n{'name': 'Ben', 'age': 7,}\n```"])
    reply = StructuredGenerator(model, retries=2).generate([Message.user("Ben is 7.")], SCHEMA)
    assert reply.value == {"name": "Ben", "age": 7} and reply.attempts == 1 and reply.repaired
    assert scripted.calls[0][1].json_schema == SCHEMA  # type: ignore[attr-defined]  # sent as response_format


def test_no_valid_reply_raises_a_model_error(remote: tuple[object, object]) -> None:
    from llmkit.errors import ModelError
    from llmkit.structured.core import StructuredGenerator

    model, scripted = remote
    _script(scripted, ['{"name": "Ana", "age": -1}'])
    with pytest.raises(ModelError, match="in 2 attempts"):
        StructuredGenerator(model, retries=1, grammar=False).generate([Message.user("Ana?")], SCHEMA)
    assert len(scripted.calls) == 2  # type: ignore[attr-defined]
