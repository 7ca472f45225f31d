"""``llmkit finetune``: adapt a model to a domain (each command lives in its own ``finetune_*`` module)."""

from __future__ import annotations

import typer

from llmkit.cli import finetune_data, finetune_embedder

app = typer.Typer(help="Fine-tune: prepare data, train LoRA adapters, export and measure.", rich_markup_mode=None)


@app.callback()
def _group() -> None:
    """Fine-tune: prepare data, train LoRA adapters, export and measure."""


finetune_data.register(app)
finetune_embedder.register(app)
