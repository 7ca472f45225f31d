"""``llmkit store``: bring a store's schema up to date; copy collections between SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from llmkit.cli._common import console, err_console, print_json

if TYPE_CHECKING:
    from llmkit.store.base import Store

app = typer.Typer(help="Migrate a store's schema; copy collections between stores.", rich_markup_mode=None)

_URL_HELP = "A SQLite path or sqlite:///path, or postgresql://user@host/db."


def _open(ctx: typer.Context, url: str | None, *, must_exist: bool = False) -> Store:
    """The store at ``url`` (a path relative to the current folder), else the project's configured store.

    With ``must_exist``, a SQLite store that is not there is ``NotFound`` rather than created empty.
    """
    from llmkit.config import load_settings
    from llmkit.errors import NotFound
    from llmkit.kit import open_store

    project = (ctx.find_root().obj or {}).get("project")
    if url is None:
        return open_store(load_settings(project))
    if "://" not in url:
        url = str(Path(url).expanduser().resolve())
    settings = load_settings(project, store={"url": url})
    if must_exist and (url.startswith("sqlite:///") or "://" not in url):
        path = settings.resolve(url.removeprefix("sqlite:///"))
        if not path.is_file():
            raise NotFound(f"no store at {path}", hint="check the path; copy reads an existing store")
    return open_store(settings)


@app.command("migrate")
def migrate(
    ctx: typer.Context,
    url: Annotated[str | None, typer.Argument(help=f"{_URL_HELP} Default: the project's store.")] = None,
) -> None:
    """Create or upgrade the store's schema (migrations are versioned and append-only)."""
    store = _open(ctx, url)
    try:
        if hasattr(store, "migrate"):
            before, after = store.migrate()
            said = "up to date" if before == after else f"migrated from version {before}"
            console().print(f"{getattr(store, 'where', url)}: schema version {after} ({said})", soft_wrap=True)
        else:  # SQLite migrates when it opens
            store.list_collections()
            console().print(f"{getattr(store, 'path', url)}: schema up to date")
    finally:
        store.close()


@app.command("copy")
def copy(
    ctx: typer.Context,
    src: Annotated[str, typer.Argument(help=f"Store to copy from. {_URL_HELP}")],
    dst: Annotated[str, typer.Argument(help=f"Store to copy into. {_URL_HELP}")],
    collection: Annotated[
        list[str] | None, typer.Option("--collection", "-c", help="Collection to copy (repeatable; default: all).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the reports as JSON.")] = False,
) -> None:
    """Copy collections with their vectors (no re-embedding). Safe to re-run: finished documents are skipped."""
    from llmkit.store.transfer import copy_collection

    source = _open(ctx, src, must_exist=True)
    target = _open(ctx, dst)
    try:
        names = collection or [c.name for c in source.list_collections()]
        reports = []
        for name in names:
            progress = None if as_json else _progress(name)
            reports.append(copy_collection(source, target, name, progress=progress))
    finally:
        source.close()
        target.close()
    if as_json:
        print_json(reports)
        return
    for r in reports:
        console().print(
            f"{r.collection}: {r.copied} documents copied ({r.chunks} chunks), {r.skipped} already there",
            soft_wrap=True,
        )


def _progress(name: str) -> Any:
    def show(done: int, total: int) -> None:
        err_console().print(f"{name}: {done}/{total} documents", end="\r")

    return show
