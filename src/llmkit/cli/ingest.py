"""``llmkit ingest``: load, split, embed and store documents."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from llmkit.cli._common import console, err_console, kit_from, print_json

if TYPE_CHECKING:
    from llmkit.types import IngestReport


def ingest(
    ctx: typer.Context,
    inputs: Annotated[list[str], typer.Argument(help="Files, folders, glob patterns, or - for stdin.")],
    collection: Annotated[str | None, typer.Option("--collection", "-c", help="Collection to ingest into.")] = None,
    meta: Annotated[list[str] | None, typer.Option("--meta", help="Metadata for every document: key=value.")] = None,
    prune: Annotated[bool, typer.Option(help="Remove documents whose files are gone from the inputs.")] = False,
    name: Annotated[str | None, typer.Option("--name", help="Name for the text read from - (a document id).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Ingest documents; unchanged files are skipped, changed ones replaced, bad ones reported.

    Text read from - is named stdin-HASH (from its content) unless --name names it. When nothing could be
    ingested the exit status is 66 if no input was found, else 65.
    """
    from llmkit.errors import InputError
    from llmkit.ingest.progress import rich_progress

    metadata = {}
    for item in meta or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--meta {item!r} is not key=value")
        metadata[key.strip()] = value.strip()
    with kit_from(ctx) as kit:
        if as_json:
            report = kit.ingest(*inputs, collection=collection, metadata=metadata, prune=prune, stdin_name=name)
        else:
            with rich_progress(err_console()) as progress:
                report = kit.ingest(
                    *inputs, collection=collection, metadata=metadata, prune=prune, progress=progress, stdin_name=name
                )
    if as_json:
        print_json(report)
    else:
        _summary(report)
    if report.failed and not (report.added or report.updated or report.skipped):
        raise typer.Exit(_exit_code(report))


def _exit_code(r: IngestReport) -> int:
    """When nothing went in: 66 (not found) if no input existed, else 65 (bad input)."""
    from llmkit.errors import InputError, NotFound
    from llmkit.ingest.sources import NO_MATCH, NOT_FOUND

    missing = all(reason in (NOT_FOUND, NO_MATCH) for _, reason in r.failed)
    return NotFound.exit_code if missing else InputError.exit_code


def _summary(r: IngestReport) -> None:
    failed = f"[{'red' if r.failed else 'green'}]{len(r.failed)} failed[/]"
    console().print(
        f"[green]{r.added} added[/], {r.updated} updated, {r.skipped} unchanged, {failed}; "
        f"{r.chunks} chunks in {r.seconds:.1f}s"
    )
    for source, reason in r.failed:
        err_console().print(f"  [red]skipped[/] {source}: {reason}", markup=True)
