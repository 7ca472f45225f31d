"""Write docs/cli.md from the CLI's own --help output (a test checks it is current).

.venv/bin/python scripts/gen_cli_docs.py
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def help_text(args: list[str]) -> str:
    from llmkit.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main([*args, "--help"])
    return out.getvalue().rstrip()


def commands() -> list[list[str]]:
    """Every command path, in the order ``--help`` lists them: [], ["init"], ..., ["models"], ["models", "pull"]..."""
    from typer.main import get_command

    from llmkit.cli.app import app

    def walk(group: Any, ctx: Any, path: list[str]) -> list[list[str]]:
        found = [path]
        for name in getattr(group, "list_commands", lambda _: [])(ctx):
            found += walk(group.get_command(ctx, name), ctx, [*path, name])
        return found

    root = get_command(app)
    return walk(root, root.make_context("llmkit", [], resilient_parsing=True), [])


def render() -> str:
    os.environ["COLUMNS"] = "100"
    parts = ["# CLI reference\n", "Generated from `--help` by `scripts/gen_cli_docs.py`; do not edit by hand.\n"]
    for args in commands():
        command = " ".join(["llmkit", *args])
        parts.append(f"## `{command}`\n")
        parts.append(f"```\n{help_text(args)}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    DOC.write_text(render(), encoding="utf-8")
    print(f"wrote {DOC}")
