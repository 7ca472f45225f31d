"""The ``llmkit`` command line: one command group per module, errors turned into exit codes here."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the Typer app, turning llmkit errors into a message and an exit code."""
    from llmkit.cli.app import app
    from llmkit.errors import LlmkitError

    try:
        app(args=argv, standalone_mode=False, prog_name="llmkit")
    except LlmkitError as e:
        _fail(f"error: {e.message}", e.hint, e.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", None, 130)
    except _click_errors() as e:
        e.show()
        sys.exit(e.exit_code)
    except BrokenPipeError:  # `llmkit search ... | head`
        sys.stderr.close()
        sys.exit(0)


def _click_errors() -> tuple[type[BaseException], ...]:
    import click

    return (click.ClickException,)


def _fail(message: str, hint: str | None, code: int) -> None:
    from llmkit.cli._common import err_console

    err_console().print(f"[bold red]{message}[/]", highlight=False, markup=True)
    if hint:
        err_console().print(f"[yellow]hint:[/] {hint}", highlight=False)
    sys.exit(code)
