"""``llmkit finetune``: prepare data, train LoRA adapters, export and quantise, measure."""

from __future__ import annotations

import typer

from llmkit.cli import finetune_model

app = typer.Typer(
    help="Adapt the models: LoRA training, merge, GGUF export, quantisation, evaluation.", rich_markup_mode=None
)
finetune_model.register(app)
