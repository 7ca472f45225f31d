"""The groundedness judge on the embedded chat model: grammar-constrained JSON, so it always answers."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PASSAGES = ["The Acme Widget 3000 has a warranty of three years from the date of purchase."]


def test_the_embedded_model_always_gives_the_judge_a_yes_or_no(kit) -> None:
    from llmkit.guards.base import GuardContext
    from llmkit.guards.grounded import GroundednessGuard, LlmJudge

    judge = LlmJudge(lambda: kit.model)
    claims = ["The warranty lasts 36 months from purchase.", "Shipping to Mars is free on Tuesdays."]
    assert all(judge(claim, PASSAGES) in (True, False) for claim in claims)  # never None: the grammar holds
    v = GroundednessGuard(judge=judge).check(" ".join(claims), GuardContext("answer", tuple(PASSAGES)))
    assert v.action in ("allow", "flag") and all(f.reason.startswith("the judge") for f in v.findings)
