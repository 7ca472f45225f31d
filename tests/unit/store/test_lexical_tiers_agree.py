"""SQLite's lexical tiers (FTS5, BM25 in memory, tantivy) find the same documents for the same words, whatever
the script, case or accents: tantivy indexes and queries FTS5's words (``text_index.fts5_words``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmkit.store import text_index
from llmkit.store.sqlite import SQLiteStore
from llmkit.testing.store_contract import EMBEDDER, make_document

pytest.importorskip("tantivy")

TEXTS = {
    "ja": "データベース を 使います", "hi": "हिन्दी भाषा का शब्द", "vi": "Tiếng Việt có dấu",
    "sn": "snake_case_name here", "ci": "the İstanbul office", "lig": "The ﬁbrosis of the lung",
    "h2o": "x² and H₂O", "de": "Die Straße in München", "ap": "o'neil's pub", "cafe": "Café au lait",
}  # fmt: skip
QUERIES = ["データベース", "हिन्दी", "भाषा", "tieng", "tiếng", "snake_case_name", "case", "istanbul", "İstanbul",
           "fibrosis", "ﬁbrosis", "h2o", "H₂O", "strasse", "straße", "munchen", "München", "o'neil", "neil",
           "cafe", "CAFÉ"]  # fmt: skip
TIERS: dict[str, dict[str, Any]] = {
    "fts5": {"text_index_threshold": -1},
    "memory": {"text_index_threshold": -1, "bm25_memory": (1, 1_000_000), "bm25_warmup": 0},
    "tantivy": {"text_index_threshold": 0},
}


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[dict[str, SQLiteStore]]:
    docs = [make_document(k, [t]) for k, t in TEXTS.items()]
    docs += [make_document(f"f{i}", [f"filler text number {i} about lungs"]) for i in range(20)]
    out = {}
    for name, options in TIERS.items():
        out[name] = SQLiteStore(tmp_path / f"{name}.db", **options)
        out[name].create_collection("t", embedder=EMBEDDER.name, dim=EMBEDDER.dim)
        out[name].write("t", docs)
    yield out
    for s in out.values():
        s.close()


@pytest.mark.parametrize("query", QUERIES)
def test_every_tier_finds_the_same_documents(stores: dict[str, SQLiteStore], query: str) -> None:
    found = {name: [h.chunk.doc_id for h in s.search_lexical("t", query, 3)] for name, s in stores.items()}
    assert found["tantivy"] == found["memory"] == found["fts5"], found
    assert stores["tantivy"]._lexical._text_indexes  # tantivy answered (the 30 chunks are over its threshold)


def test_an_index_of_the_older_format_is_rebuilt(stores: dict[str, SQLiteStore]) -> None:
    store = stores["tantivy"]
    assert store.search_lexical("t", "भाषा", 1)[0].chunk.doc_id == "hi"
    index = next(iter(store._lexical._text_indexes.values()))
    assert index.stamp.digest == text_index.FORMAT  # a stamp without it (an older llmkit's) does not load
