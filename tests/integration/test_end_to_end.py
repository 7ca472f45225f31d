"""The main job on the embedded defaults: ingest the sample documents, search, answer with citations."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmkit.errors import NotFound
from llmkit.rag import NOT_FOUND

pytestmark = pytest.mark.integration

QUESTION = "How long is the warranty on the Acme Widget 3000?"


def test_ingest_search_ask(kit, project: Path) -> None:
    report = kit.ingest(project / "docs")
    assert report.added >= 4 and not report.failed and report.chunks > 0

    hits = kit.search("warranty period", explain=True)
    assert hits and "warrant" in hits[0].chunk.text.lower()
    assert all(h.explain is not None for h in hits)

    stream = kit.ask_stream(QUESTION)
    pieces = list(stream)
    answer = stream.answer
    assert answer.found and answer.text and "".join(pieces).strip() == answer.text
    assert answer.citations and answer.citations[0].source.startswith("docs")
    assert answer.usage.prompt_tokens and answer.usage.completion_tokens
    trace = kit.trace(answer.trace_id)
    assert trace.attributes["chunks"] == [c.chunk_id for c in answer.citations]
    assert QUESTION in trace.messages[-1].content and trace.output.strip() == answer.text


def test_reingest_skips_unchanged_and_replaces_changed(kit, project: Path) -> None:
    kit.ingest(project / "docs")
    md = next((project / "docs").glob("*.md"))
    md.write_text(md.read_text(encoding="utf-8") + "\n\nZebra-striped gizmos are sold separately.\n", encoding="utf-8")
    again = kit.ingest(project / "docs")
    assert again.updated == 1 and again.added == 0 and again.skipped >= 3
    assert any("Zebra" in h.chunk.text for h in kit.search("zebra striped gizmos", mode="lexical"))


def test_unrelated_question_is_not_answered_from_thin_air(kit, project: Path) -> None:
    kit.ingest(project / "docs")
    answer = kit.ask("What is the boiling point of liquid nitrogen in Kelvin?")
    assert not answer.found and answer.text == NOT_FOUND


def test_asking_an_empty_project_says_what_to_do(kit) -> None:
    with pytest.raises(NotFound, match="no collection"):
        kit.ask(QUESTION)


def test_chat_keeps_turns_and_retrieves_each_time(kit, project: Path) -> None:
    kit.ingest(project / "docs")
    chat = kit.chat()
    first = chat.ask(QUESTION)
    second = chat.ask("What does the warranty cover?")
    assert first.found and second.found and len(chat.history) == 4
    sent = kit.trace(second.trace_id).messages
    assert any(m.role == "assistant" and m.content == first.text for m in sent)  # the earlier turn was sent
    assert sent[-1].content.endswith("Question: What does the warranty cover?\nAnswer:")


def test_stdin_is_ingested(kit, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    fake = io.TextIOWrapper(io.BytesIO(b"The Acme Gizmo ships with a purple charging cable."))
    monkeypatch.setattr(sys, "stdin", fake)
    report = kit.ingest("-")
    assert report.added == 1
    assert kit.search("purple charging cable", k=1, mode="lexical")[0].chunk.source.startswith("stdin-")


def test_a_collection_from_another_embedder_is_refused_on_the_first_search(project: Path) -> None:
    import llmkit
    from llmkit.errors import ConfigError
    from llmkit.testing import HashEmbedder

    with llmkit.open(project) as kit:
        kit.store.create_collection("other", embedder=HashEmbedder().name, dim=HashEmbedder().dim)
    with llmkit.open(project) as fresh, pytest.raises(ConfigError, match="was embedded with"):
        fresh.search("anything", collection="other", mode="lexical")
