"""``llmkit guard``: check a text with the project's guards, and train the injection classifier and name tagger."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from llmkit.cli._common import console, err_console, print_json

if TYPE_CHECKING:
    from llmkit.config import Settings
    from llmkit.guards.base import Verdict

app = typer.Typer(
    help="Guardrails: check text, train the injection classifier and the name tagger.", rich_markup_mode=None
)
DEFAULT_INPUT = ("pii", "injection", "denylist", "length")
DEFAULT_OUTPUT = ("pii", "denylist", "leakage", "grounded", "length")
BLOCKED_EXIT = 3
MAX_BYTES = 10_000_000


class Stage(StrEnum):
    input = "input"
    passage = "passage"
    tool = "tool"
    output = "output"


def _read(source: str) -> str:
    from llmkit.errors import InputError

    if source == "-" or (len(source) < 4096 and "\n" not in source and Path(source).is_file()):
        if source == "-":
            data, name = sys.stdin.buffer.read(MAX_BYTES + 1), "the standard input"
        elif Path(source).stat().st_size > MAX_BYTES:
            raise InputError(f"{source} is larger than {MAX_BYTES // 1_000_000} MB")
        else:
            data, name = Path(source).read_bytes(), source
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InputError(f"{name} is not UTF-8 text") from None
    else:
        text = source
    if len(text) > MAX_BYTES:
        raise InputError(f"the text is larger than {MAX_BYTES // 1_000_000} MB")
    if not text.strip():
        raise InputError("nothing to check: the text is empty")
    return text


def _settings(ctx: typer.Context, guards: str | None, stage: Stage) -> Settings:
    """The project's settings; ``--guards`` (or, with none configured, the defaults) fill the stage checked."""
    from llmkit.config import load_settings

    opts = dict(ctx.find_root().obj or {})
    base = load_settings(opts.get("project"))
    g = base.guards
    key = {"input": "input", "passage": "passages", "tool": "passages", "output": "output"}[stage.value]
    names = tuple(n.strip() for n in guards.split(",") if n.strip()) if guards is not None else getattr(g, key)
    if not names:
        names = DEFAULT_OUTPUT if stage is Stage.output else DEFAULT_INPUT
    return load_settings(opts.get("project"), guards={**g.model_dump(), key: names})


@app.command("check")
def check(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="The text, a file holding it, or - for stdin.")],
    stage: Annotated[
        Stage, typer.Option(help="Check as the user's message, a passage, tool output or an answer.")
    ] = Stage.input,
    guards: Annotated[
        str | None, typer.Option(help="Comma-separated guards (default: the project's for the stage).")
    ] = None,
    passages: Annotated[
        list[Path] | None, typer.Option("--passage", help="For --stage output: a passage file (repeat).")
    ] = None,
    system_prompt: Annotated[str | None, typer.Option(help="For --stage output: the system prompt (leakage).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
) -> None:
    """Run the guards on TEXT and print the verdict. Exit status 3 when a guard blocks it."""
    from llmkit.guards.pipeline import GuardPipeline

    body = _read(text)
    pipeline = GuardPipeline.from_settings(_settings(ctx, guards, stage))
    if stage is Stage.output:
        texts = [_read(str(p)) for p in passages or ()]
        verdict = pipeline.check_output(body, passages=texts, system_prompt=system_prompt)
    else:
        verdict = pipeline.check_input(body, kind="user" if stage is Stage.input else stage.value)
    if as_json:
        print_json({**verdict.to_dict(), "text": verdict.text})
    else:
        _show(verdict)
    if verdict.blocked:
        raise typer.Exit(BLOCKED_EXIT)


def _show(verdict: Verdict) -> None:
    from rich.markup import escape

    colour = {"allow": "green", "flag": "yellow", "redact": "cyan", "block": "red"}[verdict.action]
    console().print(f"[bold {colour}]{verdict.action}[/]")
    for f in verdict.findings:
        where = f" at {f.start}-{f.end}" if f.start is not None else ""
        console().print(f"  {escape(f.guard)}: {escape(f.reason)}{where}")
    if verdict.action == "redact":
        console().print(escape(verdict.text), markup=False)
    timings = ", ".join(f"{k} {v:.1f} ms" for k, v in verdict.timings_ms.items())
    err_console().print(f"[dim]{timings}[/]")


@app.command("train-injection")
def train_injection(
    data: Annotated[
        Path, typer.Argument(help='JSONL of {"text": ..., "label": 0|1} (e.g. deepset prompt injections).')
    ],
    out: Annotated[
        Path | None, typer.Option(help="Where to write the model (.npz); default: the shipped model's path.")
    ] = None,
    benign: Annotated[
        Path | None, typer.Option(help="JSONL of benign texts (text, or GSM8K question/answer) added as negatives.")
    ] = None,
    benign_limit: Annotated[int | None, typer.Option(min=1, help="Use the first N lines of --benign.")] = None,
    cv: Annotated[bool, typer.Option(help="Report stratified k-fold cross-validation first.")] = True,
    folds: Annotated[int, typer.Option(min=2, max=20)] = 5,
    repeats: Annotated[int, typer.Option(min=1, max=20, help="Cross-validation repeats with new shuffles.")] = 3,
    threshold: Annotated[float, typer.Option(min=0.01, max=1.0, help="Decision threshold for the report.")] = 0.5,
) -> None:
    """Train the injection classifier (hashed n-grams + heuristic rules, logistic regression)."""
    from importlib import resources

    from llmkit.errors import InputError
    from llmkit.guards import injection

    target = out or Path(str(resources.files("llmkit.guards") / "data" / "injection.npz"))
    if target.suffix != ".npz":
        raise InputError(f"{target}: the model file name must end in .npz")
    examples = injection.load_examples(data)
    extra = injection.load_benign(benign, benign_limit) if benign else []
    if cv:
        if min(sum(1 for _, y in examples if y == c) for c in (0, 1)) < folds:
            raise InputError(f"each label needs at least {folds} examples for {folds}-fold cross-validation")
        r = injection.cross_validate(examples, benign=extra, k=folds, repeats=repeats, threshold=threshold)
        console().print(
            f"{folds}-fold x {repeats} cross-validation on {len(examples)} examples (+{len(extra)} benign):"
        )
        for name in ("precision", "recall", "f1"):
            mean, sd = r[name]
            console().print(f"  {name:<9} {mean:.4f} ± {sd:.4f}")
    model = injection.train(examples, benign=extra)
    target.parent.mkdir(parents=True, exist_ok=True)
    model.save(target)
    console().print(f"wrote {target} ({target.stat().st_size // 1024} KiB)")


@app.command("train-names")
def train_names(
    data: Annotated[Path, typer.Argument(help="presidio-synth-pii style JSONL (full_text, spans, template_id).")],
    out: Annotated[
        Path | None, typer.Option(help="Where to write the model (.npz); default: the shipped model's path.")
    ] = None,
    cv: Annotated[bool, typer.Option(help="Report cross-validation grouped by template_id first.")] = True,
    folds: Annotated[int, typer.Option(min=2, max=20)] = 5,
) -> None:
    """Train the tagger of person names and places (CRFs over spaCy tokens, MiniLM and SmolLM2 token states;
    extra 'ner'). Places are the data's GPE (or LOCATION) spans."""
    from llmkit.errors import InputError
    from llmkit.guards import name_tagger, name_training

    target = out or name_tagger.NameTagger().model_path
    if target.suffix != ".npz":
        raise InputError(f"{target}: the model file name must end in .npz")
    examples = name_training.load_examples(data)
    lm = name_tagger.catalog_lm()
    prepared = name_training.prepare(examples, name_training.load_spacy(), name_tagger.catalog_encoder(), lm)
    if cv:
        found = name_training.cross_predict(prepared, [e.group for e in examples], folds)
        console().print(f"{folds}-fold cross-validation grouped by template, {len(examples)} texts (P / R / F1):")
        for kind, gold, pred in (
            ("names", [e.spans for e in examples], [f.names for f in found]),
            ("places", [e.places for e in examples], [f.places for f in found]),
        ):
            for relaxed in (False, True):
                scores = " / ".join(f"{x:.4f}" for x in name_training.span_scores(gold, pred, relaxed=relaxed))
                console().print(f"  {kind:<6} {'relaxed' if relaxed else 'strict':<8} {scores}")
    model = name_tagger.train(prepared, lm=lm.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    model.save(target)
    console().print(f"wrote {target} ({target.stat().st_size // 1024} KiB)")
