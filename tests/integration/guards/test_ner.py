"""Person names and places through the `ner` extra (Presidio + spaCy's small English model, offline)."""

from __future__ import annotations

import pytest

from llmkit.guards.base import GuardContext
from llmkit.guards.pii import PiiGuard

pytest.importorskip("presidio_analyzer", reason="the ner extra is not installed: pip install 'llmkit[ner]'")
pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_names_and_places_are_found_and_redacted() -> None:
    from llmkit.guards.ner import NerRecogniser

    guard = PiiGuard(["PERSON", "LOCATION", "EMAIL_ADDRESS"], ner=NerRecogniser())
    v = guard.check("Faina Yefremova moved to Berlin; write to faina@example.com.", GuardContext())
    assert [f.label for f in v.findings] == ["PERSON", "LOCATION", "EMAIL_ADDRESS"]
    assert v.text == "<PERSON_1> moved to <LOCATION_1>; write to <EMAIL_ADDRESS_1>."
