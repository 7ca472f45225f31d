"""Budgets that bound an agent run: steps, tokens, wall time and cost.

The loop asks the ``Meter`` before each model call how many completion tokens it may spend; the
answer is capped so that neither the token nor the cost limit can be passed by the call, and the wall
time is checked while the reply streams. So every limit ends the run at (or just under) its value.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from llmkit.errors import InputError
from llmkit.pricing import Price
from llmkit.types import Usage

#: Why a run ended: "answer", "max_steps", "max_tokens", "max_seconds", "max_cost", "context_length" (the
#: conversation outgrew the model's context window), or "blocked" (a guard blocked the task or the answer).
StopReason = str


@dataclass(frozen=True, slots=True)
class Budget:
    """Limits for one run; ``None`` means no limit. ``max_tokens`` counts prompt and completion tokens;
    ``max_cost`` is in USD, priced with ``price`` (the model's entry in ``llmkit.pricing``)."""

    max_steps: int | None = 8
    max_tokens: int | None = None
    max_seconds: float | None = None
    max_cost: float | None = None
    price: Price = field(default_factory=Price)

    def __post_init__(self) -> None:
        for name in ("max_steps", "max_tokens", "max_seconds", "max_cost"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise InputError(f"budget {name} must be > 0, got {value}")
        if self.max_cost is not None and not (self.price.input or self.price.output):
            raise InputError(
                "a cost budget needs the model's price",
                hint='add it under [prices."MODEL"] in llmkit.toml, or Budget(max_cost=..., price=Price(0.15, 0.60))',
            )


class Meter:
    """Spending so far against a ``Budget``; the loop's single source of truth for when to stop."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.started = time.monotonic()
        self.steps = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.unknown_usage = False
        #: Prompt tokens the backend adds beyond the messages (tool definitions), learned from usage.
        self.overhead: int | None = None

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def cost(self) -> float:
        return self.budget.price.cost(self.prompt_tokens, self.completion_tokens)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def time_left(self) -> float | None:
        return None if self.budget.max_seconds is None else self.budget.max_seconds - self.elapsed

    def add(self, usage: Usage, fallback_prompt: int, fallback_completion: int) -> None:
        """Record a call's usage (our own counts when the backend reported none)."""
        if usage.prompt_tokens is None or usage.completion_tokens is None:
            self.unknown_usage = True
        self.prompt_tokens += usage.prompt_tokens if usage.prompt_tokens is not None else fallback_prompt
        self.completion_tokens += (
            usage.completion_tokens if usage.completion_tokens is not None else fallback_completion
        )

    def exhausted(self) -> StopReason | None:
        """The limit already reached, if any (checked before each step)."""
        b = self.budget
        if b.max_steps is not None and self.steps >= b.max_steps:
            return "max_steps"
        if b.max_seconds is not None and self.elapsed >= b.max_seconds:
            return "max_seconds"
        if b.max_tokens is not None and self.tokens >= b.max_tokens:
            return "max_tokens"
        if b.max_cost is not None and self.cost >= b.max_cost:
            return "max_cost"
        return None

    def completion_allowance(self, prompt_tokens: int, wanted: int) -> tuple[int, StopReason | None]:
        """Completion tokens the next call may use, and the limit that capped them (``None``: not capped).

        With an allowance under 1 the loop stops for that limit.

        >>> m = Meter(Budget(max_tokens=100))
        >>> m.completion_allowance(60, 16), m.completion_allowance(60, 512), m.completion_allowance(100, 512)
        ((16, None), (40, 'max_tokens'), (0, 'max_tokens'))
        """
        allowed, reason = wanted, None
        b = self.budget
        if b.max_tokens is not None:
            left = b.max_tokens - self.tokens - prompt_tokens
            if left < allowed:
                allowed, reason = left, "max_tokens"
        if b.max_cost is not None:
            p = b.price
            money = b.max_cost - self.cost - p.cost(prompt_tokens, 0)
            left = int(money * 1e6 / p.output) if p.output else (wanted if money >= 0 else -1)
            if left < allowed:
                allowed, reason = left, "max_cost"
        return max(allowed, 0), reason
