"""The worked examples in the ingest modules' docstrings are tests too."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "llmkit.ingest.loaders",
    "llmkit.ingest.loaders.base",
    "llmkit.ingest.loaders.csvfile",
    "llmkit.ingest.loaders.html",
    "llmkit.ingest.loaders.jsonfile",
    "llmkit.ingest.loaders.markdown",
    "llmkit.ingest.loaders.pdf",
    "llmkit.ingest.loaders.text",
    "llmkit.ingest.pipeline",
    "llmkit.ingest.sources",
    "llmkit.ingest.splitter",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_import_is_light() -> None:
    import subprocess
    import sys

    heavy = ("pypdf", "docx", "selectolax", "filetype", "markdown_it", "rich", "onnxruntime")
    code = f"import sys, llmkit.ingest, llmkit.ingest.progress; print(sorted(set(sys.modules) & {set(heavy)!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
