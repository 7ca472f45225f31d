"""Response caches for deterministic requests: exact (by request hash) and semantic (by embedding cosine).

A request is deterministic when its temperature is 0 or it fixes a seed; only those are cached, since
anything else is expected to vary between calls.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


def is_deterministic(temperature: float | None, seed: int | None) -> bool:
    """Whether a request with these sampling settings always gets the same reply (so it can be cached).

    >>> is_deterministic(0.0, None), is_deterministic(0.7, 42), is_deterministic(0.7, None)
    (True, True, False)
    """
    return temperature == 0 or seed is not None


def request_key(payload: Mapping[str, Any]) -> str:
    """A stable hash of a request body (key order does not matter).

    >>> request_key({"a": 1, "b": [2]}) == request_key({"b": [2], "a": 1})
    True
    """
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class ExactCache:
    """A thread-safe LRU of response bodies keyed by ``request_key``."""

    def __init__(self, entries: int = 1024) -> None:
        self.entries = entries
        self._data: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Any | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.entries:
                self._data.popitem(last=False)


class SemanticCache:
    """Answers reused for questions whose embedding is within ``threshold`` cosine of a cached one.

    Entries are grouped by ``scope`` (the model and the parameters), so an answer is reused only for a
    request that differs in its wording alone. ``embed`` maps one text to an L2-normalised vector.
    """

    def __init__(self, embed: Callable[[str], np.ndarray], threshold: float, entries: int = 1024) -> None:
        self.embed, self.threshold, self.entries = embed, threshold, entries
        self._items: OrderedDict[str, list[tuple[np.ndarray, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, scope: str, text: str) -> tuple[Any | None, np.ndarray]:
        """``(value or None, the text's vector)``; pass the vector back to ``put`` to embed once."""
        vector = self.embed(text)
        with self._lock:
            best, best_score = None, self.threshold
            for v, value in self._items.get(scope, ()):
                score = float(v @ vector)
                if score >= best_score:
                    best, best_score = value, score
            return best, vector

    def put(self, scope: str, vector: np.ndarray, value: Any) -> None:
        with self._lock:
            bucket = self._items.setdefault(scope, [])
            bucket.append((vector, value))
            self._items.move_to_end(scope)
            while sum(len(b) for b in self._items.values()) > self.entries:
                oldest = next(iter(self._items.values()))
                oldest.pop(0)
                if not oldest:
                    self._items.popitem(last=False)
