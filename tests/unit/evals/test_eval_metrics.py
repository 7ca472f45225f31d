"""Metrics against hand-computed values (and the libraries they use cross-checked the same way)."""

from __future__ import annotations

import math

import pytest

from llmkit.evals import metrics as m


def test_squad_normalisation_em_f1() -> None:
    assert m.normalize_answer("  The Denver-Broncos, an NFL team! ") == "denverbroncos nfl team"
    assert m.exact_match("denver broncos.", ["The Denver Broncos"]) == 1.0
    assert m.exact_match("Broncos", ["Denver Broncos"]) == 0.0
    # pred "the denver broncos won" -> [denver, broncos, won]; ref [denver, broncos]: P=2/3 R=1 F1=0.8
    assert m.token_f1("the denver broncos won", ["Denver Broncos", "xyz"]) == pytest.approx(0.8)
    assert m.token_f1("", ["a b"]) == 0.0 and m.token_f1("nothing", []) == 0.0


def test_rouge_l_by_hand() -> None:
    # LCS("a b c d e", "a c e f") = [a, c, e] = 3; P = 3/5, R = 3/4, F = 2PR/(P+R) = 0.6667
    assert m.rouge_l("a b c d e", ["a c e f"]) == pytest.approx(2 * 0.6 * 0.75 / 1.35)
    assert m.rouge_l("police killed the gunman", ["police kill the gunman"]) == pytest.approx(0.75)
    assert m.rouge_l("x", ["y"]) == 0.0 and m.rouge_l("", ["y"]) == 0.0


def test_bleu_by_hand() -> None:
    assert m.bleu("the cat sat on the mat", ["the cat sat on the mat"]) == pytest.approx(1.0)
    # 5-token hypothesis, reference 6 tokens, all 1..4-grams of the hypothesis match:
    # precisions 1, BP = exp(1 - 6/5) = 0.8187
    assert m.bleu("the cat sat on the", ["the cat sat on the mat"]) == pytest.approx(math.exp(1 - 6 / 5), abs=1e-4)
    assert m.bleu("zzz", []) == 0.0


def test_retrieval_by_hand_and_against_trec_eval() -> None:
    ranked, relevant = ["x", "a", "y", "b"], {"a", "b", "c"}
    assert m.hit_at_k(ranked, relevant, 1) == 0.0 and m.hit_at_k(ranked, relevant, 2) == 1.0
    assert m.recall_at_k(ranked, relevant, 4) == pytest.approx(2 / 3)
    scores = m.trec_scores(ranked, relevant, 10)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert scores["ndcg@10"] == pytest.approx(dcg / idcg, abs=1e-4)
    assert scores["mrr"] == pytest.approx(0.5)
    assert m.trec_scores(ranked, relevant, 1)["ndcg@1"] == 0.0
    assert m.trec_scores([], relevant, 10) == {"ndcg@10": 0.0, "mrr": 0.0}
    assert m.trec_scores(["a"], set(), 10)["ndcg@10"] == 0.0


def test_trec_matches_the_bench_reference_on_many_rankings() -> None:
    import random

    rng = random.Random(1)
    for _ in range(50):
        ranked = rng.sample([str(i) for i in range(30)], 20)
        relevant = set(rng.sample([str(i) for i in range(30)], rng.randint(1, 5)))
        dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:10]) if d in relevant)
        idcg = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), 10)))
        assert m.trec_scores(ranked, relevant, 10)["ndcg@10"] == pytest.approx(dcg / idcg, abs=1e-4)
