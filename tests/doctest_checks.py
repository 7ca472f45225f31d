"""Checks several test modules share: a module's docstring examples pass, and an import stays light."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys
from collections.abc import Iterable


def assert_docstring_examples(module: str, *, some: bool = True) -> None:
    """Every example in ``module``'s docstrings passes (and, with ``some``, there is at least one)."""
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and (result.attempted > 0 or not some)


def assert_import_is_light(modules: Iterable[str], heavy: Iterable[str]) -> None:
    """Importing ``modules`` in a fresh interpreter loads none of ``heavy``."""
    code = f"import sys, {', '.join(modules)}; print(sorted(set(sys.modules) & {set(heavy)!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
