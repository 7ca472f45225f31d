"""Output guards over a stream: sentence by sentence, placeholders restored, a block ends the stream."""

from __future__ import annotations

from pathlib import Path

from llmkit.config import load_settings
from llmkit.guards.pipeline import GuardPipeline
from llmkit.guards.stream import StreamScreen, screen_chunks
from llmkit.testing import HashEmbedder
from llmkit.types import ChatChunk, Usage


def pipeline(tmp_path: Path, **guards: object) -> GuardPipeline:
    return GuardPipeline.from_settings(load_settings(tmp_path, guards=guards), embedder=HashEmbedder)


def chunks(*pieces: str) -> list[ChatChunk]:
    return [*(ChatChunk(p) for p in pieces), ChatChunk("", "stop", Usage(5, len(pieces)))]


def test_text_is_released_a_checked_sentence_at_a_time(tmp_path: Path) -> None:
    screen = StreamScreen(pipeline(tmp_path, output=["pii"]))
    assert screen.feed("Write to ann@") == ""  # no sentence is complete yet
    assert screen.feed("example.com today. Then ") == "Write to <EMAIL_ADDRESS_1> today."
    assert screen.feed("call me.") == ""
    assert screen.finish() == " Then call me."
    assert screen.shown == "Write to <EMAIL_ADDRESS_1> today. Then call me." and screen.verdict is not None


def test_only_the_final_check_is_counted(tmp_path: Path) -> None:
    guards = pipeline(tmp_path, output=["pii"])
    out = list(screen_chunks(iter(chunks("One. ", "Two. ", "Three.")), guards))
    assert "".join(c.text for c in out) == "One. Two. Three." and out[-1].finish_reason == "stop"
    assert guards.stats() == {"output/pii/allow": 1}


def test_a_block_ends_the_stream_and_closes_the_model(tmp_path: Path) -> None:
    guards = pipeline(tmp_path, output=["denylist"], deny_keywords=["SPRING24"])
    closed = []

    def model() -> object:
        try:
            yield from chunks("Hello there. ", "The code is SPRING24. ", "More text. ", "Even more.")
        finally:
            closed.append(True)

    out = list(screen_chunks(model(), guards))  # type: ignore[arg-type]
    assert "".join(c.text for c in out) == "Hello there."
    assert out[-1].finish_reason == "content_filter" and closed == [True]
    assert guards.stats() == {"output/denylist/block": 1}


def test_placeholders_alone_are_restored_without_waiting_for_sentences(tmp_path: Path) -> None:
    stream = iter(chunks("Hi <EMAIL", "_ADDRESS_1", ">, bye"))
    out = list(screen_chunks(stream, GuardPipeline(), {"<EMAIL_ADDRESS_1>": "a@b.co"}))
    assert [c.text for c in out] == ["Hi ", "a@b.co, bye", ""]  # the half placeholder was held back


def test_nothing_to_do_passes_the_stream_through(tmp_path: Path) -> None:
    original = chunks("a", "b")
    assert list(screen_chunks(iter(original), GuardPipeline())) == original


def test_guards_run_once_a_sentence_not_once_a_token(tmp_path: Path) -> None:
    guards = pipeline(tmp_path, output=["pii"])
    seen: list[str] = []
    check = guards.check_output

    def counting(text: str, **kw: object) -> object:
        seen.append(text)
        return check(text, **kw)  # type: ignore[arg-type]

    guards.check_output = counting  # type: ignore[method-assign]
    screen = StreamScreen(guards)
    words = "Mail ann@example.com now. Then call. Bye!".split(" ")
    released = "".join(screen.feed(w + " ") for w in words) + screen.finish()
    assert released == "Mail <EMAIL_ADDRESS_1> now. Then call. Bye! "
    first = "Mail ann@example.com now."
    assert seen == [first, f"{first} Then call.", f"{first} Then call. Bye!", f"{first} Then call. Bye! "]


def test_a_boundary_split_across_pieces_is_found(tmp_path: Path) -> None:
    screen = StreamScreen(pipeline(tmp_path, output=["pii"]))
    assert screen.feed("First one.") == ""  # a full stop is a boundary only once a space follows
    assert screen.feed(" Second") == "First one."
    assert screen.feed(" and") == "" and screen.feed("\nthird") == " Second and\n"
