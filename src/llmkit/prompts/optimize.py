"""Prompt optimisation in the spirit of DSPy's bootstrap few-shot search, inside a budget of model calls.

1. Score the prompt as it is on the dev split (the baseline).
2. Bootstrap demonstrations: run it on train items; replies that score at least ``keep`` become
   few-shot examples (the rendered question and the model's own answer). Where too few pass, the
   train references fill in (labelled demos).
3. Candidates: instruction variants × random few-shot sets (seeded), each scored on the dev split,
   in a shuffled order, until the budget cannot pay for another full dev pass.
4. The best candidate that beats the baseline becomes a new prompt version (``parent`` records the
   one it came from); nothing is kept when no candidate wins. A metric must give a number for every
   item: NaN (an undefined score) is an ``InputError``, never a score that "beats" the baseline.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmkit.errors import InputError
from llmkit.models.base import ChatModel
from llmkit.observe.traces import trace_attributes
from llmkit.prompts.prompt import Prompt, parse_prompt
from llmkit.types import GenerationParams

Metric = Callable[[str, Sequence[str]], float]
Example = tuple[str, str]
#: Generic rewrites of an instruction that suit short-answer tasks; pass your own for other tasks.
INSTRUCTION_VARIANTS = (
    "Answer with the shortest exact phrase from the passage that answers the question. No full sentence.",
    "Read the passage, find the words that answer the question, and reply with only those words.",
)


@dataclass(frozen=True)
class Task:
    """One train or dev case: the prompt's input values and the reference answers."""

    values: dict[str, Any]
    references: tuple[str, ...]


@dataclass
class Trial:
    instruction: str
    examples: tuple[Example, ...]
    score: float


@dataclass
class OptimizeResult:
    baseline: float
    best: Trial
    prompt: Prompt | None  # the new version, or None when nothing beat the baseline
    trials: list[Trial] = field(default_factory=list)
    calls: int = 0


class _Budget:
    def __init__(self, model: ChatModel, limit: int) -> None:
        self.model, self.limit, self.used = model, limit, 0

    def answer(self, prompt: Prompt, task: Task, params: GenerationParams, examples: Sequence[Example] | None,
               instruction: str | None = None) -> str:  # fmt: skip
        messages = prompt.render(examples=examples, **task.values)
        if instruction is not None and messages[0].role == "system":
            messages[0] = type(messages[0]).system(instruction)
        self.used += 1
        with trace_attributes(kind="optimize", prompt=prompt.ref):
            return self.model.chat(messages, params).text.strip()


def _score(budget: _Budget, prompt: Prompt, tasks: Sequence[Task], metric: Metric, params: GenerationParams,
           examples: Sequence[Example] | None = None, instruction: str | None = None) -> float:  # fmt: skip
    return statistics.fmean(
        _checked(metric(budget.answer(prompt, t, params, examples, instruction), t.references), t) for t in tasks
    )


def _checked(score: float, task: Task) -> float:
    if not math.isfinite(score):
        raise InputError(f"the metric gave {score} for references {list(task.references)}; it must give a number")
    return score


def bootstrap_demos(
    budget: _Budget, prompt: Prompt, train: Sequence[Task], metric: Metric, params: GenerationParams, keep: float
) -> list[Example]:
    """Train cases the prompt already answers well, as (rendered question, model answer) pairs."""
    demos = []
    for task in train:
        if budget.used >= budget.limit:
            break
        answer = budget.answer(prompt, task, params, ())
        if _checked(metric(answer, task.references), task) >= keep:
            demos.append((prompt.render(examples=(), **task.values)[-1].content, answer))
    return demos


def optimize(
    prompt: Prompt,
    model: ChatModel,
    train: Sequence[Task],
    dev: Sequence[Task],
    metric: Metric,
    *,
    budget: int = 200,
    k: int = 2,
    sets: int = 4,
    keep: float = 0.8,
    instructions: Sequence[str] = INSTRUCTION_VARIANTS,
    seed: int = 0,
) -> OptimizeResult:
    """Search few-shot sets and instructions; see the module docstring."""
    if not train or not dev:
        raise InputError("optimisation needs a non-empty train split and dev split")
    if budget < 2 * len(dev):
        hint = f"raise --budget to at least {2 * len(dev) + len(train)} or use a smaller dev split"
        raise InputError(
            f"a budget of {budget} calls cannot score even one candidate on {len(dev)} dev items", hint=hint
        )
    params = prompt.generation_params()
    spend = _Budget(model, budget)
    baseline = _score(spend, prompt, dev, metric, params)
    spend.limit = budget - len(dev)  # keep one dev pass in reserve for a candidate
    demos = bootstrap_demos(spend, prompt, train[: max(0, spend.limit - spend.used)], metric, params, keep)
    spend.limit = budget
    rng = random.Random(seed)
    labelled = [(prompt.render(examples=(), **t.values)[-1].content, t.references[0]) for t in train if t.references]
    pool = demos if len(demos) >= k else demos + [d for d in labelled if d[0] not in {x[0] for x in demos}]
    shots = [tuple(rng.sample(pool, min(k, len(pool)))) for _ in range(sets)] if pool else []
    system = prompt.system.strip() if prompt.system.strip() else None
    variants = [None, *instructions] if system else [None]
    candidates = list(dict.fromkeys((i, s) for i in variants for s in [(), *shots] if i is not None or s))
    rng.shuffle(candidates)
    trials = [Trial(system or "", (), baseline)]
    for instruction, examples in candidates:
        if spend.limit - spend.used < len(dev):
            break
        score = _score(spend, prompt, dev, metric, params, examples, instruction)
        trials.append(Trial(instruction or system or "", tuple(examples), score))
    best = max(trials, key=lambda t: (t.score, -len(t.examples)))
    new = build_version(prompt, best) if best.score > baseline else None
    return OptimizeResult(baseline, best, new, trials, spend.used)


def build_version(prompt: Prompt, trial: Trial) -> Prompt:
    """A new prompt file: the trial's instruction as the system part and its examples in the front matter."""
    import yaml

    meta = {k: v for k, v in prompt.meta.items() if k not in ("examples", "parent")}
    meta.update(name=prompt.name, parent=prompt.ref, examples=[{"input": q, "output": a} for q, a in trial.examples])
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000).strip()
    system = f"## system\n{trial.instruction}\n" if trial.instruction else ""
    return parse_prompt(f"---\n{front}\n---\n{system}## user\n{prompt.user}\n", source=f"optimised {prompt.name}")
