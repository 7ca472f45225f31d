"""The ``llmkit`` CLI run in-process by tests: exit code, stdout and stderr."""

from __future__ import annotations

import pytest


def run_cli(capsys: pytest.CaptureFixture[str], *args: str, one_line_err: bool = False) -> tuple[int, str, str]:
    """``llmkit ARGS`` through ``llmkit.cli.main``: (exit code, stdout, stderr).

    ``one_line_err`` joins stderr's whitespace runs into single spaces (Rich wraps long messages).
    """
    from llmkit.cli import main

    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = 0 if e.code is None else e.code if isinstance(e.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, " ".join(err.split()) if one_line_err else err
