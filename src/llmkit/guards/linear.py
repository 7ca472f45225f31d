"""Logistic regression in numpy, stratified k-fold splits and binary F1: what the injection model needs.

A few hundred labelled prompts train in well under a second with full-batch gradient descent, so the
classifier needs no scikit-learn (and its SciPy) at run time or at training time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


def fit_logistic(
    x: np.ndarray, y: np.ndarray, *, l2: float = 1e-3, steps: int = 300, lr: float = 0.1, balanced: bool = True
) -> tuple[np.ndarray, float]:
    """Weights and bias minimising weighted mean log-loss + ``l2``·|w|² (Adam, full batch).

    ``balanced`` weights each class by the inverse of its frequency. With more features than rows
    (hashed n-grams) it solves for ``w = xᵀα`` over the ``n × n`` Gram matrix, which is far cheaper.

    >>> import numpy as np
    >>> x = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
    >>> w, b = fit_logistic(x, y, l2=0.0, steps=300)
    >>> (predict_proba(x, w, b) > 0.5).astype(int).tolist()
    [0, 0, 1, 1]
    """
    import numpy as np

    y = y.astype(np.float32)
    pos = float(y.mean()) if balanced else 0.5
    sample = np.where(y > 0, 0.5 / max(pos, 1e-6), 0.5 / max(1 - pos, 1e-6)).astype(np.float32) / len(y)
    dual = x.shape[1] > x.shape[0]
    basis = (x @ x.T) if dual else x  # scores = basis @ params[:-1] + b
    params = np.zeros(basis.shape[1] + 1, np.float32)
    m, v = np.zeros_like(params), np.zeros_like(params)
    for t in range(1, steps + 1):
        err = (predict_proba(basis, params[:-1], params[-1]) - y) * sample
        reg = basis @ params[:-1] if dual else params[:-1]  # gradient of |w|^2 in either space
        grad = np.append(basis.T @ err + 2 * l2 * reg, err.sum())
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad * grad
        params -= lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    w = x.T @ params[:-1] if dual else params[:-1]
    return w.astype(np.float32), float(params[-1])


def predict_proba(x: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    """P(label 1) for each row of ``x``."""
    import numpy as np

    return 1.0 / (1.0 + np.exp(-np.clip(x @ w + b, -30, 30)))


def stratified_folds(labels: Sequence[int], k: int = 5, seed: int = 0) -> Iterator[tuple[list[int], list[int]]]:
    """``k`` (train, test) index splits, each class spread evenly over the folds.

    >>> [sorted(test) for _, test in stratified_folds([0, 0, 1, 1], k=2, seed=0)]
    [[0, 2], [1, 3]]
    """
    import random

    rng = random.Random(seed)
    fold_of: dict[int, int] = {}
    for label in sorted(set(labels)):
        idx = [i for i, y in enumerate(labels) if y == label]
        rng.shuffle(idx)
        fold_of.update({i: n % k for n, i in enumerate(idx)})
    for f in range(k):
        test = [i for i in range(len(labels)) if fold_of[i] == f]
        yield [i for i in range(len(labels)) if fold_of[i] != f], test


def prf(truth: Sequence[int], pred: Sequence[int]) -> tuple[float, float, float]:
    """Precision, recall and F1 of the positive class.

    >>> prf([1, 1, 0, 0], [1, 0, 1, 0])
    (0.5, 0.5, 0.5)
    """
    tp = sum(1 for t, p in zip(truth, pred, strict=True) if t and p)
    fp = sum(1 for t, p in zip(truth, pred, strict=True) if p and not t)
    fn = sum(1 for t, p in zip(truth, pred, strict=True) if t and not p)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1
