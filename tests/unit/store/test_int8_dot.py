"""The int8 scan in front of exact dense search: same results as the float32 mat-vec, ties included."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from doctest_checks import assert_docstring_examples
from llmkit.store.int8_dot import MIN_ROWS, Int8Dot
from llmkit.store.vector_index import ExactIndex, matvec, top_k


def unit_rows(m: np.ndarray) -> np.ndarray:
    return (m / np.linalg.norm(m, axis=1, keepdims=True)).astype(np.float32)


def corpora(rng: np.random.Generator) -> dict[str, np.ndarray]:
    centres = rng.standard_normal((20, 384))
    return {
        "gaussian": unit_rows(rng.standard_normal((5000, 384))),
        "clustered": unit_rows(centres[rng.integers(0, 20, 6000)] + 0.3 * rng.standard_normal((6000, 384))),
        "duplicates": unit_rows(np.repeat(rng.standard_normal((30, 64)), 100, axis=0)),  # ties everywhere
        "non-negative": unit_rows(np.abs(rng.standard_normal((4000, 384)))),
        "spiky": unit_rows(rng.standard_normal((3000, 128)) ** 5),  # a few large components per row
    }


@pytest.mark.parametrize("name", ["gaussian", "clustered", "duplicates", "non-negative", "spiky"])
def test_exact_search_with_the_int8_scan_equals_the_float32_mat_vec(name: str) -> None:
    rng = np.random.default_rng(7)
    matrix = corpora(rng)[name]
    keys = np.arange(len(matrix), dtype=np.int64) * 3 + 11
    index = ExactIndex(keys, matrix, generation=1)
    assert index.int8 is not None
    for _ in range(60):
        q = matrix[rng.integers(len(matrix))] + 0.5 * rng.standard_normal(matrix.shape[1])
        q = (q / np.linalg.norm(q)).astype(np.float32)
        approx, bound = index.int8.scores(q)
        assert np.all(np.abs(approx - matrix @ q) <= bound)  # every row's int8 score within its error bound
        for k in (1, 10, 50, len(matrix) + 5):
            got_keys, got_scores = index.search(q, k)
            want_keys, want_scores = top_k(keys, matvec(matrix, q), k)
            np.testing.assert_array_equal(got_keys, want_keys)
            np.testing.assert_allclose(got_scores, want_scores, atol=1e-6)


def test_the_error_bound_holds_where_a_saturating_int8_kernel_would_break_it() -> None:
    """Rows and a query with one dominant sign: with rows at -127..127 the AVX2 kernel's 16-bit pair sums
    saturated and scores were off by thousands of units; at -63..63 every score is within its bound."""
    rng = np.random.default_rng(3)
    matrix = unit_rows(np.abs(rng.standard_normal((MIN_ROWS, 256))) + 2.0)
    dot = Int8Dot(matrix)
    for _ in range(20):
        q = unit_rows(np.abs(rng.standard_normal((1, 256))) + 2.0)[0]
        approx, bound = dot.scores(q)
        assert np.all(np.abs(approx - matrix @ q) <= bound)


def test_candidates_are_few_when_the_best_rows_stand_out() -> None:
    rng = np.random.default_rng(5)
    matrix = unit_rows(rng.standard_normal((8000, 384)))
    target = 1234
    q = matrix[target] + 0.05 * rng.standard_normal(384)
    rows = Int8Dot(matrix).candidates((q / np.linalg.norm(q)).astype(np.float32), 1)
    assert target in rows
    assert len(rows) < 50  # the whole point: a handful re-scored in float32, not 8,000


def test_the_bound_uses_the_query_as_rounded_not_the_worst_case() -> None:
    """Random unit vectors score close together, so the bound's width decides how many rows are re-scored.

    The first bound (each coordinate's worst rounding, |q - q~|_inf |r|_1 + |r - r~|_inf |q~|_1) kept 335 of
    5,000 rows for k=5 here; the norms of the actual rounding errors keep about a fifth of that.
    """
    rng = np.random.default_rng(1)
    matrix = unit_rows(rng.standard_normal((5000, 384)))
    q = matrix[17] + 0.3 * rng.standard_normal(384) / np.sqrt(384)
    q = (q / np.linalg.norm(q)).astype(np.float32)
    dot = Int8Dot(matrix)
    approx, bound = dot.scores(q)
    exact = matrix @ q
    assert np.all(np.abs(approx - exact) <= bound)
    step = (max(float(q.max()), 0.0) - min(float(q.min()), 0.0)) / 255  # the query's rounding step
    worst = step * np.abs(matrix).sum(axis=1) + 0.5 * (np.abs(q).sum() + 384 * step) * dot.scale
    assert float(np.median(bound / worst)) < 0.6
    rows = dot.candidates(q, 5)
    assert set(np.argsort(-exact)[:5]) <= set(rows.tolist())
    assert len(rows) < 150


def test_small_collections_and_a_process_with_usearch_loaded_first_keep_the_float32_mat_vec(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(1)
    assert Int8Dot.maybe(unit_rows(rng.standard_normal((MIN_ROWS - 1, 8)))) is None
    big = unit_rows(rng.standard_normal((MIN_ROWS, 8)))
    assert Int8Dot.maybe(big) is not None
    monkeypatch.setitem(sys.modules, "usearch", object())
    monkeypatch.delitem(sys.modules, "onnxruntime", raising=False)
    assert Int8Dot.maybe(big) is None  # importing onnxruntime after usearch crashes the process


def test_a_filtered_search_scores_the_allowed_rows_exactly() -> None:
    rng = np.random.default_rng(2)
    matrix = unit_rows(rng.standard_normal((MIN_ROWS * 2, 32)))
    keys = np.arange(len(matrix), dtype=np.int64)
    allowed = keys[::7]
    q = matrix[70]
    got = ExactIndex(keys, matrix, 1).search(q, 5, allowed_ids=allowed)
    want = top_k(allowed, matvec(matrix[allowed], q), 5)
    np.testing.assert_array_equal(got[0], want[0])
    assert got[0][0] == 70


def test_docstring_examples() -> None:
    assert_docstring_examples("llmkit.store.int8_dot")
