"""``BulkWriter`` and ``BulkLoads``: the writes of a ``bulk_load``, committed by background threads.

Inside ``bulk_load`` the caller's thread checks each batch and prepares its rows (Python, holding the GIL)
while writer threads run the previous batches' transactions (SQLite's and psycopg's C code, without it).
SQLite has one writer at a time, so it uses one thread; PostgreSQL uses several connections, so that its
server processes compute the text search vectors side by side.

Each batch is still one transaction. ``submit`` returns when the batch is queued; an error in a queued
batch is raised by the next ``submit`` or by ``close`` (the end of the block), and the batches queued
behind it are dropped (with one writer: every batch before the failed one is committed, none after it).
Two batches that share a document id never run at the same time: the later one waits, so the last write
of a document wins as it would one call at a time. ``settle(ids)`` waits for the queued batches holding
any of ``ids`` (every batch when None), so a read never misses a write it could depend on.

>>> done = []
>>> with BulkWriter(lambda ids, _: done.append(ids), workers=2) as w:
...     w.submit(["a"], None)
...     w.submit(["b"], None)
>>> sorted(done)
[['a'], ['b']]
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmkit.store.records import check_batch

if TYPE_CHECKING:
    from llmkit.store.base import DocumentWrite

Commit = Callable[[list[str], Any], None]


class BulkWriter:
    """Runs ``commit(doc_ids, prepared)`` for each submitted batch on ``workers`` threads, at most
    ``2 * workers`` batches queued (so the caller cannot run far ahead of the database)."""

    def __init__(self, commit: Commit, *, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self._commit = commit
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._pending: dict[Future[None], frozenset[str]] = {}
        self._error: BaseException | None = None

    def submit(self, doc_ids: Iterable[str], prepared: Any) -> None:
        """Queue one batch (raises the first error of an earlier batch instead)."""
        ids = frozenset(doc_ids)
        self._reap([])
        self.settle(ids)  # a batch sharing a document waits for the earlier one
        while len(self._pending) >= 2 * self._workers:
            with self._lock:
                running = list(self._pending)
            self._reap(wait(running, return_when="FIRST_COMPLETED").done)
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="llmkit-bulk")
            future = self._pool.submit(self._run, sorted(ids), prepared)
            self._pending[future] = ids
        future.add_done_callback(self._done)

    def settle(self, ids: Collection[str] | None = None) -> None:
        """Wait for the queued batches that hold any of ``ids`` (all when None); raise the first error."""
        with self._lock:
            waiting = [f for f, held in self._pending.items() if ids is None or not held.isdisjoint(ids)]
        self._reap(wait(waiting).done)

    def close(self) -> None:
        """Wait for every queued batch and stop the threads; raise the first error."""
        try:
            self.settle()
        finally:
            with self._lock:
                pool, self._pool = self._pool, None
            if pool is not None:
                pool.shutdown(wait=True)

    def _run(self, ids: list[str], prepared: Any) -> None:
        if self._error is None:  # batches queued behind a failed one are dropped
            self._commit(ids, prepared)

    def _done(self, future: Future[None]) -> None:
        self._reap([future], check=False)

    def _reap(self, futures: Iterable[Future[None]], *, check: bool = True) -> None:
        """Forget finished batches, keep the first error, and (``check``) raise it."""
        with self._lock:
            for future in futures:
                self._pending.pop(future, None)
                if self._error is None and future.exception() is not None:
                    self._error = future.exception()
            error = self._error
        if check and error is not None:
            raise error

    def __enter__(self) -> BulkWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class _Load:
    writer: BulkWriter
    dim: int
    finish: Callable[[], None]
    opened: int = 0  # bulk_load blocks open on this collection


class BulkLoads:
    """The collections of one store that are inside ``bulk_load``, each with its ``BulkWriter`` (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loads: dict[str, _Load] = {}

    def open(
        self,
        collection: str,
        dim: int,
        start: Callable[[], tuple[Callable[[Any], None], Callable[[], None]]],
        *,
        workers: int = 1,
    ) -> None:
        """Start (or join) the bulk load of ``collection``. ``start()`` gives ``commit(prepared)``, which writes
        one batch, and ``finish()``, run when the last load of the collection has ended."""
        with self._lock:
            load = self._loads.get(collection)
            if load is None:
                commit, finish = start()
                writer = BulkWriter(lambda _ids, prepared: commit(prepared), workers=workers)
                load = self._loads[collection] = _Load(writer, dim, finish)
            load.opened += 1

    def close(self, collection: str) -> None:
        """Leave the bulk load; the last one out waits for the queued writes (raising the first failure)."""
        with self._lock:
            load = self._loads[collection]
            load.opened -= 1
            if load.opened:
                return
            del self._loads[collection]
        try:
            load.writer.close()
        finally:
            load.finish()

    def submit(self, collection: str, batch: Sequence[DocumentWrite]) -> bool:
        """Check ``batch`` here and queue it for the collection's writers, whose ``commit`` receives
        ``(collection, batch, vectors)``; False (nothing done) when the collection is not inside a bulk load."""
        load = self._loads.get(collection)
        if load is None:
            return False
        vectors = check_batch(batch, load.dim)
        load.writer.submit([d.id for d in batch], (collection, list(batch), vectors))
        return True

    def settle(self, collection: str, doc_ids: Collection[str] | None = None) -> None:
        """Wait for the collection's queued writes holding any of ``doc_ids`` (all when None), if it is loading."""
        load = self._loads.get(collection)
        if load is not None:
            load.writer.settle(doc_ids)

    def settle_all(self) -> None:
        for load in list(self._loads.values()):
            load.writer.settle()
