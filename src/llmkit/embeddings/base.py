"""The ``Embedder`` Protocol every embedding backend implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np


@runtime_checkable
class Embedder(Protocol):
    #: Stable id stored with each collection, so vectors from two embedders never mix.
    name: str

    @property
    def dim(self) -> int: ...

    @property
    def max_tokens(self) -> int:
        """Longest input (in this embedder's tokens) that is embedded without truncation."""
        ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` as a float32 array of shape ``(len(texts), dim)``, each row L2-normalised."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes with this embedder's tokenizer (special tokens excluded)."""
        ...
