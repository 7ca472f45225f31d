"""``llmkit finetune``: adapt models to a domain (each part registers its commands from its own module)."""

from __future__ import annotations

import typer

from llmkit.cli import finetune_embedder

app = typer.Typer(help="Adapt models: prepare data, tune the generator or the embedder, export.", rich_markup_mode=None)
finetune_embedder.register(app)
