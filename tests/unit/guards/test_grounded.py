from __future__ import annotations

from llmkit.guards.base import GuardContext
from llmkit.guards.grounded import GroundednessGuard, sentences
from llmkit.testing import HashEmbedder

PASSAGES = ("The Acme Widget 3000 has a warranty of three years from the date of purchase.",)


def test_supported_sentences_pass() -> None:
    guard = GroundednessGuard(HashEmbedder)
    v = guard.check("The warranty lasts three years from purchase [1].", GuardContext("answer", PASSAGES))
    assert v.action == "allow"


def test_unsupported_sentences_are_flagged_with_spans() -> None:
    answer = "The warranty lasts three years from purchase. Shipping to Mars is free on Tuesdays."
    v = GroundednessGuard(HashEmbedder).check(answer, GuardContext("answer", PASSAGES))
    assert v.action == "flag" and len(v.findings) == 1
    f = v.findings[0]
    assert answer[f.start : f.end] == "Shipping to Mars is free on Tuesdays."
    assert GroundednessGuard(HashEmbedder, action="block").check(answer, GuardContext("answer", PASSAGES)).blocked


def test_no_passages_no_verdict_and_no_embedder_means_lexical_only() -> None:
    assert GroundednessGuard().check("Anything at all goes here.", GuardContext("answer")).action == "allow"
    v = GroundednessGuard().check("Completely different words everywhere here.", GuardContext("answer", PASSAGES))
    assert v.action == "flag"


def test_fragments_join_their_neighbours() -> None:
    assert [s for *_, s in sentences("Yes. It is three years [1]. Ok!")] == ["Yes. It is three years [1]. Ok!"]
    assert [s for *_, s in sentences("Who won in 2015? Pittsburgh Steelers.")] == [
        "Who won in 2015? Pittsburgh Steelers."
    ]
    assert sentences("Yes. Ok!") == []
