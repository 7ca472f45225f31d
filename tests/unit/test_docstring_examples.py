"""Every docstring example in llmkit runs and passes: examples are documentation, so they must not rot.

Modules whose optional dependencies are not installed are skipped (their extra's tests cover them).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from doctest_checks import assert_docstring_examples

SRC = Path(__file__).resolve().parents[2] / "src"


def _modules_with_examples() -> list[str]:
    names = []
    for path in sorted((SRC / "llmkit").rglob("*.py")):
        if ">>> " in path.read_text(encoding="utf-8"):
            names.append(".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__"))
    return names


MODULES = _modules_with_examples()


def test_the_examples_are_found() -> None:
    assert len(MODULES) > 100 and "llmkit.rag" in MODULES and "llmkit.store.vector_index" in MODULES


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_pass(module: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError as e:  # an optional extra that is not installed
        pytest.skip(f"{module} needs {e.name or e}")
    assert_docstring_examples(module, some=False)  # ">>> " may only be in +SKIP examples
