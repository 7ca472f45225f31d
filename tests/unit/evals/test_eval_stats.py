"""Bootstrap intervals and the paired test: coverage, determinism, edge cases."""

from __future__ import annotations

import math
import random

import pytest

from llmkit.evals.stats import bootstrap_ci, paired_bootstrap


def test_bootstrap_is_seeded_and_covers_the_mean() -> None:
    rng = random.Random(3)
    values = [rng.random() for _ in range(200)]
    a, b = bootstrap_ci(values, seed=1), bootstrap_ci(values, seed=1)
    assert a == b and a.low < a.mean < a.high and a.n == 200
    se = (sum((v - a.mean) ** 2 for v in values) / 199 / 200) ** 0.5
    assert a.high - a.low == pytest.approx(2 * 1.96 * se, rel=0.15)  # close to the normal interval


def test_bootstrap_edge_cases() -> None:
    assert math.isnan(bootstrap_ci([]).mean)
    one = bootstrap_ci([0.5])
    assert (one.mean, one.low, one.high) == (0.5, 0.5, 0.5)


def test_paired_bootstrap_detects_a_real_difference_and_not_noise() -> None:
    rng = random.Random(0)
    a = [rng.random() for _ in range(100)]
    better = paired_bootstrap("f1", a, [x + 0.1 for x in a])
    assert better.delta == pytest.approx(0.1) and better.significant and better.p_value < 0.01
    noise = paired_bootstrap("f1", a, [x + rng.gauss(0, 0.05) for x in a])
    assert not noise.significant and noise.p_value > 0.05
    same = paired_bootstrap("f1", a, a)
    assert same.delta == 0 and same.p_value == 1.0 and not same.significant
    with pytest.raises(ValueError):
        paired_bootstrap("f1", [1.0], [1.0, 2.0])
