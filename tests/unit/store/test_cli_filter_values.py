"""``--filter key=value`` values are JSON scalars where they parse as one, so ``page=2`` matches page 2.

(Beside the store tests, as it is the store's filter semantics the CLI must feed.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from llmkit.cli._common import parse_filter
from llmkit.store.sqlite import SQLiteStore
from llmkit.testing.store_contract import EMBEDDER, make_document


@pytest.mark.parametrize(
    ("text", "want"),
    [("page=2", {"page": 2}), ("score = 0.5", {"score": 0.5}), ("draft=true", {"draft": True}),
     ("tag=null", {"tag": None}), ('year="2020"', {"year": "2020"}), ("source=a.md", {"source": "a.md"}),
     ("lang=en", {"lang": "en"}), ("x=NaN", {"x": "NaN"}), ("x=[1, 2]", {"x": "[1, 2]"}), ("x=", {"x": ""}),
     ("title=a=b", {"title": "a=b"}), ('{"page": "2"}', {"page": "2"})],
)  # fmt: skip
def test_key_value_parses_json_scalars(text: str, want: dict) -> None:
    got = parse_filter(text)
    assert got == want and all(type(got[k]) is type(v) for k, v in want.items())  # type: ignore[index]


def test_page_filter_from_the_command_line_finds_the_page(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.db") as store:
        store.create_collection("docs", embedder=EMBEDDER.name, dim=EMBEDDER.dim)
        store.write("docs", [make_document("a", ["apple one", "apple two"], pages=[1, 2], metadata={"draft": False})])
        for flt, want in (("page=2", ["a#1"]), ("draft=false", ["a#0", "a#1"]), ("doc_id=a", ["a#0", "a#1"])):
            hits = store.search_lexical("docs", "apple", 5, filter=parse_filter(flt))
            assert sorted(h.chunk.id for h in hits) == want
