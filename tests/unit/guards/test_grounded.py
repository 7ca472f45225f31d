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


def test_a_judge_decides_the_sentences_the_word_checks_do_not_settle() -> None:
    from llmkit.errors import BackendUnavailable
    from llmkit.guards.grounded import SUPPORT_SCHEMA, LlmJudge
    from llmkit.testing import FakeChatModel

    mars = "Shipping to Mars is free on Tuesdays."
    answer = f"The warranty lasts three years from purchase. It was 36 months, as Acme said. {mars}"
    asked: list[str] = []

    def judge(claim: str, passages: object) -> bool | None:
        asked.append(claim)
        return {"It was 36 months, as Acme said.": True, mars: False}.get(claim)

    v = GroundednessGuard(HashEmbedder, judge=judge).check(answer, GuardContext("answer", PASSAGES))
    assert asked == ["It was 36 months, as Acme said.", mars]  # the first sentence's words are all there: no call
    assert [(answer[f.start : f.end], f.reason) for f in v.findings] == [
        (mars, "the judge found no support in the passages")
    ]  # "36" is in no passage, but the judge says the sentence is supported
    # a judge with no answer leaves the sentence to the rules: "36" is a novel number
    v = GroundednessGuard(HashEmbedder, judge=lambda c, p: None).check(answer, GuardContext("answer", PASSAGES))
    assert "36" in v.findings[0].reason

    model = FakeChatModel(['{"supported": false}'])
    assert LlmJudge(lambda: model)(mars, PASSAGES) is False
    messages, params = model.calls[0]
    assert params.json_schema == SUPPORT_SCHEMA and params.temperature == 0.0
    assert "[1] The Acme Widget 3000" in messages[-1].content and f"Sentence: {mars}" in messages[-1].content
    assert LlmJudge(lambda: FakeChatModel(["I cannot tell."]))("x", PASSAGES) is None

    def down() -> FakeChatModel:
        raise BackendUnavailable("the model server is down")

    assert LlmJudge(down)("x", PASSAGES) is None  # the rules decide instead


def test_a_value_the_pii_guard_redacted_is_not_a_new_fact() -> None:
    from llmkit.guards.pii import PiiGuard
    from llmkit.guards.pipeline import GuardPipeline

    passage = "Contact support at help@acme.example for warranty claims."
    pipeline = GuardPipeline(output=[PiiGuard(), GroundednessGuard(HashEmbedder)])
    v = pipeline.check_output(passage, passages=[passage])
    assert v.action == "redact" and v.text == "Contact support at <EMAIL_ADDRESS_1> for warranty claims."
    for tag in ("<PERSON>", "<PERSON:1f0c2a9b3e>"):
        v = GroundednessGuard().check(f"Claims go to {tag} at Acme.", GuardContext("answer", ("Claims go to Acme.",)))
        assert v.action == "allow"
