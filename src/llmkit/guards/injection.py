"""Prompt-injection and jailbreak detection: a linear model over hashed n-grams and the heuristic rules.

The shipped model (``guards/data/injection.npz``) is trained by ``llmkit guard train-injection DATA`` from
deepset/prompt-injections (English and German) plus benign prose (GSM8K problems and worked answers) as
extra negatives: without them the model, which saw only short questions as benign, took nearly every
document passage for an injection. ``train`` and ``cross_validate`` are the same code the command runs.
The same guard checks retrieved passages and tool output (indirect injection), with its own threshold.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmkit.errors import InputError, NotFound
from llmkit.guards.base import Action, Finding, GuardContext, Verdict
from llmkit.guards.features import DEFAULT_DIM, WINDOW, dense, hashed
from llmkit.guards.heuristics import RULES, matches
from llmkit.guards.text import scan_view

if TYPE_CHECKING:
    import numpy as np

RULE_WEIGHT = 0.5  # value of a fired rule's feature, next to the L2-normalised n-gram vector
L2 = 1e-5


@dataclass(frozen=True)
class InjectionModel:
    """Weights over ``dim`` hashed n-gram buckets followed by one weight per heuristic rule."""

    weights: np.ndarray
    bias: float
    dim: int = DEFAULT_DIM
    rules: tuple[str, ...] = tuple(RULES)
    meta: str = "{}"

    def score(self, text: str, fired: list[tuple[str, int, int]] | None = None) -> float:
        """P(injection) for ``text``; ``fired`` is ``heuristics.matches(text)`` when the caller has it."""
        import math

        idx, val = hashed(text, self.dim)
        z = float(self.weights[idx] @ val) + self.bias
        z += sum(
            float(self.weights[self.dim + self.rules.index(r)]) * RULE_WEIGHT
            for r, _, _ in (matches(text) if fired is None else fired)
            if r in self.rules
        )
        return 1.0 / (1.0 + math.exp(-max(min(z, 30.0), -30.0)))

    def save(self, path: str | Path) -> None:
        import numpy as np

        np.savez_compressed(
            path, weights=self.weights.astype(np.float16), bias=np.float32(self.bias), dim=self.dim,
            rules=np.array(self.rules), meta=np.array(self.meta),
        )  # fmt: skip

    @classmethod
    def load(cls, path: str | Path | None = None) -> InjectionModel:
        """The model at ``path``, or the one shipped with llmkit."""
        import numpy as np

        source = Path(path) if path else resources.files("llmkit.guards") / "data" / "injection.npz"
        try:
            with source.open("rb") as f, np.load(f) as z:
                rules = tuple(str(r) for r in z["rules"])
                return cls(z["weights"].astype(np.float32), float(z["bias"]), int(z["dim"]), rules, str(z["meta"]))
        except FileNotFoundError:
            raise NotFound(
                f"no injection model at {source}", hint="train one: llmkit guard train-injection DATA"
            ) from None
        except (OSError, KeyError, ValueError) as e:
            raise InputError(
                f"{source} is not an injection model ({e})", hint="retrain: llmkit guard train-injection DATA"
            ) from None


def features(texts: Sequence[str], dim: int = DEFAULT_DIM) -> np.ndarray:
    """Training matrix: hashed n-grams beside one column per heuristic rule."""
    import numpy as np

    names = list(RULES)
    rules = np.zeros((len(texts), len(names)), np.float32)
    for i, text in enumerate(texts):
        for name, _, _ in matches(text):
            rules[i, names.index(name)] = RULE_WEIGHT
    return np.hstack([dense(list(texts), dim), rules])


def load_examples(path: str | Path) -> list[tuple[str, int]]:
    """``(text, label)`` pairs from a JSONL file of ``{"text": str, "label": 0|1}`` lines."""
    rows = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise NotFound(f"cannot read {path}: {e.strerror}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            text, label = row["text"], int(row["label"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            raise InputError(f'{path}:{n}: expected {{"text": str, "label": 0 or 1}}') from None
        if label not in (0, 1) or not isinstance(text, str):
            raise InputError(f"{path}:{n}: label must be 0 or 1 and text a string")
        rows.append((text, label))
    if len({label for _, label in rows}) < 2:
        raise InputError(f"{path}: training needs examples of both labels (0 and 1)")
    return rows


def load_benign(path: str | Path, limit: int | None = None) -> list[str]:
    """Benign texts (label 0) from JSONL: each line's ``text``, or its ``question`` and ``answer`` (GSM8K)."""
    out: list[str] = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise NotFound(f"cannot read {path}: {e.strerror}") from None
    for n, line in enumerate(lines[:limit] if limit else lines, 1):
        try:
            row = json.loads(line) if line.strip() else {}
        except json.JSONDecodeError:
            raise InputError(f"{path}:{n}: not valid JSON") from None
        if not isinstance(row, dict):
            raise InputError(f"{path}:{n}: expected a JSON object")
        texts = [row.get("text")] if "text" in row else [row.get("question"), _prose(row.get("answer"))]
        out.extend(t for t in texts if isinstance(t, str) and t.strip())
    return out


def _prose(answer: object) -> str | None:
    """A GSM8K answer without its calculator notes and final ``#### n`` line."""
    if not isinstance(answer, str):
        return None
    return re.sub(r"<<[^>]*>>", "", answer.split("####")[0]).strip()[:600]


def train(
    examples: Sequence[tuple[str, int]], *, benign: Sequence[str] = (), dim: int = DEFAULT_DIM, l2: float = L2
) -> InjectionModel:
    """Fit the injection model on ``(text, label)`` pairs plus ``benign`` texts as extra negatives."""
    import numpy as np

    from llmkit.guards.linear import fit_logistic

    texts = [t for t, _ in examples] + list(benign)
    y = np.array([label for _, label in examples] + [0] * len(benign))
    w, b = fit_logistic(features(texts, dim), y, l2=l2)
    meta = {"examples": len(examples), "positives": int(y.sum()), "benign": len(benign), "l2": l2, "dim": dim}
    return InjectionModel(w, b, dim, tuple(RULES), json.dumps(meta))


def cross_validate(
    examples: Sequence[tuple[str, int]],
    *,
    benign: Sequence[str] = (),
    k: int = 5,
    repeats: int = 3,
    threshold: float = 0.5,
    l2: float = L2,
) -> dict[str, Any]:
    """Stratified k-fold precision, recall and F1 (mean, sd) of model-or-rule detection on ``examples``.

    ``benign`` texts join every training fold and no test fold. Repeats reshuffle the folds.
    """
    import numpy as np

    from llmkit.guards.linear import fit_logistic, predict_proba, prf, stratified_folds

    labels = [label for _, label in examples]
    x, y = features([t for t, _ in examples]), np.array(labels)
    xb = features(list(benign)) if benign else np.zeros((0, x.shape[1]), np.float32)
    fired = np.array([bool(matches(t)) for t, _ in examples])
    scores: list[tuple[float, float, float]] = []
    for seed in range(repeats):
        for tr, te in stratified_folds(labels, k, seed):
            yb = np.concatenate([y[tr], np.zeros(len(xb), y.dtype)])
            w, b = fit_logistic(np.vstack([x[tr], xb]), yb, l2=l2)
            pred = (predict_proba(x[te], w, b) >= threshold) | fired[te]
            scores.append(prf(y[te].tolist(), pred.astype(int).tolist()))
    cols = list(zip(*scores, strict=True))
    return {
        name: (statistics.mean(col), statistics.stdev(col) if len(col) > 1 else 0.0)
        for name, col in zip(("precision", "recall", "f1"), cols, strict=True)
    } | {"folds": len(scores)}


class InjectionGuard:
    """Flags (or blocks) text the model scores at or above the threshold, or that a heuristic rule fires on.

    ``threshold`` is for user messages; passages and tool output, which are prose rather than requests,
    use ``passage_threshold``.
    """

    name = "injection"

    def __init__(
        self,
        threshold: float = 0.5,
        *,
        passage_threshold: float = 0.9,
        action: Action = "block",
        heuristics: bool = True,
        model_path: str | Path | None = None,
    ) -> None:
        for t in (threshold, passage_threshold):
            if not 0.0 < t <= 1.0:
                raise InputError(f"injection thresholds must be in (0, 1], got {t}")
        self.threshold = threshold
        self.passage_threshold = passage_threshold
        self.action: Action = action
        self.heuristics = heuristics
        self.model_path = model_path
        self._model: InjectionModel | None = None

    @property
    def model(self) -> InjectionModel:
        if self._model is None:
            self._model = InjectionModel.load(self.model_path)
        return self._model

    def check(self, text: str, ctx: GuardContext) -> Verdict:
        where = {"user": "the message", "passage": "a retrieved passage", "tool": "tool output"}.get(
            ctx.kind, "the text"
        )
        findings = []
        view = scan_view(text)  # fullwidth letters, soft hyphens, zero-width spaces: as the model reads them
        fired = matches(view.text)
        if self.heuristics:
            for rule, start, end in fired:
                start, end = view.span(start, end)
                findings.append(
                    Finding(self.name, rule, f"{where} looks like an injection ({rule})", start, end, 1.0, self.action)
                )
        p = self._score(view.text, fired)
        if p >= (self.threshold if ctx.kind == "user" else self.passage_threshold):
            findings.append(
                Finding(self.name, "classifier", f"{where} scores {p:.2f} for injection", None, None, p, self.action)
            )
        return Verdict(self.action if findings else "allow", text, tuple(findings))

    def _score(self, text: str, fired: list[tuple[str, int, int]]) -> float:
        """The model's score of ``text``; a text longer than the model reads at once (``WINDOW``) gets the
        highest score of its overlapping windows, so an injection far into it still counts."""
        if len(text) <= WINDOW:
            return self.model.score(text, fired)
        step = WINDOW - WINDOW // 10
        return max(self.model.score(text[i : i + WINDOW]) for i in range(0, len(text) - WINDOW // 10, step))
