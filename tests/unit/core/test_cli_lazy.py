"""The root --help lists every command group without building them; using a group builds it."""

from __future__ import annotations

import subprocess
import sys

from llmkit.cli.lazy import GROUPS


def test_root_help_lists_all_groups_and_builds_none() -> None:
    code = (
        "import contextlib, io\n"
        "from typer.main import get_command\n"
        "from llmkit.cli.app import app\n"
        "group = get_command(app)\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):\n"
        "    group.main(['--help'], prog_name='llmkit')\n"
        f"print(sorted(n for n in group.commands if n in {sorted(GROUPS)!r}))\n"
        "print(out.getvalue())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    built, help_text = out.split("\n", 1)
    assert built == "[]"
    for name in GROUPS:
        assert f"\n  {name} " in help_text


def test_a_group_is_built_when_used(capsys: object) -> None:
    from llmkit.cli import main

    try:
        main(["prompts", "--help"])
    except SystemExit as e:
        assert e.code == 0
    assert "Usage: llmkit prompts" in capsys.readouterr().out  # type: ignore[attr-defined]
