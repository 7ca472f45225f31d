"""``llmkit models``: the per-user model catalog (pull, list, show, rm)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from llmkit.cli._common import console, err_console, print_json

app = typer.Typer(help="Pull, list and remove model files (kept once per user in LLMKIT_HOME).", rich_markup_mode=None)


def _catalog(ctx: typer.Context):
    from llmkit.config import load_settings
    from llmkit.models.catalog import Catalog

    return Catalog.from_settings(load_settings((ctx.find_root().obj or {}).get("project")))


@app.callback(invoke_without_command=True)
def _default(
    ctx: typer.Context,
    available: Annotated[bool, typer.Option("--available", help="Show catalog entries, pulled or not.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Without a subcommand: list pulled models (same as `models list`)."""
    if ctx.invoked_subcommand is None:
        list_(ctx, available, as_json)


@app.command("list")
def list_(
    ctx: typer.Context,
    available: Annotated[bool, typer.Option("--available", help="Show catalog entries, pulled or not.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Models pulled to this machine (or, with --available, all catalog entries)."""
    from rich.table import Table

    catalog = _catalog(ctx)
    rows = catalog.entries() if available else catalog.list_local()
    if as_json:
        print_json(rows)
        return
    if not rows:
        console().print("no models pulled yet: llmkit models pull smollm2-135m-instruct")
        return
    table = Table(*(["name", "kind", "source"] if available else ["name", "kind", "size", "path"]))
    for r in rows:
        if available:
            table.add_row(r.name, r.kind, getattr(r, "source", "") or "")
        else:
            table.add_row(r.name, r.kind, f"{r.size / 1e6:.1f} MB", str(r.path))
    console().print(table)


@app.command("pull")
def pull(
    ctx: typer.Context,
    names: Annotated[list[str], typer.Argument(help="Catalog names (see `llmkit models list --available`).")],
    force: Annotated[bool, typer.Option("--force", help="Download again even if present.")] = False,
) -> None:
    """Fetch model files, check their sha256 and store them."""
    catalog = _catalog(ctx)
    for name in names:
        err_console().print(f"pulling {name} …", style="dim")
        path = catalog.pull(name, force=force)
        console().print(f"[green]✓[/] {name} → {path}")


@app.command("show")
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A catalog name (pulled or registered).")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A model's files, where they came from, and its lineage (dataset, base, config, scores)."""
    info = _catalog(ctx).describe(name)
    if as_json:
        print_json(info)
        return
    out = console()
    state = "[green]local[/]" if info["pulled"] else "[yellow]not pulled[/]"
    out.print(f"[bold]{info['name']}[/] ({info['kind']}, {state}) {info['description']}")
    if info["path"]:
        out.print(f"path: {info['path']}")
    for f in info["files"]:
        size = f"{f['size'] / 1e6:.1f} MB" if f["size"] else "?"
        out.print(f"  {f['role']:<10} {f['filename']}  {size}  sha256 {f['sha256'][:16]}…  from {f['source']}")
    for key, value in info["lineage"].items():
        out.print(f"{key}: {value if isinstance(value, str) else json.dumps(value)}", markup=False, highlight=False)


@app.command("rm")
def rm(ctx: typer.Context, name: Annotated[str, typer.Argument(help="A pulled model's name.")]) -> None:
    """Remove a pulled model's files."""
    _catalog(ctx).rm(name)
    console().print(f"removed {name}")
