"""The ``Reranker`` Protocol and ``load_reranker``, which picks one by the ``[retrieval] rerank`` setting.

    "none"        no reranking (the default)
    "embedding"   the project's embedder: cosine of the query and each passage's best sentence window
    "llm"         the project's chat model grades each passage (prompt ``rerank-relevance``)
    anything else a cross-encoder: an ``.onnx`` file or a folder holding ``model.onnx`` and
                  ``tokenizer.json``, else a sentence-transformers ``CrossEncoder`` name (that package installed)

No PyPI package carries a cross-encoder's weights, so the last is for users who have one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from llmkit.embeddings.base import Embedder
    from llmkit.models.base import ChatModel
    from llmkit.prompts.registry import PromptRegistry


class Reranker(Protocol):
    """Scores passages for a query; higher is more relevant. Scores are comparable within one call only."""

    name: str

    def score(self, query: str, passages: Sequence[str]) -> list[float]: ...


#: The named rerankers; any other name is a cross-encoder.
RERANKERS: tuple[str, ...] = ("none", "embedding", "llm")


def load_reranker(
    name: str,
    *,
    embedder: Callable[[], Embedder],
    model: Callable[[], ChatModel] | None = None,
    prompts: Callable[[], PromptRegistry] | None = None,
    base: Path | None = None,
) -> Reranker | None:
    """The reranker ``name`` names (None for ``"none"``); cheap: models load on first use.

    ``base`` resolves a relative cross-encoder path (the project folder).
    """
    from llmkit.errors import ConfigError

    name = name.strip()
    if name in ("", "none"):
        return None
    if name == "embedding":
        from llmkit.rerank.embedding import EmbeddingReranker

        return EmbeddingReranker(embedder)
    if name == "llm":
        if model is None:
            raise ConfigError('rerank = "llm" needs a chat model', hint="construct the Retriever through llmkit.open()")
        from llmkit.rerank.llm import LlmReranker

        return LlmReranker(model, prompts)
    from llmkit.rerank.cross_encoder import CrossEncoderReranker

    path = Path(name).expanduser()
    if base is not None and not path.is_absolute() and (base / path).exists():
        path = base / path
    return CrossEncoderReranker(str(path) if path.exists() else name)
