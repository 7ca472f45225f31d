"""``llmkit finetune``: adapt models to a domain (each part registers its commands from its own module)."""

from __future__ import annotations

import typer

from llmkit.cli import finetune_embedder

app = typer.Typer(
    help="Adapt models: prepare data, tune the generator or the embedder, export.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


@app.callback()
def _group() -> None:
    """Keeps ``finetune`` a command group even while it holds a single command."""


finetune_embedder.register(app)
