"""Person names and places through the `ner` extra (Presidio + spaCy's small English model, offline)."""

from __future__ import annotations

import pytest

from llmkit.guards.base import GuardContext
from llmkit.guards.name_tagger import Tagged
from llmkit.guards.pii import PiiGuard

pytest.importorskip("presidio_analyzer", reason="the ner extra is not installed: pip install 'llmkit[ner]'")
pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_names_and_places_are_found_and_redacted() -> None:
    from llmkit.guards.ner import NerRecogniser

    guard = PiiGuard(["PERSON", "LOCATION", "EMAIL_ADDRESS"], ner=NerRecogniser())
    v = guard.check("Faina Yefremova moved to Berlin; write to faina@example.com.", GuardContext())
    assert [f.label for f in v.findings] == ["PERSON", "LOCATION", "EMAIL_ADDRESS"]
    assert v.text == "<PERSON_1> moved to <LOCATION_1>; write to <EMAIL_ADDRESS_1>."


def test_with_a_tagger_its_names_are_the_person_answer_and_without_one_the_refined_spacy_names() -> None:
    from llmkit.guards.ner import NerRecogniser

    text = "Dear Mrs. Labrie, Faina Yefremova moved to Berlin."
    tagged = NerRecogniser(tagger=lambda doc: Tagged([(18, 33)], []))  # one name; spaCy's others are dropped
    assert [(e.type, e.text) for e in tagged(text) if e.type == "PERSON"] == [("PERSON", "Faina Yefremova")]
    assert any(e.type == "LOCATION" and e.text == "Berlin" for e in tagged(text))  # places still come from spaCy
    untagged = [e.text for e in NerRecogniser(tagger=False)(text) if e.type == "PERSON"]
    assert "Labrie" in untagged  # the refinement rules' title cue
    assert NerRecogniser(tagger=lambda doc: Tagged([], []))(text) == [e for e in tagged(text) if e.type != "PERSON"]


def test_a_place_the_tagger_calls_a_name_is_a_name_only() -> None:
    from llmkit.guards.ner import NerRecogniser

    text = "Faina Yefremova moved to Berlin."
    nothing = NerRecogniser(tagger=lambda doc: Tagged([], []))
    assert ("LOCATION", "Berlin") in [(e.type, e.text) for e in nothing(text)]
    found = [(e.type, e.text) for e in NerRecogniser(tagger=lambda doc: Tagged([(0, 15), (25, 31)], []))(text)]
    assert found == [("PERSON", "Faina Yefremova"), ("PERSON", "Berlin")]  # one answer per span, the tagger's


def test_the_taggers_places_join_spacys_and_win_an_overlap() -> None:
    from llmkit.guards.ner import NerRecogniser

    text = "Faina Yefremova moved from Berlin to ÖSTERSKÄR in May."
    spacy_only = [(e.type, e.text) for e in NerRecogniser(tagger=lambda doc: Tagged([(0, 15)], []))(text)]
    assert ("LOCATION", "Berlin") in spacy_only and ("LOCATION", "ÖSTERSKÄR") not in spacy_only
    # the tagger finds the place spaCy missed, and calls a longer span a place where spaCy found Berlin
    tagged = NerRecogniser(tagger=lambda doc: Tagged([(0, 15)], [(27, 36), (37, 46)]))
    found = [(e.type, e.text) for e in tagged(text) if e.type == "LOCATION"]
    assert found == [("LOCATION", "Berlin to"), ("LOCATION", "ÖSTERSKÄR")]
    only_places = NerRecogniser(types=("LOCATION",), tagger=lambda doc: Tagged([(0, 15)], [(37, 46)]))
    assert [(e.type, e.text) for e in only_places(text)] == [("LOCATION", "Berlin"), ("LOCATION", "ÖSTERSKÄR")]


def test_the_shipped_tagger_adds_a_place_spacy_misses() -> None:
    from llmkit.guards.ner import NerRecogniser

    text = "Halvard grew up in TROMSØ and moved to Kraków after university."
    assert ("LOCATION", "TROMSØ") not in [(e.type, e.text) for e in NerRecogniser(tagger=False)(text)]
    assert ("LOCATION", "TROMSØ") in [(e.type, e.text) for e in NerRecogniser()(text)]


def test_a_lone_surrogate_does_not_break_ner_and_offsets_stay_the_texts() -> None:
    from llmkit.guards.ner import NerRecogniser

    text = "Faina Yefremova \ud800 moved to Berlin."  # spaCy cannot encode a lone surrogate
    found = [(e.type, e.text, text[e.start : e.end]) for e in NerRecogniser()(text)]
    assert ("PERSON", "Faina Yefremova", "Faina Yefremova") in found
    assert ("LOCATION", "Berlin", "Berlin") in found


def test_a_text_seen_before_is_not_recognised_again() -> None:
    from llmkit.guards.ner import NerRecogniser

    calls: list[str] = []

    def tagger(doc: object) -> Tagged:
        calls.append(doc.text)  # type: ignore[attr-defined]
        return Tagged([(0, 15)], [])

    ner = NerRecogniser(tagger=tagger)
    history = ["Faina Yefremova moved to Berlin.", "Faina Yefremova wrote back."]
    first = [ner(text) for text in history]
    again = [ner(text) for text in history]  # a chat screens its whole history on every turn
    assert again == first and calls == history
    again[0].clear()  # callers get their own list
    assert ner(history[0]) == first[0]
