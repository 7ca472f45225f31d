"""bench/retrieval_beir.py's nDCG@10 and Recall@100 agree with trec_eval (pytrec_eval)."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import pytest
import pytrec_eval

BENCH = Path(__file__).resolve().parents[3] / "bench" / "retrieval_beir.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("retrieval_beir", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_metrics_match_trec_eval() -> None:
    bench = load_bench()
    rng = random.Random(7)
    docs = [f"d{i}" for i in range(300)]
    qrels, runs = {}, {}
    for q in range(50):
        relevant = set(rng.sample(docs, rng.randint(1, 4)))
        ranked = rng.sample(docs, 150)
        ranked[: rng.randint(0, 3)] = sorted(relevant)[:3]  # some queries find their documents early
        ranked = list(dict.fromkeys(ranked))
        qrels[f"q{q}"] = {d: 1 for d in relevant}
        runs[f"q{q}"] = {d: float(len(ranked) - i) for i, d in enumerate(ranked)}
        ours = (bench.ndcg_at(ranked, relevant, 10), bench.recall_at(ranked, relevant, 100))
        ref = pytrec_eval.RelevanceEvaluator({"q": qrels[f"q{q}"]}, {"ndcg_cut.10", "recall.100"})
        scores = ref.evaluate({"q": runs[f"q{q}"]})["q"]
        assert ours == pytest.approx((scores["ndcg_cut_10"], scores["recall_100"]), abs=1e-9)
