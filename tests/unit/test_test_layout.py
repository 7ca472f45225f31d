"""The test tree has no packages, so pytest imports test files by basename: two with one name break collection."""

from __future__ import annotations

from collections import Counter
from pathlib import Path


def test_test_file_names_are_unique() -> None:
    names = Counter(p.name for p in Path(__file__).resolve().parents[1].rglob("test_*.py"))
    assert not [n for n, c in names.items() if c > 1]
