"""``llmkit collections``: list and delete collections, list a collection's documents, re-embed one."""

from __future__ import annotations

from typing import Annotated

import typer

from llmkit.cli._common import console, kit_from, print_json

app = typer.Typer(help="List and delete collections and their documents.", no_args_is_help=False, rich_markup_mode=None)


@app.callback(invoke_without_command=True)
def _default(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Without a subcommand: list collections (same as `collections list`)."""
    if ctx.invoked_subcommand is None:
        list_(ctx, as_json)


@app.command("list")
def list_(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Collections with their embedder and counts."""
    from rich.table import Table

    with kit_from(ctx) as kit:
        infos = kit.collections()
    if as_json:
        print_json(infos)
        return
    if not infos:
        console().print("no collections yet: llmkit ingest PATH")
        return
    table = Table("collection", "documents", "chunks", "embedder", "dim")
    for c in infos:
        table.add_row(c.name, str(c.documents), str(c.chunks), c.embedder, str(c.dim))
    console().print(table)


@app.command("docs")
def docs(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Collection (default: the configured one).")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 100,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Documents in a collection."""
    from rich.table import Table

    with kit_from(ctx) as kit:
        documents = kit.documents(name, limit=limit)
    if as_json:
        print_json(documents)
        return
    table = Table("id", "source", "type", "chunks")
    for d in documents:
        table.add_row(d.id, d.source, d.content_type, str(d.chunk_count))
    console().print(table)


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Collection to delete.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a collection and everything in it."""
    if not yes and not typer.confirm(f"delete collection {name!r} and all its documents?"):
        raise typer.Exit(1)
    with kit_from(ctx) as kit:
        kit.delete_collection(name)
    console().print(f"deleted {name}")


@app.command("rm-doc")
def rm_doc(
    ctx: typer.Context,
    doc_id: Annotated[str, typer.Argument(help="Document id (see `llmkit collections docs`).")],
    collection: Annotated[str | None, typer.Option("--collection", "-c")] = None,
) -> None:
    """Delete one document and its chunks."""
    from llmkit.errors import NotFound

    with kit_from(ctx) as kit:
        if not kit.delete_document(doc_id, collection):
            raise NotFound(f"no document {doc_id!r}", hint="`llmkit collections docs` lists document ids")
    console().print(f"deleted {doc_id}")


@app.command("reembed")
def reembed(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Collection (default: the configured one).")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=4096, help="Chunks embedded per batch.")] = 64,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Re-embed every chunk with the configured embedder (after [embedder] name changed); resumable."""
    from rich.progress import Progress

    with kit_from(ctx) as kit, Progress(console=console(), transient=True, disable=as_json) as bar:
        task = bar.add_task(f"re-embedding with {kit.settings.embedder.name}", total=None)
        report = kit.reembed(name, batch_size=batch_size, progress=lambda d, t: bar.update(task, completed=d, total=t))
    if as_json:
        print_json(report)
        return
    c = report.collection
    resumed = f" ({report.resumed} reused from an interrupted run)" if report.resumed else ""
    console().print(
        f"re-embedded {c.chunks} chunks of {c.name}: {report.previous_embedder} -> {c.embedder} (dim {c.dim})"
        f" in {report.seconds:.1f}s{resumed}"
    )
