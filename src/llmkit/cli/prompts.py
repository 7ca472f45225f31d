"""``llmkit prompts``: list, show, diff and label prompt versions; optimise a prompt against a metric."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from llmkit.cli._common import console, err_console, kit_from, print_json

app = typer.Typer(help="Prompt files: versions (content hashes), labels, diffs, optimisation.", rich_markup_mode=None)


@app.callback(invoke_without_command=True)
def _default(ctx: typer.Context) -> None:
    """Without a subcommand: the prompts (same as `prompts list`)."""
    if ctx.invoked_subcommand is None:
        list_(ctx)


@app.command("list")
def list_(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every prompt: name, current version, labels, where its file is."""
    from rich.table import Table
    from rich.text import Text

    with kit_from(ctx) as kit:
        infos = kit.prompts.list()
    if as_json:
        print_json(infos)
        return
    table = Table("name", "version", "labels", "source", "description")
    for p in infos:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(p.labels.items()))
        source = "built-in" if "/prompts/builtin/" in p.source.replace("\\", "/") else p.source
        table.add_row(*(Text(c) for c in (p.name, p.version, labels, source, p.description[:60])))
    console().print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME, NAME@LABEL or NAME@VERSION.")],
    versions: Annotated[bool, typer.Option("--versions", help="List the known versions instead.")] = False,
) -> None:
    """A prompt file as it is (front matter and template), or its versions."""
    from llmkit.prompts.registry import split_ref

    with kit_from(ctx) as kit:
        if versions:
            name = split_ref(ref)[0]
            labels = {v: k for k, v in kit.prompts.labels(name).items()}
            for v in kit.prompts.versions(name):
                console().print(f"{name}@{v}" + (f"  ({labels[v]})" if v in labels else ""), markup=False)
            return
        prompt = kit.prompts.get(ref)
    err_console().print(prompt.ref, style="dim", markup=False, highlight=False)
    console().print(prompt.text, markup=False, highlight=False)


@app.command("diff")
def diff(
    ctx: typer.Context,
    a: Annotated[str, typer.Argument(help="First version: NAME@VERSION or NAME@LABEL.")],
    b: Annotated[str, typer.Argument(help="Second version (a bare NAME is its current file).")],
) -> None:
    """Unified diff between two prompt versions."""
    with kit_from(ctx) as kit:
        text = kit.prompts.diff(a, b)
    console().print(text or "(same text)", markup=False, highlight=False)


@app.command("label")
def label(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME@VERSION (or NAME for the current file).")],
    name: Annotated[str, typer.Argument(help="The label, e.g. prod or staging.")],
) -> None:
    """Point a label at a version (the version is kept, so it resolves even after the file changes)."""
    with kit_from(ctx) as kit:
        prompt = kit.prompts.label(ref, name)
    console().print(f"{prompt.name}@{name} -> {prompt.version}", markup=False)


@app.command("optimize")
def optimize(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The prompt to improve (NAME, NAME@LABEL, NAME@VERSION).")],
    train: Annotated[Path, typer.Option(help="Train split: eval file, or a SQuAD/BEIR folder.")],
    dev: Annotated[Path | None, typer.Option(help="Dev split (default: the train file after the train items).")] = None,
    train_size: Annotated[int, typer.Option(min=1, help="Train items used.")] = 20,
    dev_size: Annotated[int, typer.Option(min=1, help="Dev items used.")] = 20,
    metric: Annotated[str, typer.Option(help="f1, exact_match or rouge_l.")] = "f1",
    budget: Annotated[int, typer.Option(min=1, help="Model calls at most.")] = 200,
    k: Annotated[int, typer.Option(min=0, max=16, help="Few-shot examples per candidate.")] = 2,
    seed: int = 0,
    label_as: Annotated[str, typer.Option("--label", help="Label for the new version.")] = "optimized",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Search few-shot sets and instruction variants on train, score on dev, keep the best as a new version."""
    from llmkit.errors import InputError
    from llmkit.evals import metrics as m
    from llmkit.evals.cache import CachedModel
    from llmkit.evals.dataset import load_any
    from llmkit.evals.runner import item_values
    from llmkit.evals.store import EvalStore
    from llmkit.prompts.optimize import Task
    from llmkit.prompts.optimize import optimize as run_optimize

    metrics = {"f1": m.token_f1, "exact_match": m.exact_match, "em": m.exact_match, "rouge_l": m.rouge_l}
    if metric not in metrics:
        raise InputError(f"unknown metric {metric!r}", hint=f"use one of {', '.join(metrics)}")
    items = load_any(train, limit=train_size + (0 if dev else dev_size))
    dev_items = load_any(dev, limit=dev_size) if dev else items[train_size:]
    tasks = [Task(item_values(i), i.references) for i in items[:train_size]]
    dev_tasks = [Task(item_values(i), i.references) for i in dev_items]
    with kit_from(ctx) as kit:
        prompt = kit.prompts.get(ref)
        model = CachedModel(kit.model, EvalStore(kit.settings.data_dir / "evals.db"))
        try:
            result = run_optimize(prompt, model, tasks, dev_tasks, metrics[metric], budget=budget, k=k, seed=seed)
        finally:  # replies are written every FLUSH_EVERY calls; keep the rest too, even after an error
            model.flush()
        if result.prompt is not None:
            kit.prompts.save(result.prompt)
            kit.prompts.label(result.prompt.ref, label_as)
    summary = {
        "prompt": prompt.ref, "metric": metric, "dev_items": len(dev_tasks), "baseline": result.baseline,
        "best": result.best.score, "new_version": result.prompt.ref if result.prompt else None,
        "trials": len(result.trials), "calls": result.calls, "model_calls": model.calls, "cached": model.hits,
    }  # fmt: skip
    if as_json:
        print_json(summary)
        return
    console().print(f"{prompt.ref}: dev {metric} {result.baseline:.4f} -> best {result.best.score:.4f} "
                    f"({len(result.trials)} candidates, {result.calls} calls, {model.hits} from cache)")  # fmt: skip
    if result.prompt:
        console().print(f"kept {result.prompt.ref} as {prompt.name}@{label_as}")
    else:
        console().print("no candidate beat the prompt as it is; nothing kept")
