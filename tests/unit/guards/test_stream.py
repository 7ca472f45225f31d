"""Output guards over a stream: sentence by sentence, placeholders restored, a block ends the stream."""

from __future__ import annotations

from pathlib import Path

import pytest

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
    assert screen.feed("example.com today. Then ") == ""  # the last sentence waits for the next
    assert screen.feed("call me. Or") == "Write to <EMAIL_ADDRESS_1> today."
    assert screen.finish() == " Then call me. Or"
    assert screen.shown == "Write to <EMAIL_ADDRESS_1> today. Then call me. Or" and screen.verdict is not None


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
            yield from chunks("Hello there. ", "How are you? ", "The code is SPRING24. ", "More text.")
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
    stream = iter(chunks("Hi < email", "_address_1 ", ">, bye"))  # echoed in lower case, spaced
    out = list(screen_chunks(stream, GuardPipeline(), {"<EMAIL_ADDRESS_1>": "a@b.co"}))
    assert "".join(c.text for c in out) == "Hi a@b.co, bye"


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
    assert screen.feed("Zero. First one.") == ""  # a full stop is a boundary only once a space follows
    assert screen.feed(" Second") == "Zero."
    assert screen.feed(" and") == "" and screen.feed("\nthird") == " First one."
    assert screen.feed(".\n") == " Second and\nthird."  # two boundaries: the line break waits


@pytest.mark.parametrize(
    ("answer", "redacted"),
    [
        ("Come to Pavlou Drandaki 12\nApt 5\nThe party starts at eight. Bring snacks and drinks.",
         "Come to <STREET_ADDRESS_1>\nThe party starts at eight. Bring snacks and drinks."),
        ("Write to PSC 1234,\nBox 5678\nAPO AE 09876. That is all. Goodbye.",  # only the third line tells
         "Write to <STREET_ADDRESS_1>. That is all. Goodbye."),
    ],
)  # fmt: skip
def test_an_address_over_lines_is_not_shown_before_it_is_whole(tmp_path: Path, answer: str, redacted: str) -> None:
    guards = pipeline(tmp_path, output=["pii"])
    assert guards.check_output(answer).text == redacted
    pieces = [answer[i : i + 3] for i in range(0, len(answer), 3)]
    out = list(screen_chunks(iter(chunks(*pieces)), guards))
    assert "".join(c.text for c in out) == redacted


def test_a_change_to_text_already_shown_loses_nothing_after_it(tmp_path: Path) -> None:
    guards = pipeline(tmp_path, output=["pii"])
    screen = StreamScreen(guards)
    screen.shown, screen._released = "Come to Pavlou Drandaki 12\n", 27  # as if shown before the next line came
    screen.text = "Come to Pavlou Drandaki 12\nApt 5\nThe party starts at eight."
    assert screen.finish() == "<STREET_ADDRESS_1>\nThe party starts at eight."  # the entity whole, then the rest
    screen = StreamScreen(guards)
    screen.shown, screen._released = "Mail Bo at bo@x.io now.", 23  # a name found only later, say
    screen.text = "Mail Bo at bo@x.io now. Then ann@example.com, and bye."
    assert screen.finish() == " Then <EMAIL_ADDRESS_2>, and bye."


def test_a_long_answer_is_checked_a_bounded_number_of_times(tmp_path: Path) -> None:
    guards = pipeline(tmp_path, output=["pii"])
    seen: list[int] = []
    check = guards.check_output

    def counting(text: str, **kw: object) -> object:
        seen.append(len(text))
        return check(text, **kw)  # type: ignore[arg-type]

    guards.check_output = counting  # type: ignore[method-assign]
    sentences = [f"Sentence number {i} is here. " for i in range(2000)]
    out = "".join(c.text for c in screen_chunks(iter(chunks(*sentences)), guards))
    assert out == "".join(sentences)
    assert len(seen) < 100 and sum(seen) < 12 * len(out)  # not one check of the whole prefix a sentence
