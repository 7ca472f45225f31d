"""``llmkit finetune embedder``: tune the embedder on (query, passage) pairs, export int8 ONNX, register it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from llmkit.cli._common import console, err_console, kit_from, print_json


def register(app: typer.Typer) -> None:
    app.command("embedder")(embedder)


def embedder(
    ctx: typer.Context,
    data: Annotated[
        Path | None, typer.Argument(help="BEIR folder (corpus, queries, qrels/) or eval-set file with contexts.")
    ] = None,
    from_collection: Annotated[
        str | None, typer.Option("--from-collection", help="Write questions from this collection's chunks instead.")
    ] = None,
    name: Annotated[str, typer.Option("--name", "-n", help="Catalog name of the tuned embedder.")] = "minilm-tuned",
    base: Annotated[
        str, typer.Option(help="Base model: catalog name or Hugging Face folder.")
    ] = "all-minilm-l6-v2-torch",
    config: Annotated[Path | None, typer.Option(help="TOML file with training settings (flags override).")] = None,
    split: Annotated[str, typer.Option(help="BEIR qrels split to train on.")] = "train",
    questions: Annotated[int, typer.Option(min=2, help="Questions to write with --from-collection.")] = 200,
    epochs: Annotated[float | None, typer.Option(help="Passes over the pairs [1].")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Pairs per batch; the others are negatives [32].")] = None,
    lr: Annotated[float | None, typer.Option(help="Learning rate [5e-5].")] = None,
    max_seq_length: Annotated[int | None, typer.Option(help="Tokens per text [256].")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for the split, shuffling and init [0].")] = None,
    heldout: Annotated[float | None, typer.Option(help="Share of queries held out for scoring [0.2].")] = None,
    eval_corpus: Annotated[
        int | None, typer.Option(help="Passages held-out queries are ranked against [2000].")
    ] = None,
    max_pairs: Annotated[int | None, typer.Option(help="Train on at most N pairs.")] = None,
    hard_negatives: Annotated[
        int | None, typer.Option(help="Mined negatives per pair, ranked by the base model over the corpus [0].")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default: .llmkit/finetune/NAME).")] = None,
    quantize: Annotated[bool, typer.Option(help="Weight-only int8 ONNX (a quarter of the float size).")] = True,
    register_model: Annotated[bool, typer.Option("--register/--no-register", help="Add it to the catalog.")] = True,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Contrastive tuning of the embedder (sentence-transformers; in-batch and mined negatives), then int8 ONNX.

    Afterwards set [embedder] name = "NAME" in llmkit.toml and run `llmkit collections reembed`.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from llmkit.errors import InputError
    from llmkit.finetune.embedder_run import finetune_embedder, load_config, pairs_from_collection, pairs_from_path

    if (data is None) == (from_collection is None):
        raise InputError("give either DATA (a BEIR folder or eval-set file) or --from-collection NAME, not both")
    cfg = load_config(config, epochs=epochs, batch_size=batch_size, learning_rate=lr, max_seq_length=max_seq_length,
                      seed=seed, heldout=heldout, eval_corpus=eval_corpus, max_pairs=max_pairs,
                      hard_negatives=hard_negatives)  # fmt: skip
    with kit_from(ctx) as kit:
        if from_collection is not None:
            pairs = pairs_from_collection(kit, from_collection, questions=questions, seed=cfg.seed)
        else:
            pairs = pairs_from_path(data, split=split)  # type: ignore[arg-type]
        columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=err_console(), transient=True, disable=as_json) as bar:
            task = bar.add_task("training", total=None)
            report = finetune_embedder(
                kit.settings, pairs, name=name, base=base, config=cfg, out_dir=out, quantize=quantize,
                register=register_model, progress=lambda _s, done, total: bar.update(task, completed=done, total=total),
            )  # fmt: skip
    if as_json:
        print_json({"name": report.name, "registered": report.registered, "model": str(report.export.model),
                    "lineage": report.lineage})  # fmt: skip
        return
    _print(report)


def _print(report: Any) -> None:
    from rich.table import Table

    t = report.tune
    table = Table("held-out metric", "before", "after", title=f"{len(t.heldout_queries)} held-out queries")
    for key in t.after:
        if key != "queries":
            table.add_row(key, f"{t.before.get(key, float('nan')):.4f}", f"{t.after[key]:.4f}")
    console().print(table)
    console().print(
        f"trained on {t.pairs} pairs ({len(t.train_queries)} queries) in {t.seconds:.0f}s;"
        f" ONNX {report.export.model} (min cosine to torch {report.export.min_cosine:.4f})"
    )
    if report.registered:
        console().print(
            f'registered embedder {report.name!r}: set [embedder] name = "{report.name}" in llmkit.toml,'
            " then `llmkit collections reembed`"
        )
