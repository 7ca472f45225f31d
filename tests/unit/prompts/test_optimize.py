"""The optimiser: bootstrapped demos, budget, keeping the best as a new version."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from llmkit.errors import InputError
from llmkit.evals.metrics import exact_match
from llmkit.prompts import parse_prompt
from llmkit.prompts.optimize import Task, optimize
from llmkit.testing import FakeChatModel
from llmkit.types import Message

PROMPT = parse_prompt(
    "---\nname: cap\ninputs: [question]\nparams: {temperature: 0.0, max_tokens: 8}\n---\n"
    "## system\nAnswer.\n## user\n{{ question }}"
)
CAPITALS = {"france": "Paris", "italy": "Rome", "spain": "Madrid", "peru": "Lima", "chile": "Santiago",
            "japan": "Tokyo", "kenya": "Nairobi", "egypt": "Cairo"}  # fmt: skip


def student(messages: Sequence[Message]) -> str:
    """Answers right only when shown at least one example (a model that needs the format)."""
    country = messages[-1].content.split()[-1].lower()
    return CAPITALS[country] if len(messages) > 2 else f"The capital is {CAPITALS[country]}"


def tasks(names: list[str]) -> list[Task]:
    return [Task({"question": f"Capital of {n}"}, (CAPITALS[n],)) for n in names]


def test_few_shot_candidate_wins_and_becomes_a_version() -> None:
    model = FakeChatModel(student)
    train, dev = tasks(["france", "italy", "spain"]), tasks(["peru", "chile", "japan", "kenya"])
    result = optimize(PROMPT, model, train, dev, exact_match, budget=60, k=2, sets=2)
    assert result.baseline == 0.0 and result.best.score == 1.0
    assert result.calls <= 60 and len(model.calls) == result.calls
    new = result.prompt
    assert new is not None and new.version != PROMPT.version and new.meta["parent"] == PROMPT.ref
    assert len(new.examples) >= 1 and new.examples[0][1] in CAPITALS.values()  # labelled demos filled in
    assert len(new.render(question="Capital of egypt")) == 2 + 2 * len(new.examples)


def test_budget_is_respected_and_nothing_kept_without_a_win() -> None:
    model = FakeChatModel(lambda m: CAPITALS[m[-1].content.split()[-1].lower()])  # already perfect
    result = optimize(PROMPT, model, tasks(["france", "italy"]), tasks(["peru", "chile"]), exact_match, budget=9)
    assert result.prompt is None and result.calls <= 9


def test_too_small_a_budget_is_refused() -> None:
    with pytest.raises(InputError, match="budget"):
        optimize(PROMPT, FakeChatModel(), tasks(["france"]), tasks(["peru", "chile"]), exact_match, budget=3)
