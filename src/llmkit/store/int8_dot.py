"""Exact top-k over a float32 matrix at int8 memory traffic: an int8 scan on onnxruntime, then an exact re-score.

A mat-vec over an exact index's rows reads every row; at SciFact's 10k chunks × 384 dims that is 16 MB,
more than this CPU keeps in cache next to the embedder, so one query's mat-vec took 2.5–3.5 ms, bound
by memory. ``Int8Dot`` keeps an int8 copy of the rows (one scale per row) and scores a query against
it with onnxruntime's int8 matrix product (``MatMulInteger``, the same kernels the int8 embedder uses),
reading a quarter of the bytes; the graph is ``data/int8_dot.onnx`` (``scripts/make_int8_dot.py``), its
weight replaced by the rows through ``SessionOptions.add_initializer`` so onnxruntime packs them once.

The int8 scores are not the answer: they choose the rows to re-score in float32. Each int8 score
``q~ . r~`` (``q~`` the query as the graph rounded it, ``r~`` the row as stored) is within a bound of the
float32 dot product ``q . r``: ``q . r - q~ . r~ = (q - q~) . r + q~ . (r - r~)``, so by Cauchy-Schwarz the
error is at most ``|q - q~| |r| + |q~| |r - r~|``. The row norms are kept from the build; the query's
rounding is known exactly, since the graph returns the quantised query. Every row whose upper bound
reaches the k-th best lower bound is kept, and that set provably holds the exact top k, ties included.
The result is the float32 mat-vec's over those rows.
"""

from __future__ import annotations

import logging
import sys
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

#: Below this many rows the float32 mat-vec is fast enough (3 MB at 384 dims) and nothing is built.
MIN_ROWS = 2048
#: Rows are rounded to -63..63, not -127..127: on AVX2 without VNNI the int8 kernel adds pairs of
#: uint8 x int8 products in 16 bits (``vpmaddubsw``), which saturate past 32,767 (255 x 127 x 2 does;
#: 255 x 63 x 2 does not), and a saturated sum made scores wrong by up to 10,000 units here.
ROW_LEVELS = 63
#: Relative and absolute slack on the error bound, for float32 rounding in the bound and the scores.
SLACK = (1e-3, 1e-6)


class Int8Dot:
    """An int8 copy of ``matrix``'s rows on onnxruntime; ``candidates`` narrows a query's top k.

    >>> import numpy as np
    >>> m = np.random.default_rng(0).standard_normal((3000, 16)).astype(np.float32)
    >>> m /= np.linalg.norm(m, axis=1, keepdims=True)
    >>> rows = Int8Dot(m).candidates(m[42], 1)  # the rows that can be the best match for row 42
    >>> bool(42 in rows), len(rows) < 100
    (True, True)
    """

    def __init__(self, matrix: np.ndarray) -> None:
        import numpy as np
        import onnxruntime as ort

        matrix = np.asarray(matrix, dtype=np.float32)
        peak = np.abs(matrix).max(axis=1)
        self.scale = np.where(peak > 0, peak / ROW_LEVELS, 1.0).astype(np.float32)
        rows8 = np.rint(matrix / self.scale[:, None]).astype(np.int8)
        # for the error bound: each row's norm, and the norm of what rounding it to int8 lost
        self.norm = np.linalg.norm(matrix, axis=1).astype(np.float32)
        self.lost = np.linalg.norm(matrix - rows8 * self.scale[:, None], axis=1).astype(np.float32)
        self._weights = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(rows8.T))  # kept alive: ORT uses it
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.add_initializer("B", self._weights)
        graph = (resources.files("llmkit.store") / "data" / "int8_dot.onnx").read_bytes()
        self._session = ort.InferenceSession(graph, opts, providers=["CPUExecutionProvider"])

    @classmethod
    def maybe(cls, matrix: np.ndarray) -> Int8Dot | None:
        """An ``Int8Dot`` for ``matrix``, or ``None`` when the float32 mat-vec is as good or it cannot run.

        onnxruntime is never imported into a process that has loaded usearch first: that order crashes
        (see ``vector_index.usearch_index``).
        """
        if len(matrix) < MIN_ROWS or ("usearch" in sys.modules and "onnxruntime" not in sys.modules):
            return None
        try:
            return cls(matrix)
        except Exception as e:  # no onnxruntime, or one that cannot run the graph: the mat-vec gives the same
            log.debug("int8 scan unavailable (%s); exact search uses the float32 mat-vec", e)
            return None

    def scores(self, vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Approximate dot products of ``vector`` with every row, and a bound on each one's error."""
        import numpy as np

        q = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        y, q8, step, zero = self._session.run(None, {"q": q})
        rounded = (q8[0].astype(np.float32) - np.float32(zero)) * step  # q~: what the int8 product used
        error = q[0] - rounded
        q_lost, q_norm = float(np.sqrt(error @ error)), float(np.sqrt(rounded @ rounded))
        approx = y[0].astype(np.float32)
        approx *= step * self.scale
        bound = self.norm * np.float32(q_lost * (1 + SLACK[0]))
        bound += self.lost * np.float32(q_norm * (1 + SLACK[0]))
        bound += np.float32(SLACK[1])
        return approx, bound

    def candidates(self, vector: np.ndarray, k: int) -> np.ndarray:
        """Row numbers that hold the exact top ``k`` by dot product with ``vector`` (every tie at the cut too)."""
        import numpy as np

        approx, bound = self.scores(vector)
        if k >= len(approx):
            return np.arange(len(approx))
        low = approx - bound
        cut = np.partition(low, len(low) - k)[len(low) - k]  # the k-th best lower bound
        approx += bound  # now each row's upper bound
        return np.flatnonzero(approx >= cut)
