"""Filtered search on a large SQLite collection: filters naming documents against a 10 % metadata filter.

Builds (once, in FOLDER) a collection of N chunks with ``bench/scale.py``'s generator (ten chunks a
document, ``{"shard": b % 10}`` metadata, clustered 384-d vectors, bulk load), builds its HNSW graph and
tantivy index, then times dense and lexical searches (k=10) under several filters: one document, one
source, two documents, one document and a chunk field, and the 10 % shard filter for comparison.

    .venv/bin/python bench/document_filters.py 200000 /tmp/docfilters     # ~5 min to build, then seconds
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale

from llmkit.store.sqlite import SQLiteStore

FILTERS = {
    "one document": {"doc_id": "d0005-003"},
    "one source": {"source": "d0017-042.txt"},
    "two documents ($in)": {"doc_id": {"$in": ["d0005-003", "d0100-001"]}},
    "a document and page": {"$and": [{"doc_id": "d0005-003"}, {"page": None}]},
    "10 % (shard)": {"shard": 3},
}


def main() -> None:
    n, folder = int(sys.argv[1]), Path(sys.argv[2])
    folder.mkdir(parents=True, exist_ok=True)
    store = SQLiteStore(folder / "store.db")
    queries = scale.Vectors().queries(10)
    if "bench" not in [c.name for c in store.list_collections()]:
        t = time.perf_counter()
        scale.ingest(store, n, scale.sentences(), scale.Vectors(), bulk=True)
        store.search_dense("bench", queries[0], 10)  # builds the HNSW graph
        store.search_lexical("bench", "protein expression", 10)  # builds the tantivy index
        print(f"built {n:,} chunks with their indexes in {time.perf_counter() - t:.0f} s")
    print(f"{'filter':22} {'dense p50 ms':>13} {'lexical p50 ms':>15}")
    for name, flt in FILTERS.items():
        dense, lexical = [], []
        for q in queries:
            t = time.perf_counter()
            store.search_dense("bench", q, 10, filter=flt)
            dense.append(time.perf_counter() - t)
            t = time.perf_counter()
            store.search_lexical("bench", "protein cell", 10, filter=flt)
            lexical.append(time.perf_counter() - t)
        print(f"{name:22} {statistics.median(dense) * 1e3:13.1f} {statistics.median(lexical) * 1e3:15.1f}")
    store.close()


if __name__ == "__main__":
    main()
