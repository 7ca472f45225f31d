"""Dense indexes over one collection's vectors: exact (numpy) and HNSW (usearch), one small interface.

Both hold the collection ``generation`` they reflect; SQLite stays the source of truth and an index is
dropped or rebuilt whenever its generation is not the collection's. Keys are chunk rowids. Vectors are
L2-normalised, so cosine similarity is a dot product.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np

#: HNSW settings. On a hard synthetic set (hash vectors of SciFact, bench/store_micro.py) recall@10 is 0.956
#: with expansion_add 64 (0.971 with 128, which took twice as long to build: 2,111 s for 100k chunks under
#: load in bench/scale.py) and 0.939 with connectivity 16; expansion_search 128 gave only 0.91-0.94 there.
CONNECTIVITY = 32
EXPANSION_ADD = 64
EXPANSION_SEARCH = 256
#: With a filter allowing at most this many chunks, HNSW search scores them exactly instead.
EXACT_FALLBACK = 4096


def top_k(keys: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best (key, score) pairs, best first; ties go to the smaller key.

    >>> import numpy as np
    >>> top_k(np.array([7, 3, 5]), np.array([0.1, 0.9, 0.9], dtype=np.float32), 2)[0].tolist()
    [3, 5]
    """
    import numpy as np

    if k < len(scores):
        part = np.argpartition(-scores, k - 1)[:k]
        cut = scores[part].min()
        part = np.flatnonzero(scores >= cut)  # keep every tie at the cut, then order them
    else:
        part = np.arange(len(scores))
    order = np.lexsort((keys[part], -scores[part]))[:k]
    return keys[part][order], scores[part][order]


def usearch_index() -> Any:
    """``usearch.index.Index``, imported after onnxruntime when that is installed.

    usearch 2.26 and onnxruntime 1.32 share native symbols: importing onnxruntime into a process that
    has already loaded usearch crashes it (SIGSEGV), while the other order works. The embedder loads
    onnxruntime on first use, so a dense search or index load that comes first must load it here.
    """
    with contextlib.suppress(ImportError):
        import onnxruntime  # noqa: F401  (for its side effect: load order)
    from usearch.index import Index

    return Index


class ExactIndex:
    """Brute force: one float32 matrix, one mat-vec a query. From ``int8_dot.MIN_ROWS`` rows an int8 scan
    picks the rows that can be in the top k and only those are scored in float32 (same results).

    ``keys`` ascend; ``ids`` (optional) are the chunk ids of the rows, so a ranking needs no row reads.
    """

    def __init__(self, keys: np.ndarray, matrix: np.ndarray, generation: int, ids: Sequence[str] | None = None) -> None:
        from llmkit.store.int8_dot import Int8Dot

        self.keys = keys
        self.matrix = matrix
        self.generation = generation
        self.ids = ids
        self.int8 = Int8Dot.maybe(matrix)

    def chunk_ids(self, keys: np.ndarray) -> list[str] | None:
        """The chunk ids of ``keys`` (keys of this index), or None when the index does not keep them."""
        if self.ids is None:
            return None
        import numpy as np

        return [self.ids[p] for p in np.searchsorted(self.keys, keys).tolist()]

    def __len__(self) -> int:
        return len(self.keys)

    def search(
        self, vector: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        import numpy as np

        keys, matrix = self.keys, self.matrix
        if allowed_ids is not None:
            rows = np.flatnonzero(np.isin(keys, allowed_ids))
            keys, matrix = keys[rows], matrix[rows]
        if len(keys) == 0 or k <= 0:
            return keys[:0], np.zeros(0, dtype=np.float32)
        if allowed_ids is None and self.int8 is not None:
            rows = self.int8.candidates(vector, k)
            keys, matrix = keys[rows], matrix[rows]
        return top_k(keys, matvec(matrix, vector), k)


def matvec(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """``matrix @ vector`` with numpy's BLAS held to one thread for the call.

    OpenBLAS's worker threads busy-wait after each call, taking the cores onnxruntime needs to embed
    the next query: on 2 cores a SciFact hybrid query took 25 ms with them and 19 ms without.
    threadpoolctl's ``limit()`` did that at the cost of a full library inspection per query; here
    the BLAS controllers are found once and only ``set_num_threads`` is called (two ctypes calls).
    numpy's own einsum loop needs no threads but ran 3.8× the instructions of OpenBLAS's sgemv.

    >>> import numpy as np
    >>> matvec(np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32), np.array([1.0, 1.0], dtype=np.float32)).tolist()
    [3.0, 7.0]
    """
    libs = _blas_libraries()
    saved = [lib.num_threads for lib in libs]
    for lib in libs:
        lib.set_num_threads(1)
    try:
        return matrix @ vector
    finally:
        for lib, n in zip(libs, saved, strict=True):
            lib.set_num_threads(n)


def _blas_libraries() -> list[Any]:
    """threadpoolctl's controllers of the BLAS libraries loaded now (numpy's), found once."""
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = list(ThreadpoolController().select(user_api="blas").lib_controllers)
    return _BLAS


_BLAS: list[Any] | None = None


def one_blas_thread() -> Any:
    """Hold numpy's BLAS to one thread in a ``with`` block (threadpoolctl; ``matvec`` is the cheap way)."""
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


_CONTROLLER: Any = None


@dataclass(frozen=True)
class Stamp:
    """What an index file must match to be trusted: written next to it as JSON."""

    collection_id: int
    generation: int
    dim: int
    count: int
    digest: str = ""


def _digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


class HnswIndex:
    """An approximate ``usearch`` HNSW index (cosine, f32), kept in step with the store by deltas."""

    def __init__(self, index: Any, stamp: Stamp) -> None:
        self.index = index
        self.stamp = stamp
        self.dirty = False  # changed since it was last saved

    @property
    def generation(self) -> int:
        return self.stamp.generation

    def __len__(self) -> int:
        return len(self.index)

    def chunk_ids(self, keys: np.ndarray) -> None:
        """None: at HNSW sizes the chunk ids are not kept in memory (the store reads them)."""
        return None

    @classmethod
    def build(cls, keys: np.ndarray, matrix: np.ndarray, stamp: Stamp) -> HnswIndex:
        Index = usearch_index()
        index = Index(
            ndim=stamp.dim,
            metric="cos",
            dtype="f32",
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=EXPANSION_SEARCH,
        )
        if len(keys):
            index.add(keys.astype("uint64"), matrix)
        built = cls(index, stamp)
        built.dirty = True
        return built

    @classmethod
    def load(cls, path: Path, expected: Stamp) -> HnswIndex | None:
        """The saved index at ``path`` if its stamp matches ``expected`` and its file checks out, else None."""
        Index = usearch_index()
        try:
            saved = Stamp(**json.loads(Path(f"{path}.json").read_text()))
            if saved.digest != _digest(path) or {**saved.__dict__, "digest": ""} != {**expected.__dict__, "digest": ""}:
                return None
            index = Index(ndim=expected.dim, metric="cos", dtype="f32")
            index.load(str(path))
            if len(index) != expected.count or index.ndim != expected.dim:
                return None
            index.expansion_search = EXPANSION_SEARCH
        except Exception:  # missing, truncated, garbage: the caller rebuilds from SQLite
            return None
        return cls(index, saved)

    def save(self, path: Path) -> None:
        """Write the index and its stamp; each file is replaced atomically, the stamp last."""
        tmp = Path(f"{path}.tmp")
        self.index.save(str(tmp))
        os.replace(tmp, path)
        stamp = Stamp(**{**self.stamp.__dict__, "count": len(self.index), "digest": _digest(path)})
        Path(f"{path}.json.tmp").write_text(json.dumps(stamp.__dict__))
        os.replace(f"{path}.json.tmp", f"{path}.json")
        self.stamp = stamp
        self.dirty = False

    def apply(self, removed: np.ndarray, added: np.ndarray, vectors: np.ndarray, generation: int) -> None:
        """Bring the index to ``generation``: drop ``removed`` keys, add ``added`` with their vectors."""
        import numpy as np

        removed = np.asarray(removed, dtype="uint64")
        present = removed[np.asarray(self.index.contains(removed), dtype=bool)] if len(removed) else removed
        if len(present):
            self.index.remove(present)
        if len(added):
            self.index.add(added.astype("uint64"), vectors)
        self.stamp = Stamp(**{**self.stamp.__dict__, "generation": generation, "count": len(self.index)})
        self.dirty = True

    def _exact(self, vector: np.ndarray, k: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import numpy as np

        allowed = np.asarray(allowed, dtype=np.int64)
        allowed = allowed[np.asarray(self.index.contains(allowed.astype("uint64")), dtype=bool)]
        if len(allowed) == 0:
            return allowed, np.zeros(0, dtype=np.float32)
        matrix = np.vstack(self.index.get(allowed.astype("uint64"))).astype(np.float32)
        return top_k(allowed, matvec(matrix, vector), k)

    def search(
        self, vector: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        import numpy as np

        size = len(self.index)
        if size == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if allowed_ids is not None and len(allowed_ids) <= max(EXACT_FALLBACK, 4 * k):
            return self._exact(vector, k, allowed_ids)
        wanted = k if allowed_ids is None else min(size, 2 * k * size // max(len(allowed_ids), 1) + 16)
        found = self.index.search(vector, min(max(wanted, k), size))
        keys = np.asarray(found.keys, dtype=np.int64)
        scores = (1.0 - np.asarray(found.distances, dtype=np.float32)).astype(np.float32)
        if allowed_ids is not None:
            keep = np.isin(keys, allowed_ids)
            keys, scores = keys[keep], scores[keep]
            if len(keys) < k and wanted < size:  # the over-fetch missed: score the allowed set exactly
                return self._exact(vector, k, allowed_ids)
        return top_k(keys, scores, k)
