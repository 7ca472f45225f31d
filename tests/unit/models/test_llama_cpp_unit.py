"""LlamaCppModel's logic that needs no model: budgets, stop strings, load errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from test_gguf import write_gguf

from llmkit.errors import BackendUnavailable, ContextLengthExceeded, MissingExtra, NotFound
from llmkit.models.llama_cpp import LlamaCppModel, completion_budget, stop_boundary
from llmkit.types import Message

HI = [Message.user("hi")]


def test_budget() -> None:
    assert completion_budget(10, 5, 100) == 5
    assert completion_budget(10, 90, 100) == 90
    assert completion_budget(10, None, 100) == 90
    with pytest.raises(ContextLengthExceeded) as info:
        completion_budget(10, 91, 100)
    assert (info.value.needed, info.value.available) == (101, 100)
    with pytest.raises(ContextLengthExceeded):
        completion_budget(100, None, 100)


@pytest.mark.parametrize(
    ("text", "stops", "final", "expected"),
    [
        ("abc", [], False, (3, False)),
        ("abc", [""], False, (3, False)),  # an empty stop string is ignored
        ("abcSTOP", ["STOP"], False, (3, True)),
        ("abcST", ["STOP"], False, (3, False)),
        ("abcST", ["STOP"], True, (5, False)),
        ("a\n\nb", ["\n\n", "b"], False, (1, True)),  # the earliest stop wins
        ("xSTOPySTOP", ["STOP"], False, (1, True)),
        ("aaa", ["aab"], False, (1, False)),  # hold back the longest possible start
        ("é🚀", ["🚀!"], False, (1, False)),
    ],
)
def test_stop_boundary(text: str, stops: list[str], final: bool, expected: tuple[int, bool]) -> None:
    assert stop_boundary(text, stops, final=final) == expected


def test_construction_is_cheap_and_lazy(tmp_path: Path) -> None:
    m = LlamaCppModel(tmp_path / "missing.gguf", context_window=512, name="x")
    assert (m.name, m.context_window) == ("x", 512)
    assert m._executor is None


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    m = LlamaCppModel(tmp_path / "missing.gguf")
    with pytest.raises(NotFound):
        m.chat(HI)
    with pytest.raises(NotFound):
        list(m.stream(HI))
    m.close()


def test_not_a_gguf_is_backend_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "fake.gguf"
    path.write_text("<html>404 page saved as a model</html>")
    m = LlamaCppModel(path)
    with pytest.raises(BackendUnavailable, match="not a valid GGUF"):
        m.chat(HI)
    m.close()


def test_context_window_from_gguf_capped(tmp_path: Path) -> None:
    assert LlamaCppModel(write_gguf(tmp_path / "a.gguf", context=4096)).context_window == 4096
    assert LlamaCppModel(write_gguf(tmp_path / "b.gguf", context=131072)).context_window == 8192


def test_missing_llama_cpp_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # import llama_cpp -> ImportError
    m = LlamaCppModel(write_gguf(tmp_path / "m.gguf"))
    with pytest.raises(MissingExtra) as info:
        m.chat(HI)
    assert "llmkit[local]" in str(info.value)
    m.close()
