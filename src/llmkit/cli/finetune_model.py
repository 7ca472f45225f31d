"""``llmkit finetune train | export | eval``: the chat model's LoRA loop (see docs/finetune.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from llmkit.cli._common import console, err_console, print_json


def register(app: typer.Typer) -> None:
    """Add ``train``, ``export`` and ``eval`` to the ``finetune`` group."""
    app.command("train")(train)
    app.command("export")(export)
    app.command("eval")(evaluate)


def _settings(ctx: typer.Context) -> Any:
    from llmkit.config import load_settings

    return load_settings((ctx.find_root().obj or {}).get("project"))


def train(
    ctx: typer.Context,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="TOML or YAML training config.")] = None,
    base: Annotated[str | None, typer.Option(help="Catalog name, .gguf file or Hugging Face model folder.")] = None,
    train_file: Annotated[Path | None, typer.Option("--train", help="Chat JSONL to train on.")] = None,
    val: Annotated[Path | None, typer.Option(help="Chat JSONL for validation (default: val.jsonl beside).")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Adapter folder.")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Optimizer steps (-1: run the epochs).")] = None,
    epochs: Annotated[float | None, typer.Option(help="Passes over the training data.")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Learning rate.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="KEY=VALUE config override (repeatable).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue this run from its last checkpoint.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Train over the adapter and checkpoints of another run in --output.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Train a LoRA adapter on chat JSONL (loss on assistant tokens only); prints the metrics."""
    from llmkit.finetune.lora import LoraTrainer
    from llmkit.finetune.train_config import load_train_config, parse_assignments

    flags = {"base": base, "train": _s(train_file), "val": _s(val), "output": _s(output), "max_steps": max_steps,
             "epochs": epochs, "learning_rate": lr, "seed": seed}  # fmt: skip
    cfg = load_train_config(config, {**parse_assignments(set_ or []), **flags})
    settings = _settings(ctx)
    result = LoraTrainer(cfg, models_dir=settings.models_dir).run(resume=resume, force=force, progress=not as_json)
    if as_json:
        print_json(result)
        return
    console().print(f"adapter: {result.adapter_dir}  ({result.steps} steps, {result.seconds:.1f} s, "
                    f"loss on {result.masking} tokens)")  # fmt: skip
    for key, value in result.metrics.items():
        console().print(f"  {key}: {value:.4f}")


def export(
    ctx: typer.Context,
    adapter: Annotated[Path, typer.Argument(help="Adapter folder written by `finetune train`.")],
    name: Annotated[str, typer.Option("--name", "-n", help="Catalog name prefix, e.g. support -> support-q8_0.")],
    quant: Annotated[
        list[str] | None,
        typer.Option("--quant", "-q", help="Q8_0, Q4_K_M ... (repeatable; F16 is always written)."),
    ] = None,
    template: Annotated[Path | None, typer.Option(help="GGUF of the base (needed for a HF-folder base).")] = None,
    no_register: Annotated[bool, typer.Option("--no-register", help="Write the files only.")] = False,
    no_measure: Annotated[bool, typer.Option("--no-measure", help="Skip perplexity per level.")] = False,
    calibration: Annotated[
        int, typer.Option(min=0, help="Training conversations for the importance matrix of Q4-Q6 levels (0: none).")
    ] = 128,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Merge the adapter, write GGUF, quantise, measure perplexity and register each level by name."""
    from llmkit.finetune.export import DEFAULT_LEVELS, Exporter

    levels = [q for item in (quant or DEFAULT_LEVELS) for q in item.split(",") if q.strip()]
    exporter = Exporter(adapter, name=name, levels=levels, template=template, models_dir=_settings(ctx).models_dir,
                        register=not no_register, measure=not no_measure, calibration=calibration)  # fmt: skip
    with err_console().status("merging, writing GGUF, quantising ..."):
        models = exporter.run()
    if as_json:
        print_json(models)
        return
    for m in models:
        ppl = f"  perplexity {m.perplexity:.3f}" if m.perplexity is not None else ""
        where = f"registered as {m.name}" if m.registered else str(m.path)
        console().print(f"{m.level:7} {m.size / 1e6:8.1f} MB{ppl}  {where}")


def evaluate(
    ctx: typer.Context,
    adapter: Annotated[Path, typer.Argument(help="Adapter folder (exported with `finetune export`).")],
    limit: Annotated[int, typer.Option(min=1, help="Validation conversations to use.")] = 32,
    metric: Annotated[str, typer.Option(help="Task metric: rouge_l, token_f1 or exact_match.")] = "rouge_l",
    level: Annotated[str, typer.Option(help="Which exported level answers for the tuned model.")] = "Q8_0",
    max_tokens: Annotated[int, typer.Option(min=1, help="Reply length for the task metric.")] = 64,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Base against tuned: validation loss and a task metric with 95 % intervals; perplexity per level."""
    from llmkit.finetune.evaluate import FinetuneEvaluator

    evaluator = FinetuneEvaluator(adapter, limit=limit, metric=metric, level=level, max_tokens=max_tokens,
                                  models_dir=_settings(ctx).models_dir)  # fmt: skip
    with err_console().status("evaluating base and tuned models ..."):
        result = evaluator.run()
    if as_json:
        print_json(result.scores())
        return
    for c in (result.loss, result.task):
        console().print(f"{c.metric:12} base {c.a:.4f}  tuned {c.b:.4f}  delta {c.delta:+.4f} "
                        f"[{c.low:+.4f}, {c.high:+.4f}]  n={c.n}")  # fmt: skip
    for key, value in result.perplexity.items():
        console().print(f"perplexity {key:7} {value:.3f}")


def _s(p: Path | None) -> str | None:
    return str(p) if p is not None else None
