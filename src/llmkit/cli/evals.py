"""``llmkit eval``: run suites, list and show runs, compare two runs (a CI gate), write reports, make test sets."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from llmkit.cli._common import console, err_console, kit_from, print_json, to_jsonable

if TYPE_CHECKING:
    from llmkit.evals.compare import GateFailure
    from llmkit.evals.runner import RunResult

app = typer.Typer(help="Evaluate pipelines: run suites, compare runs, gate CI on the results.", rich_markup_mode=None)

FailUnder = Annotated[
    list[str] | None, typer.Option("--fail-under", help="METRIC=VALUE: exit 1 when the mean is below (repeatable).")
]


@app.command("run")
def run(
    ctx: typer.Context,
    suite_path: Annotated[Path, typer.Argument(metavar="SUITE.yaml", help="The suite file.")],
    fail_under: FailUnder = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="HTML report path (default: .llmkit/reports/RUN.html).")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Use the first N items of the dataset.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Call the model even for cached prompts.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run as JSON.")] = False,
) -> None:
    """Run a suite: every metric with its 95 % bootstrap interval, stored in .llmkit/evals.db."""
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from llmkit.evals.compare import gate_fail_under, parse_thresholds
    from llmkit.evals.runner import runner_for_kit
    from llmkit.evals.suite import load_suite

    limits = parse_thresholds(fail_under or [], "--fail-under")
    suite = load_suite(suite_path)
    overrides = {"cache": False} if no_cache else {}
    if limit:
        overrides["dataset"] = suite.dataset.model_copy(update={"limit": limit})
    suite = suite.model_copy(update=overrides)
    with kit_from(ctx) as kit:
        runner = runner_for_kit(suite, kit)
        columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=err_console(), transient=True, disable=as_json) as bar:
            task = bar.add_task(escape(suite.name), total=None)
            result = runner.run(lambda done, total: bar.update(task, completed=done, total=total))
        report = report or kit.settings.data_dir / "reports" / f"{result.run.id}.html"
        _write_report(kit, result.run.id, report)
    if as_json:
        print_json(_finite(result.run))
    else:
        from llmkit.evals.report import print_summary

        print_summary(result.run, console())
        console().print(f"[dim]report: {escape(str(report))}[/]")
    _exit_on_errors(result)
    _exit_on(gate_fail_under(result.run.summary, limits))


@app.command("list")
def list_(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("-n", "--limit", min=1, max=10_000)] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Recent runs, newest first."""
    import time

    from rich.table import Table
    from rich.text import Text

    from llmkit.evals.store import EvalStore

    with kit_from(ctx) as kit:
        runs = EvalStore(kit.settings.data_dir / "evals.db").runs(limit=limit)
    if as_json:
        print_json(_finite(runs))
        return
    table = Table("id", "when", "suite", "items", "metrics")
    for r in runs:
        metrics = ", ".join(f"{m}={s['mean']:.3f}" for m, s in list(r.summary.items())[:4])
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created))
        table.add_row(*(Text(v) for v in (r.id, when, r.name, str(r.items), metrics)))
    console().print(table if runs else "no eval runs yet")


@app.command("show")
def show(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="Run id, a unique prefix, latest or latest~N.")] = "latest",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One run's metrics with their intervals, prompts, models and timings."""
    from llmkit.evals.report import print_summary
    from llmkit.evals.store import EvalStore

    with kit_from(ctx) as kit:
        store = EvalStore(kit.settings.data_dir / "evals.db")
        found = store.get_run(run_id)
        if as_json:
            print_json(_finite({"run": found, "rows": store.rows(found.id)}))
            return
    print_summary(found, console())


@app.command("compare")
def compare(
    ctx: typer.Context,
    base: Annotated[str, typer.Argument(help="Run A (the baseline): id, prefix or latest~1.")],
    new: Annotated[str, typer.Argument(help="Run B (the candidate).")] = "latest",
    max_regression: Annotated[
        list[str] | None,
        typer.Option("--max-regression", help="METRIC=DROP or DROP: exit 1 on a larger, significant drop."),
    ] = None,
    fail_under: FailUnder = None,
    report: Annotated[Path | None, typer.Option("--report", help="Write B's HTML report with the comparison.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """B against A per metric: delta, 95 % interval and p-value from a paired bootstrap over items."""
    from llmkit.evals.compare import compare_runs, gate_fail_under, gate_regression, parse_thresholds
    from llmkit.evals.report import html_report, print_comparison
    from llmkit.evals.store import EvalStore

    drops = parse_thresholds(max_regression or [], "--max-regression")
    floors = parse_thresholds(fail_under or [], "--fail-under")
    with kit_from(ctx) as kit:
        store = EvalStore(kit.settings.data_dir / "evals.db")
        a, b = store.get_run(base), store.get_run(new)
        rows_a, rows_b = store.rows(a.id), store.rows(b.id)
    from rich.markup import escape

    comparisons = compare_runs(a, rows_a, b, rows_b)
    for metric in comparisons.skipped:
        err_console().print(f"[yellow]warning:[/] {escape(metric)}: no item scored in both runs; not compared")
    if report:
        _write(report, html_report(b, rows_b, comparisons, a))
    if as_json:
        print_json(_finite([{**_as_dict(c), "significant": c.significant} for c in comparisons]))
    else:
        console().print(f"A = {a.id} ({a.name})   B = {b.id} ({b.name})", markup=False, highlight=False)
        print_comparison(comparisons, console())
    _exit_on(gate_regression(comparisons, drops) + gate_fail_under(b.summary, floors))


@app.command("report")
def report_(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="Run id, prefix or latest.")] = "latest",
    output: Annotated[Path, typer.Option("-o", "--output", help="HTML file to write.")] = Path("eval-report.html"),
) -> None:
    """Write a run's HTML report: tables, score histograms, and each item's prompt, passages, answer, verdicts."""
    with kit_from(ctx) as kit:
        _write_report(kit, run_id, output)
    console().print(f"wrote {output}", markup=False, highlight=False)


@app.command("synth")
def synth(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("-o", "--output", help="JSONL file to write.")],
    collection: Annotated[str | None, typer.Option("--collection", "-c")] = None,
    n: Annotated[int, typer.Option("-n", min=1, max=100_000, help="Questions wanted.")] = 20,
    seed: Annotated[int, typer.Option(help="Which chunks are drawn.")] = 0,
    prompt: Annotated[str, typer.Option(help="Prompt that writes a question.")] = "synth-question",
    max_calls: Annotated[int | None, typer.Option(min=1, help="Model calls at most (default 2n).")] = None,
) -> None:
    """Write a test set from a collection: a question per sampled chunk, the chunk as the reference."""
    from llmkit.evals.dataset import save_jsonl
    from llmkit.evals.synth import synthesize

    with kit_from(ctx) as kit:
        name = kit._existing(collection)
        items, dropped = synthesize(kit.store, name, kit.model, kit.prompts.get(prompt), n=n, seed=seed,
                                    max_calls=max_calls)  # fmt: skip
    save_jsonl(items, output)
    why = ", ".join(f"{k}: {v}" for k, v in dropped.items()) or "none"
    console().print(f"wrote {len(items)} items to {output} (dropped: {why})")


def _write_report(kit: object, run_id: str, output: Path) -> None:
    from llmkit.evals.report import html_report
    from llmkit.evals.store import EvalStore

    store = EvalStore(kit.settings.data_dir / "evals.db")  # type: ignore[attr-defined]
    found = store.get_run(run_id)
    _write(output, html_report(found, store.rows(found.id)))


def _write(output: Path, html: str) -> None:
    """Write a report, making its folder first."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(html, encoding="utf-8")


def _finite(value: Any) -> Any:
    """``value`` as JSON values, NaN and infinities as null (``evals.stats.finite``)."""
    from llmkit.evals.stats import finite

    return finite(to_jsonable(value))


def _exit_on_errors(result: RunResult) -> None:
    """Warn when model calls failed; exit with the failure's code (69, 75, 70) when every one did."""
    from collections import Counter

    from rich.markup import escape

    if not result.errors:
        return
    first = result.errors[0]
    err_console().print(
        f"[bold yellow]warning:[/] {len(result.errors)} of {len(result.rows)} items failed their model call "
        f"(first: {escape(type(first).__name__)}: {escape(first.message)})"
    )
    if result.all_failed:
        kind, _ = Counter(type(e) for e in result.errors).most_common(1)[0]
        err_console().print("[bold red]every item failed; the scores measure nothing[/]")
        raise typer.Exit(kind.exit_code)


def _as_dict(value: object) -> dict:
    import dataclasses

    return dataclasses.asdict(value)  # type: ignore[arg-type]


def _exit_on(failures: list[GateFailure]) -> None:
    from rich.markup import escape

    for f in failures:
        err_console().print(f"[bold red]gate failed:[/] {escape(f.metric)}: {escape(f.reason)}")
    if failures:
        raise typer.Exit(1)
