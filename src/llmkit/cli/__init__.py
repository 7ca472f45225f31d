"""The ``llmkit`` command line: one command group per module, errors turned into exit codes here."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the Typer app; llmkit errors become a message, a hint and an exit code."""
    from llmkit.cli.app import app
    from llmkit.errors import LlmkitError

    try:
        app(args=argv, prog_name="llmkit")  # standalone: usage errors and typer.Exit end the process
    except LlmkitError as e:
        _fail(f"error: {e.message}", e.hint, e.exit_code)
    except BrokenPipeError:  # `llmkit search ... | head`
        sys.stderr.close()
        sys.exit(0)


def _fail(message: str, hint: str | None, code: int) -> None:
    from rich.markup import escape

    from llmkit.cli._common import err_console

    err_console().print(f"[bold red]{escape(message)}[/]")
    if hint:
        err_console().print(f"[yellow]hint:[/] {escape(hint)}")
    sys.exit(code)
