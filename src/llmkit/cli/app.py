"""The root ``llmkit`` app: global options, and the command groups registered from their modules."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from llmkit import __version__
from llmkit.cli import agent, ask, ingest, init, search, serve
from llmkit.cli.lazy import LazyGroup

app = typer.Typer(
    name="llmkit",
    cls=LazyGroup,  # command groups (models, eval, ...) are built when used, not for every --help
    help="The LLM engineer's working loop, local-first: ingest, search, ask, chat, models, traces.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich help formatting costs ~250 ms at every --help
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"llmkit {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    project: Annotated[
        Path | None, typer.Option("--project", "-C", help="Project folder (default: nearest llmkit.toml).")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Chat model: catalog name, .gguf path or remote id.")] = None,
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint for the chat model.")] = None,
    lora: Annotated[str | None, typer.Option(help="LoRA adapter applied at run time: catalog name or .gguf.")] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Global options come before the command: llmkit -C myproject ask "..."."""
    section = {k: v for k, v in {"name": model, "base_url": base_url, "lora": lora}.items() if v is not None}
    ctx.obj = {"project": project, **({"model": section} if section else {})}


app.command("init")(init.init)
app.command("ingest")(ingest.ingest)
app.command("search")(search.search)
app.command("ask")(ask.ask)
app.command("chat")(ask.chat)
app.command("agent")(agent.agent)
app.command("serve")(serve.serve)
