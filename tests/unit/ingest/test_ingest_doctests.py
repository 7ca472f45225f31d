"""The worked examples in the ingest modules' docstrings are tests too."""

from __future__ import annotations

import pytest

from doctest_checks import assert_docstring_examples, assert_import_is_light

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
    assert_docstring_examples(name, some=False)


def test_import_is_light() -> None:
    assert_import_is_light(
        ["llmkit.ingest", "llmkit.ingest.progress"],
        ("pypdf", "docx", "selectolax", "filetype", "markdown_it", "rich", "onnxruntime"),
    )
