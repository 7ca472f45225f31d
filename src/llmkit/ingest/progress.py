"""A Rich progress bar for ingestion: files done/total, chunks, failures and rate (Rich loads lazily)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from llmkit.ingest.pipeline import IngestProgress


@contextmanager
def rich_progress(console: Any = None, *, description: str = "Ingesting") -> Iterator[Callable[[IngestProgress], None]]:
    """A ``progress`` callback drawing a Rich bar while the block runs.

    >>> with rich_progress() as progress:                          # doctest: +SKIP
    ...     report = ingestor.run(["docs/"], "docs", progress=progress)
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files · {task.fields[chunks]} chunks · {task.fields[failed]} failed · {task.fields[rate]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(description, total=None, chunks=0, failed=0, rate="")

        def update(p: IngestProgress) -> None:
            rate = f"{p.chunks_written / p.elapsed_s:.0f} chunks/s" if p.elapsed_s > 0 else ""
            failed = f"[red]{p.failed}[/]" if p.failed else "0"
            bar.update(task, total=p.files_total, completed=p.files_done, chunks=p.chunks, failed=failed, rate=rate)

        yield update
