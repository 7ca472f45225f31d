"""Shared fixtures. Tests never reach the network: see tests/integration/test_offline.py."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No LLMKIT_* setting from the developer's shell leaks into a test (LLMKIT_HOME stays: models live there)."""
    import os

    for key in list(os.environ):
        if key.startswith("LLMKIT_") and key != "LLMKIT_HOME":
            monkeypatch.delenv(key)
