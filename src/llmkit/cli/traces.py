"""``llmkit traces``: what was sent to the model, what came back, tokens and latency."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from llmkit.cli._common import console, kit_from, print_json

app = typer.Typer(help="List and show traces of model calls.", rich_markup_mode=None)


@app.callback(invoke_without_command=True)
def _default(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("-n", "--limit", min=1, max=10_000)] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Without a subcommand: the most recent traces (same as `traces list`)."""
    if ctx.invoked_subcommand is None:
        list_(ctx, limit, as_json)


@app.command("list")
def list_(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("-n", "--limit", min=1, max=10_000)] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Most recent traces first."""
    from rich.markup import escape
    from rich.table import Table

    with kit_from(ctx) as kit:
        traces = kit.traces(limit=limit)
    if as_json:
        print_json([t.to_dict() for t in traces])
        return
    if not traces:
        console().print("no traces yet")
        return
    table = Table("id", "when", "kind", "model", "tokens in/out", "cost $", "ms", "output")
    for t in traces:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t.created))
        out = t.error or " ".join((t.output or "").split())
        tokens = f"{_count(t.usage.prompt_tokens)}/{_count(t.usage.completion_tokens)}"
        ms = f"{t.latency_ms:.0f}" if t.latency_ms is not None else "?"
        cost = t.attributes.get("cost_usd")
        cells = (t.id[:12], when, t.kind, t.model, tokens, "?" if cost is None else f"{cost:.6f}", ms, out[:60])
        table.add_row(*(escape(c) for c in cells))
    console().print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    trace_id: Annotated[str, typer.Argument(help="Trace id or a unique prefix of it.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One trace in full: the prompt as sent, parameters, output, usage, attributes."""
    from rich.markup import escape

    with kit_from(ctx) as kit:
        t = kit.trace(trace_id)
    if as_json:
        print_json(t.to_dict())
        return
    out = console()
    out.print(f"[bold]trace {escape(t.id)}[/]  {escape(t.kind)} · {escape(t.model)} · {t.latency_ms or 0:.0f} ms")
    out.print(f"params: {escape(str(t.params))}")
    out.print(f"usage: {t.usage.prompt_tokens} prompt + {t.usage.completion_tokens} completion tokens")
    for key, value in t.attributes.items():
        out.print(f"{escape(key)}: {escape(str(value))}")
    for m in t.messages:
        out.rule(escape(m.role))
        out.print(escape(m.content))
    out.rule(escape("output" + (f" ({t.finish_reason})" if t.finish_reason else "")))
    out.print(escape(t.output or "") if not t.error else f"[red]{escape(t.error)}[/]")


def _count(tokens: int | None) -> str:
    """A token count, or ``?`` when the backend did not report one (0 is a count).

    >>> _count(0), _count(None)
    ('0', '?')
    """
    return "?" if tokens is None else str(tokens)
