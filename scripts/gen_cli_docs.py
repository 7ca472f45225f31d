"""Write docs/cli.md from the CLI's own --help output (a test checks it is current).

.venv/bin/python scripts/gen_cli_docs.py
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

COMMANDS = [
    [],
    ["init"],
    ["ingest"],
    ["search"],
    ["ask"],
    ["chat"],
    ["collections"],
    ["collections", "list"],
    ["collections", "docs"],
    ["collections", "delete"],
    ["collections", "rm-doc"],
    ["models"],
    ["models", "list"],
    ["models", "pull"],
    ["models", "rm"],
    ["traces"],
    ["traces", "list"],
    ["traces", "show"],
    ["eval"],
    ["eval", "run"],
    ["eval", "list"],
    ["eval", "show"],
    ["eval", "compare"],
    ["eval", "report"],
    ["eval", "synth"],
    ["prompts"],
    ["prompts", "list"],
    ["prompts", "show"],
    ["prompts", "diff"],
    ["prompts", "label"],
    ["prompts", "optimize"],
]
DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def help_text(args: list[str]) -> str:
    from llmkit.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main([*args, "--help"])
    return out.getvalue().rstrip()


def render() -> str:
    os.environ["COLUMNS"] = "100"
    parts = ["# CLI reference\n", "Generated from `--help` by `scripts/gen_cli_docs.py`; do not edit by hand.\n"]
    for args in COMMANDS:
        command = " ".join(["llmkit", *args])
        parts.append(f"## `{command}`\n")
        parts.append(f"```\n{help_text(args)}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    DOC.write_text(render(), encoding="utf-8")
    print(f"wrote {DOC}")
