"""``llmkit finetune``: adapt a model to a domain (each command lives in its own ``finetune_*`` module)."""

from __future__ import annotations

import typer

from llmkit.cli import finetune_data, finetune_embedder, finetune_model

app = typer.Typer(
    help="Adapt the models: prepare data, train LoRA adapters, export and quantise, tune the embedder, measure.",
    rich_markup_mode=None,
)


@app.callback()
def _group() -> None:
    """Adapt the models: prepare data, train LoRA adapters, export and quantise, tune the embedder, measure."""


finetune_data.register(app)
finetune_model.register(app)
finetune_embedder.register(app)
