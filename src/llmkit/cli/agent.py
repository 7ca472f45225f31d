"""``llmkit agent "task"``: run the tool-calling agent, printing each step as it happens."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from llmkit.cli._common import console, err_console, kit_from, print_json

if TYPE_CHECKING:
    from llmkit.agents.loop import Step
    from llmkit.agents.tools import Tool
    from llmkit.types import ToolCall


def agent(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="What the agent should do.")],
    tools: Annotated[
        str | None, typer.Option("--tools", "-t", help="Comma-separated: calculator,retrieval,sql,python,http,files.")
    ] = None,
    mcp: Annotated[list[str] | None, typer.Option("--mcp", help="MCP server: a command line or http(s) URL.")] = None,
    max_steps: Annotated[int | None, typer.Option(min=1, help="Most model calls.")] = None,
    max_tokens: Annotated[int | None, typer.Option(min=1, help="Most prompt + completion tokens.")] = None,
    max_seconds: Annotated[float | None, typer.Option(min=0.1, help="Most wall-clock seconds.")] = None,
    allow: Annotated[list[str] | None, typer.Option(help="Let this tool with side effects run unasked.")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Let every tool with side effects run unasked.")] = False,
    allow_host: Annotated[list[str] | None, typer.Option(help="Host the http tool may fetch from.")] = None,
    allow_dir: Annotated[list[str] | None, typer.Option(help="Folder the files tool may read.")] = None,
    sql: Annotated[list[str] | None, typer.Option(help="SQLite file or CSV file for the sql tool.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole result as JSON at the end.")] = False,
) -> None:
    """Let the model call tools until it answers or a budget runs out; each step is printed as it happens."""
    from llmkit.agents.project import project_agent

    section = {
        "tools": tuple(tools.split(",")) if tools is not None else None,
        "mcp": tuple(mcp) if mcp else None,
        "max_steps": max_steps,
        "max_tokens": max_tokens,
        "max_seconds": max_seconds,
        "allow": tuple(allow) if allow else None,
        "allow_hosts": tuple(allow_host) if allow_host else None,
        "allow_dirs": tuple(allow_dir) if allow_dir else None,
        "sql": tuple(sql) if sql else None,
    }
    overrides = {k: v for k, v in section.items() if v is not None}
    with (
        kit_from(ctx, agent=overrides or None) as kit,
        project_agent(kit, confirm=_confirm, allow_side_effects=yes) as a,
    ):
        run = a.iter(task)
        for step in run:
            if not as_json:
                _show(step)
    if as_json:
        print_json(run.result)


def _show(step: Step) -> None:
    from rich.markup import escape

    out = console()
    if step.kind == "model":
        if step.text.strip() and step.tool_calls:
            out.print(f"[dim]step {step.index + 1} · thinking:[/] {escape(step.text.strip())}")
        for call in step.tool_calls:
            out.print(f"[bold cyan]→ {escape(call.name)}[/]({escape(call.arguments)})")
    elif step.kind == "tool" and step.result is not None:
        style = "red" if step.result.is_error else "green"
        text = step.result.content if len(step.result.content) < 400 else step.result.content[:400] + " …"
        out.print(f"[{style}]← {escape(text)}[/] [dim]({step.seconds:.2f}s)[/]")
    elif step.kind == "stop":
        if step.text:
            out.print(step.text, markup=False, soft_wrap=True)
        err_console().print(f"[dim]stopped: {step.reason} after {step.seconds:.1f}s[/]")


def _confirm(tool: Tool, call: ToolCall) -> bool:
    """Ask on the terminal; with no terminal the answer is no (use --allow or --yes)."""
    if not sys.stdin.isatty():
        err_console().print(f"[yellow]refused {tool.name}: it has side effects; pass --allow {tool.name}[/]")
        return False
    return typer.confirm(f"Run {tool.name}({call.arguments})? It has side effects", default=False)
