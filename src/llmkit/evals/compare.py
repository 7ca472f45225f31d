"""Comparing two runs (paired bootstrap per metric) and the CI gate (``--fail-under``, ``--max-regression``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from llmkit.errors import InputError
from llmkit.evals.runner import per_item_scores
from llmkit.evals.stats import Comparison, paired_bootstrap
from llmkit.evals.store import Row, Run


class Comparisons(list[Comparison]):
    """One ``Comparison`` per metric, and ``skipped``: the metrics no item was scored for in both runs."""

    def __init__(self, comparisons: Iterable[Comparison] = (), skipped: Iterable[str] = ()) -> None:
        super().__init__(comparisons)
        self.skipped = tuple(skipped)


def compare_runs(
    a: Run, rows_a: Sequence[Row], b: Run, rows_b: Sequence[Row], *, resamples: int = 2000, seed: int = 0
) -> Comparisons:
    """B against A for each metric both runs have, on the items both scored (a metric with none is skipped)."""
    metrics = [m for m in a.summary if m in b.summary]
    if not metrics:
        raise InputError(f"runs {a.id} and {b.id} share no metric")
    sa, sb = per_item_scores(rows_a, metrics), per_item_scores(rows_b, metrics)
    out, skipped = [], []
    for m in metrics:
        common = sorted(sa[m].keys() & sb[m].keys())
        if not common:
            skipped.append(m)
            continue
        xs, ys = [sa[m][i] for i in common], [sb[m][i] for i in common]
        out.append(paired_bootstrap(m, xs, ys, resamples=resamples, seed=seed))
    return Comparisons(out, skipped)


def parse_thresholds(specs: Sequence[str], option: str) -> dict[str, float]:
    """``["f1=0.6", "hit@5=0.9"]`` -> ``{"f1": 0.6, "hit@5": 0.9}``; a bare number applies to every metric (``*``).

    >>> parse_thresholds(["f1=0.6", "0.02"], "--max-regression")
    {'f1': 0.6, '*': 0.02}
    """
    out: dict[str, float] = {}
    for spec in specs:
        name, sep, value = spec.rpartition("=")
        try:
            number = float(value)
        except ValueError:
            raise InputError(f"{option} {spec!r}: expected METRIC=NUMBER or NUMBER") from None
        out[name.strip() if sep else "*"] = number
    return out


@dataclass(frozen=True, slots=True)
class GateFailure:
    metric: str
    reason: str


def gate_fail_under(summary: Mapping[str, Mapping[str, float]], limits: Mapping[str, float]) -> list[GateFailure]:
    """Metrics whose mean is below their floor. A floor for a metric the run lacks is a failure too."""
    failures = []
    for metric, floor in limits.items():
        names = list(summary) if metric == "*" else [metric]
        for name in names:
            if name not in summary:
                failures.append(GateFailure(name, "not measured in this run"))
            elif not summary[name]["mean"] >= floor:  # NaN fails
                failures.append(GateFailure(name, f"mean {summary[name]['mean']:.4f} < {floor}"))
    return failures


def gate_regression(comparisons: Sequence[Comparison], limits: Mapping[str, float]) -> list[GateFailure]:
    """Metrics that dropped by more than their allowance *and* significantly (the drop's interval excludes 0).

    A gated metric (named, or every metric under ``*``) that could not be compared fails too.
    """
    failures = []
    for c in comparisons:
        allowed = limits.get(c.metric, limits.get("*"))
        if allowed is not None and c.delta < -allowed and c.significant:
            failures.append(GateFailure(c.metric, f"dropped {-c.delta:.4f} (> {allowed}), p={c.p_value:.3g}"))
    skipped = getattr(comparisons, "skipped", ())
    failures += [GateFailure(m, "no item scored in both runs") for m in skipped if m in limits or "*" in limits]
    unknown = set(limits) - {c.metric for c in comparisons} - set(skipped) - {"*"}
    failures += [GateFailure(m, "not in both runs") for m in sorted(unknown)]
    return failures
