"""Blocking model work off the event loop: one small thread pool per model, a gate in front of it.

llama.cpp decodes ~3x slower when called from a second Python thread (DESIGN.md), so each model gets
its own pool of ``concurrency`` threads (1 for llama.cpp: every call on one thread). The ``Gate``
admits at most ``concurrency`` requests at once, lets ``queue_size`` more wait (up to ``timeout_s``)
and turns the rest away at once with 429.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from llmkit.server.errors import ApiError

T = TypeVar("T")
_DONE = object()


class Gate:
    """At most ``concurrency`` holders; ``queue_size`` waiters; a wait longer than ``timeout_s`` is a 503."""

    def __init__(self, name: str, concurrency: int, queue_size: int, timeout_s: float) -> None:
        self.name = name
        self.concurrency, self.queue_size, self.timeout_s = concurrency, queue_size, timeout_s
        self._sem: asyncio.Semaphore | None = None  # made on first use, inside the running loop
        self.waiting = 0
        self.running = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        sem = self._sem = self._sem or asyncio.Semaphore(self.concurrency)
        if sem.locked() and self.waiting >= self.queue_size:
            raise ApiError(
                429, f"model {self.name!r} is busy: {self.waiting} requests already waiting",
                type="rate_limit_error", code="queue_full", retry_after=1,
            )  # fmt: skip
        if sem.locked():
            await self._wait(sem)
        else:
            await sem.acquire()  # free: no waiting, so no timer (``wait_for`` makes a task and a timer)
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1
            sem.release()

    async def _wait(self, sem: asyncio.Semaphore) -> None:
        self.waiting += 1
        try:
            await asyncio.wait_for(sem.acquire(), self.timeout_s)
        except TimeoutError:
            raise ApiError(
                503, f"model {self.name!r} stayed busy for {self.timeout_s:g}s",
                type="server_error", code="queue_timeout", retry_after=self.timeout_s,
            ) from None  # fmt: skip
        finally:
            self.waiting -= 1


class Worker:
    """Runs a model's blocking calls on its own threads, each in a copy of the caller's context."""

    def __init__(self, name: str, threads: int = 1) -> None:
        self.name = name
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"llmkit-{name[:20]}")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        ctx = contextvars.copy_context()  # trace attributes and OpenTelemetry spans follow the call
        return await asyncio.get_running_loop().run_in_executor(self._pool, ctx.run, fn, *args)

    async def iterate(self, make: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
        """Drive the iterator ``make()`` returns on this worker; closing early closes it (stops generation)."""
        ctx = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        holder: list[Iterator[T]] = []

        def step() -> Any:
            if not holder:
                holder.append(iter(make()))
            return next(holder[0], _DONE)

        try:
            while (item := await loop.run_in_executor(self._pool, ctx.run, step)) is not _DONE:
                yield item
        finally:
            if holder and hasattr(holder[0], "close"):
                close = holder[0].close  # type: ignore[attr-defined]
                await asyncio.shield(loop.run_in_executor(self._pool, ctx.run, close))

    async def collect(
        self, make: Callable[[], Iterator[T]], gone: Callable[[], Awaitable[bool]] | None = None, poll_s: float = 0.2
    ) -> tuple[list[T], bool]:
        """Drive ``make()`` to its end on this worker in one thread hop; ``(items, stopped)``.

        ``iterate`` costs a hop per item, each a wait for the GIL and a thread wake-up (milliseconds on a
        busy machine); a whole reply needs none of them. Meanwhile ``gone()`` is polled every ``poll_s``:
        once it says True (the client went away) the worker closes the iterator at its next item, which
        stops the generation, and ``stopped`` is True. Cancelling the caller stops it the same way.
        """
        ctx = contextvars.copy_context()
        stop = threading.Event()

        def run() -> tuple[list[T], bool]:
            items, source = [], iter(make())
            try:
                for item in source:
                    items.append(item)
                    if stop.is_set():
                        break
            finally:
                if hasattr(source, "close"):
                    source.close()  # type: ignore[attr-defined]
            return items, stop.is_set()

        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, ctx.run, run)
        watchers: list[asyncio.Task[None]] = []

        async def watch() -> None:
            while not stop.is_set():
                if gone is not None and await gone():
                    stop.set()
                    return
                await asyncio.sleep(poll_s)

        # the watcher starts only once the call has run for poll_s: a quick call costs one timer, no task
        timer = loop.call_later(poll_s, lambda: watchers.append(loop.create_task(watch()))) if gone else None
        try:
            return await future
        except BaseException:
            stop.set()
            raise
        finally:
            if timer is not None:
                timer.cancel()
            for task in watchers:
                task.cancel()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
