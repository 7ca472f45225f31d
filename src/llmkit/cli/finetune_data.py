"""``llmkit finetune prepare``: turn chat JSONL, Alpaca records and traces into a checked training set."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from llmkit.cli._common import console, err_console, print_json

if TYPE_CHECKING:
    from llmkit.finetune.card import DatasetCard


def register(app: typer.Typer) -> None:
    """Add ``prepare`` to the ``finetune`` group."""
    app.command("prepare")(prepare)


def prepare(
    ctx: typer.Context,
    data: Annotated[
        list[str],
        typer.Argument(
            metavar="DATA...",
            help="Chat JSONL (OpenAI format), Alpaca JSON/JSONL, or `traces` (this project's trace store) "
            "/ `traces:PATH`.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write (must not exist, unless --force).")],
    base: Annotated[
        str | None,
        typer.Option(help="Base model: catalog name, .gguf path or Hugging Face folder (default: [model] name)."),
    ] = None,
    val: Annotated[float, typer.Option("--val", min=0.0, max=0.9, help="Fraction held out for validation.")] = 0.1,
    seed: Annotated[int, typer.Option(help="Seed of the train/validation split.")] = 0,
    max_tokens: Annotated[
        int | None, typer.Option(min=8, help="Longest record kept, in tokens (default: the base's context window).")
    ] = None,
    near_dup: Annotated[
        float, typer.Option(min=0.01, max=1.0, help="Similarity (Jaccard, word 3-grams) that makes a near duplicate.")
    ] = 0.8,
    redact: Annotated[bool, typer.Option("--redact", help="Mask the PII found (e.g. <EMAIL_ADDRESS>).")] = False,
    since: Annotated[
        str | None, typer.Option(help="For `traces`: only calls since this age (24h, 7d) or date (2026-01-31).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace --out if it exists.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the dataset card as JSON.")] = False,
) -> None:
    """Check, de-duplicate, PII-flag, measure and split DATA; write train/val/rejected JSONL and card.json."""
    from llmkit.config import load_settings
    from llmkit.finetune.data import prepare_dataset
    from llmkit.finetune.from_traces import parse_since

    settings = load_settings((ctx.find_root().obj or {}).get("project"))
    with err_console().status("preparing the dataset ...", spinner="dots") if not as_json else _nothing():
        result = prepare_dataset(
            data, base=base or settings.model.name, out_dir=out, val_fraction=val, seed=seed, max_tokens=max_tokens,
            near_dup_threshold=near_dup, redact=redact, since=parse_since(since), overwrite=force,
            models_dir=settings.models_dir, traces_path=settings.traces_path,
        )  # fmt: skip
    if as_json:
        print_json(result.card.to_dict())
    else:
        show_card(result.card, result.folder)


def _nothing():
    from contextlib import nullcontext

    return nullcontext()


def show_card(card: DatasetCard, folder: Path) -> None:
    """The card as Rich tables: counts, token lengths, refusals by reason, PII by type."""
    from rich.table import Table

    counts = Table("records", "n", title=f"dataset {folder}", title_justify="left")
    rows = {
        "read": card.records_in, "kept": card.kept, "  train": card.train, "  val": card.val,
        "refused": card.rejected, "  exact duplicates": card.exact_duplicates,
        "  near duplicates": card.near_duplicates, "PII flagged (kept)": card.pii_flagged,
    }  # fmt: skip
    for label, n in rows.items():
        counts.add_row(label, str(n))
    console().print(counts)
    tokens = Table("tokens", "count", "min", "p50", "p95", "max", "mean", "total", title=f"tokens ({card.base})")
    for label, s in (("all", card.tokens), ("train", card.tokens_train), ("val", card.tokens_val)):
        if s is not None:
            tokens.add_row(label, *(str(v) for v in (s.count, s.min, s.p50, s.p95, s.max, s.mean, s.total)))
    console().print(tokens)
    if card.rejected_by_reason:
        reasons = Table("refused because", "n")
        for code, n in card.rejected_by_reason.items():
            reasons.add_row(code, str(n))
        console().print(reasons)
    if card.pii_by_type:
        verb = "masked" if card.redacted else "kept; --redact masks them"
        console().print("PII: " + ", ".join(f"{t} {n}" for t, n in card.pii_by_type.items()) + f" ({verb})")
    console().print(f"[dim]sha256 {card.sha256}  max {card.max_tokens} tokens  seed {card.seed}[/]")
