from __future__ import annotations

import numpy as np
import pytest

from llmkit.errors import InputError
from llmkit.retrieve.fusion import mmr, normalize, weighted_rrf

# ----------------------------------------------------------------------------- weighted_rrf


def test_rrf_hand_computed() -> None:
    fused = weighted_rrf({"lexical": ["a", "b", "c"], "dense": ["c", "a"]}, {"lexical": 1.0, "dense": 1.0}, k=60)
    expected = {"a": 1 / 61 + 1 / 62, "c": 1 / 63 + 1 / 61, "b": 1 / 62}
    assert [d for d, _ in fused] == ["a", "c", "b"]
    for d, s in fused:
        assert s == pytest.approx(expected[d])


def test_rrf_weights_change_the_order() -> None:
    rankings = {"lexical": ["a"], "dense": ["b"]}
    assert [d for d, _ in weighted_rrf(rankings, {"lexical": 1.0, "dense": 2.0})] == ["b", "a"]
    assert [d for d, _ in weighted_rrf(rankings, {"lexical": 3.0, "dense": 2.0})] == ["a", "b"]
    fused = dict(weighted_rrf(rankings, {"lexical": 0.5, "dense": 2.0}, k=10))
    assert fused == pytest.approx({"a": 0.5 / 11, "b": 2.0 / 11})


def test_rrf_zero_weight_side_only_fills_the_tail() -> None:
    fused = weighted_rrf({"lexical": ["x", "y"], "dense": ["a", "b"]}, {"lexical": 0.0, "dense": 1.0})
    assert [d for d, _ in fused] == ["a", "b", "x", "y"]
    assert fused[2][1] == 0.0


def test_rrf_ties_keep_first_seen_order() -> None:
    w = {"lexical": 1.0, "dense": 1.0}
    assert [d for d, _ in weighted_rrf({"lexical": ["a"], "dense": ["b"]}, w)] == ["a", "b"]
    assert [d for d, _ in weighted_rrf({"dense": ["b"], "lexical": ["a"]}, w)] == ["b", "a"]
    # a: ranks 1 and 2, b: ranks 2 and 1 -> equal; a was seen first
    assert [d for d, _ in weighted_rrf({"lexical": ["a", "b"], "dense": ["b", "a"]}, w)] == ["a", "b"]


def test_rrf_empty_inputs() -> None:
    assert weighted_rrf({}, {}) == []
    assert weighted_rrf({"lexical": [], "dense": []}, {"lexical": 1.0, "dense": 1.0}) == []


def test_rrf_one_side_empty_keeps_the_other_order() -> None:
    fused = weighted_rrf({"lexical": [], "dense": ["c", "a", "b"]}, {"lexical": 1.0, "dense": 1.0}, k=1)
    assert fused == [("c", 0.5), ("a", pytest.approx(1 / 3)), ("b", 0.25)]


def test_rrf_duplicates_count_once_at_best_rank_and_missing_weight_is_one() -> None:
    fused = weighted_rrf({"lexical": ["a", "a", "b"]}, {}, k=0)
    assert fused == [("a", 1.0), ("b", pytest.approx(1 / 3))]


@pytest.mark.parametrize(("weights", "k"), [({"lexical": -1.0}, 60), ({}, -1)])
def test_rrf_rejects_negative_weight_or_k(weights: dict[str, float], k: int) -> None:
    with pytest.raises(InputError):
        weighted_rrf({"lexical": ["a"]}, weights, k=k)


# ----------------------------------------------------------------------------- normalize


def test_normalize() -> None:
    assert normalize([1.0, 4.0, 2.0]).tolist() == [0.25, 1.0, 0.5]  # ratios kept
    assert normalize([-1.0, 1.0, 0.0]).tolist() == [0.0, 1.0, 0.5]  # negative: min-max
    assert normalize([3.0]).tolist() == [1.0]
    assert normalize([]).shape == (0,)
    assert normalize(np.array([0.2, 0.2, 0.2])).tolist() == [1.0, 1.0, 1.0]
    assert normalize([0.0, 0.0]).tolist() == [1.0, 1.0]


# ----------------------------------------------------------------------------- mmr


def _unit(rows: list[list[float]]) -> np.ndarray:
    a = np.asarray(rows, dtype=np.float32)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _naive_mmr(vecs: np.ndarray, rel: np.ndarray, k: int, lam: float) -> list[int]:
    picked: list[int] = []
    while len(picked) < min(k, len(vecs)):
        best, best_score = -1, -np.inf
        for i in range(len(vecs)):
            if i in picked:
                continue
            penalty = max((float(vecs[i] @ vecs[j]) for j in picked), default=0.0)
            score = lam * rel[i] - (1 - lam) * penalty if picked else rel[i]
            if score > best_score + 1e-6:
                best, best_score = i, score
        picked.append(best)
    return picked


def test_mmr_lambda_one_is_relevance_order() -> None:
    rng = np.random.default_rng(0)
    vecs = _unit(rng.normal(size=(20, 8)).tolist())
    rel = rng.random(20)
    assert mmr(None, vecs, rel, 20, 1.0) == np.argsort(-rel, kind="stable").tolist()


def test_mmr_skips_near_duplicates() -> None:
    vecs = _unit([[1, 0, 0], [1, 0.01, 0], [0, 1, 0], [0, 0, 1]])
    rel = [1.0, 0.99, 0.6, 0.5]
    assert mmr(None, vecs, rel, 2, 0.5) == [0, 2]
    assert mmr(None, vecs, rel, 2, 0.99) == [0, 1]  # almost pure relevance keeps the duplicate


def test_mmr_lambda_zero_maximises_diversity_after_the_first() -> None:
    vecs = _unit([[0.9, 0.1], [1, 0], [0.5, 0.5], [-1, 0.05]])
    assert mmr(None, vecs, [0.9, 1.0, 0.8, 0.1], 3, 0.0) == [1, 3, 2]


def test_mmr_uses_query_vector_when_no_relevance() -> None:
    vecs = _unit([[1, 0], [0, 1], [0.7, 0.7]])
    assert mmr(np.array([0.0, 1.0]), vecs, None, 1, 0.5) == [1]
    with pytest.raises(InputError):
        mmr(None, vecs, None, 1, 0.5)


def test_mmr_edge_sizes_and_ties() -> None:
    vecs = _unit([[1, 0], [0, 1], [1, 1]])
    assert sorted(mmr(None, vecs, [0.5, 0.5, 0.5], 10, 0.7)) == [0, 1, 2]
    assert mmr(None, vecs, [0.5, 0.5, 0.5], 1, 0.7) == [0]  # tie goes to the lower index
    assert mmr(None, np.zeros((0, 4)), [], 3, 0.5) == []
    assert mmr(None, vecs, [1, 1, 1], 0, 0.5) == []


@pytest.mark.parametrize(("rel", "lam"), [([1.0, 2.0], 0.5), ([1.0, 2.0, 3.0], 1.5), ([1.0, 2.0, 3.0], -0.1)])
def test_mmr_rejects_bad_arguments(rel: list[float], lam: float) -> None:
    with pytest.raises(InputError):
        mmr(None, _unit([[1, 0], [0, 1], [1, 1]]), rel, 2, lam)


@pytest.mark.parametrize("lam", [0.0, 0.3, 0.7, 1.0])
def test_mmr_matches_a_naive_loop(lam: float) -> None:
    rng = np.random.default_rng(42)
    for _ in range(20):
        vecs = _unit(rng.normal(size=(15, 6)).tolist())
        rel = rng.random(15)
        assert mmr(None, vecs, rel, 6, lam) == _naive_mmr(vecs, rel, 6, lam)
