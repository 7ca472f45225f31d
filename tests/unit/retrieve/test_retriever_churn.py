"""MMR while documents change: a candidate deleted between ranking and reading its vector is left out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from retrieve_helpers import COLLECTION

from llmkit.config import RetrievalSettings
from llmkit.retrieve import Retriever
from llmkit.testing import HashEmbedder


class DeletesOnFirstVectorRead:
    """The store, except that document ``doc`` is deleted just before the first ``get_vectors`` call."""

    def __init__(self, store: Any, doc: str) -> None:
        self.store, self.doc, self.deleted = store, doc, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def get_vectors(self, collection: str, ids: Sequence[str]) -> np.ndarray:
        if not self.deleted:
            self.deleted = True
            if hasattr(self.store, "delete_document"):
                self.store.delete_document(collection, f"doc-{self.doc}")
            else:  # the in-memory store of these tests
                del self.store.chunks[collection][self.doc], self.store.vectors[collection][self.doc]
        return self.store.get_vectors(collection, ids)


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
@pytest.mark.parametrize("explain", [False, True])
def test_mmr_leaves_out_a_candidate_deleted_meanwhile(
    store: Any, embedder: HashEmbedder, mode: str, explain: bool
) -> None:
    churn = DeletesOnFirstVectorRead(store, "c1")
    r = Retriever(churn, embedder, RetrievalSettings(mmr=True))  # type: ignore[arg-type]
    hits = r.search(COLLECTION, "the cat sat on the mat", k=3, mode=mode, explain=explain)  # before: NotFound
    assert churn.deleted and hits and "c1" not in [h.chunk.id for h in hits]
    if explain:
        assert [h.explain.mmr_rank for h in hits] == list(range(1, len(hits) + 1))  # type: ignore[union-attr]


def test_mmr_after_multi_query_fusion_chooses_from_the_whole_pool(
    store: Any, embedder: HashEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = Retriever(store, embedder, RetrievalSettings(mmr=True, candidates=6))
    seen: list[int] = []
    diversify = r._diversify

    def spy(collection: str, hits: list, plan: Any, explain: bool) -> list:
        seen.append(len(hits))
        return diversify(collection, hits, plan, explain)

    monkeypatch.setattr(r, "_diversify", spy)
    hits = r.search(COLLECTION, "the cat sat on the mat", k=2, queries=["a cat on a mat", "where the cat sat"])
    assert len(hits) == 2 and seen and seen[0] > 2  # not only the 2 fused hits it would return anyway
