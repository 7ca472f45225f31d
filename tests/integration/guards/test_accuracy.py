"""The issue's accuracy floors on the shared data, and the shipped injection model reproduced from it."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest

from llmkit.guards.injection import InjectionModel, cross_validate, load_benign, load_examples, train
from llmkit.guards.pii import recognise
from shared_data import SHARED_DATA, shared_data_missing

INJECTIONS = SHARED_DATA / "deepset-prompt-injections" / "prompt_injections.jsonl"
GSM8K = SHARED_DATA / "gsm8k" / "train.jsonl"
PII = SHARED_DATA / "presidio-synth-pii" / "synth_dataset_v2.jsonl"
pytestmark = pytest.mark.skipif(shared_data_missing(INJECTIONS) or shared_data_missing(PII), reason="no shared data")


def test_pii_strict_f1_per_supported_type() -> None:
    rows = [json.loads(line) for line in PII.read_text(encoding="utf-8").splitlines()]
    counts: dict[str, list[int]] = {}
    for r in rows:
        gold = {(s["entity_type"], s["start_position"], s["end_position"]) for s in r["spans"]}
        pred = {("DOMAIN_NAME" if e.type == "URL" else e.type, e.start, e.end) for e in recognise(r["full_text"])}
        for t, *_ in pred:
            counts.setdefault(t, [0, 0, 0])
        for t, *_ in gold:
            counts.setdefault(t, [0, 0, 0])
        for p in pred:
            counts[p[0]][0 if p in gold else 1] += 1
        for g in gold - pred:
            counts[g[0]][2] += 1
    for t in ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS", "DOMAIN_NAME"):
        tp, fp, fn = counts[t]
        assert 2 * tp / (2 * tp + fp + fn) >= 0.85, (t, counts[t])


def test_street_addresses_found_whole_on_both_template_halves() -> None:
    """Relaxed (overlap) F1 >= 0.9 for addresses on each half by template; the data splits some addresses
    into fragments and labels others whole, so an exact-span floor would measure the labelling, not us."""
    rows = [json.loads(line) for line in PII.read_text(encoding="utf-8").splitlines()]
    for half in (0, 1):
        tp = fp = fn = 0
        for r in (r for r in rows if r["template_id"] % 2 == half):
            gold = [
                (s["start_position"], s["end_position"]) for s in r["spans"] if s["entity_type"] == "STREET_ADDRESS"
            ]
            pred = [(e.start, e.end) for e in recognise(r["full_text"], ["STREET_ADDRESS"])]
            hits = [any(gs < pe and ps < ge for gs, ge in gold) for ps, pe in pred]
            tp, fp = tp + sum(hits), fp + hits.count(False)
            fn += sum(1 for gs, ge in gold if not any(gs < pe and ps < ge for ps, pe in pred))
        assert 2 * tp / (2 * tp + fp + fn) >= 0.9, (half, tp, fp, fn)


@pytest.mark.slow
def test_injection_cross_validated_f1() -> None:
    result = cross_validate(load_examples(INJECTIONS), benign=load_benign(GSM8K, 150), k=5, repeats=1)
    assert result["f1"][0] >= 0.92


@pytest.mark.slow
def test_train_injection_reproduces_the_shipped_model(tmp_path) -> None:
    model = train(load_examples(INJECTIONS), benign=load_benign(GSM8K, 150))
    shipped = InjectionModel.load(resources.files("llmkit.guards") / "data" / "injection.npz")
    assert shipped.rules == model.rules and shipped.bias == pytest.approx(model.bias, abs=1e-3)
    assert np.allclose(shipped.weights, model.weights, atol=2e-3)
