"""What a guard returns: a ``Verdict`` (allow, flag, redact or block) with ``Finding``s that say why and where.

A guard is any object with a ``name`` and ``check(text, ctx) -> Verdict``; ``GuardContext`` carries what
some guards need besides the text (the passages an answer should rest on, the system prompt, the kind of
input). The pipeline runs guards in order and ``combine``s their verdicts: the strictest action wins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

Action = Literal["allow", "flag", "redact", "block"]
#: Where a text comes from: the user, a retrieved passage, a tool's output, or the model's answer.
Kind = Literal["user", "passage", "tool", "answer"]
_RANK: dict[str, int] = {"allow": 0, "flag": 1, "redact": 2, "block": 3}


def stricter(a: Action, b: Action) -> Action:
    """The stricter of two actions.

    >>> stricter("flag", "redact"), stricter("block", "allow")
    ('redact', 'block')
    """
    return a if _RANK[a] >= _RANK[b] else b


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a guard found: which guard, what (``label``), why, where (character span) and how sure."""

    guard: str
    label: str
    reason: str
    start: int | None = None
    end: int | None = None
    score: float | None = None
    action: Action = "flag"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of checking one text. ``text`` is what may be passed on (redacted where asked).

    ``placeholders`` maps each reversible placeholder written into ``text`` to the original value, so
    ``restore`` can put the values back into the model's answer. ``timings_ms`` holds each guard's time.
    """

    action: Action
    text: str
    findings: tuple[Finding, ...] = ()
    placeholders: Mapping[str, str] = field(default_factory=dict)
    timings_ms: Mapping[str, float] = field(default_factory=dict)

    @property
    def blocked(self) -> bool:
        return self.action == "block"

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(f"{f.guard}: {f.reason}" for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (what traces and ``--json`` output hold; the original values never appear)."""
        findings = [
            {"guard": f.guard, "label": f.label, "reason": f.reason, "start": f.start, "end": f.end,
             "score": None if f.score is None else round(f.score, 4), "action": f.action}
            for f in self.findings
        ]  # fmt: skip
        return {
            "action": self.action,
            "findings": findings,
            "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()},
        }


ALLOW = Verdict("allow", "")


@dataclass(frozen=True, slots=True)
class GuardContext:
    """What a check may need besides the text."""

    kind: Kind = "user"
    passages: Sequence[str] = ()
    system_prompt: str | None = None
    #: Placeholders made when the input was redacted: an output check must not count them as new PII.
    placeholders: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class Guard(Protocol):
    name: str

    def check(self, text: str, ctx: GuardContext) -> Verdict:
        """Check ``text``; the returned verdict's ``text`` is ``text`` itself unless the guard redacts."""
        ...


def combine(text: str, verdicts: Sequence[tuple[str, Verdict, float]]) -> Verdict:
    """One verdict from several guards' ``(name, verdict, ms)``: strictest action, every finding.

    The guards ran in order on each other's output, so the last verdict's text is the text to pass on.

    >>> flagged = Verdict("flag", "a", (Finding("x", "l", "r"),))
    >>> v = combine("a", [("x", flagged, 1.0), ("y", Verdict("allow", "a"), 2.0)])
    >>> v.action, len(v.findings), dict(v.timings_ms)
    ('flag', 1, {'x': 1.0, 'y': 2.0})
    """
    action: Action = "allow"
    findings: list[Finding] = []
    placeholders: dict[str, str] = {}
    for _, verdict, _ in verdicts:
        action = stricter(action, verdict.action)
        findings.extend(verdict.findings)
        placeholders.update(verdict.placeholders)
        text = verdict.text
    timings = {name: ms for name, _, ms in verdicts}
    return Verdict(action, text, tuple(findings), placeholders, timings)
