"""Extraction quality against docling's expected Markdown for real PDF/HTML/DOCX/MD/CSV files.

Compared loosely: token recall (how much of the expected text we extract), after dropping docling's
``<!-- image -->`` placeholders and Markdown link targets. Run with ``-s`` to see the numbers.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from llmkit.errors import LoaderError
from llmkit.ingest.loaders import load
from shared_data import SHARED_DATA, shared_data_missing

DATA = SHARED_DATA / "loader-docs"
pytestmark = pytest.mark.skipif(
    shared_data_missing(DATA / "manifest.jsonl"), reason="shared/data/loader-docs not found"
)

#: lowest mean recall per format; every single file must reach FLOOR (except the listed ones)
MEAN_RECALL = {"pdf": 0.95, "html": 0.95, "docx": 0.9, "md": 0.98, "csv": 0.98}
FLOOR = 0.85
LOW = {"docx/equations.docx": 0.6}  # docling writes equations as LaTeX (\frac, \left ...); we give their text


def _tokens(text: str) -> Counter[str]:
    text = re.sub(r"\]\([^)\s]*\)", "]", re.sub(r"<!--.*?-->", " ", text))
    return Counter(w.lower() for w in re.findall(r"\w+", text))


def _manifest() -> list[dict[str, str]]:
    if not (DATA / "manifest.jsonl").exists():
        return []
    return [json.loads(line) for line in (DATA / "manifest.jsonl").read_text().splitlines() if line.strip()]


def _recall(entry: dict[str, str]) -> float:
    doc = load((DATA / entry["file"]).read_bytes(), entry["file"])
    for s in doc.sections:
        assert doc.text[s.start : s.end] == s.text
    expected = _tokens((DATA / entry["expected_markdown"]).read_text(encoding="utf-8"))
    return sum((expected & _tokens(doc.text)).values()) / max(1, sum(expected.values()))


def test_token_recall_per_format() -> None:
    by_format: dict[str, list[float]] = {}
    for entry in _manifest():
        fmt = entry["file"].split("/")[0]
        if fmt not in MEAN_RECALL:
            continue
        recall = _recall(entry)
        by_format.setdefault(fmt, []).append(recall)
        assert recall >= LOW.get(entry["file"], FLOOR), f"{entry['file']}: recall {recall:.3f}"
    for fmt, values in sorted(by_format.items()):
        mean = sum(values) / len(values)
        print(f"{fmt:5s} n={len(values):2d} mean token recall {mean:.3f} (min {min(values):.3f})")
        assert mean >= MEAN_RECALL[fmt], fmt
    assert set(by_format) == set(MEAN_RECALL)


@pytest.mark.parametrize("fmt", ["pptx", "xlsx"])
def test_unsupported_office_formats_fail_clearly(fmt: str) -> None:
    for entry in (e for e in _manifest() if e["file"].startswith(fmt + "/")):
        with pytest.raises(LoaderError, match="not supported"):
            load((DATA / entry["file"]).read_bytes(), entry["file"])
