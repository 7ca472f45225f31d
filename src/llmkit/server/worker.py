"""Blocking model work off the event loop: one small thread pool per model, a gate in front of it.

llama.cpp decodes ~3x slower when called from a second Python thread (DESIGN.md), so each model gets
its own pool of ``concurrency`` threads (1 for llama.cpp: every call on one thread). The ``Gate``
admits at most ``concurrency`` requests at once, lets ``queue_size`` more wait (up to ``timeout_s``)
and turns the rest away at once with 429.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
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
    async def slot(self, gone: Callable[[], Awaitable[bool]] | None = None) -> AsyncIterator[None]:
        """Hold a slot for the block. After waiting in the queue, ``gone()`` is asked whether the client is
        still there: if not, the slot is given back at once with 499, and the model never runs for it."""
        sem = self._sem = self._sem or asyncio.Semaphore(self.concurrency)
        if sem.locked() and self.waiting >= self.queue_size:
            raise ApiError(
                429, f"model {self.name!r} is busy: {self.waiting} requests already waiting",
                type="rate_limit_error", code="queue_full", retry_after=1,
            )  # fmt: skip
        if sem.locked():
            await self._wait(sem)
            if gone is not None:
                await self._check(sem, gone)
        else:
            await sem.acquire()  # free: no waiting, so no timer (``wait_for`` makes a task and a timer)
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1
            sem.release()

    @staticmethod
    async def _check(sem: asyncio.Semaphore, gone: Callable[[], Awaitable[bool]]) -> None:
        """Give the slot just taken back (499) when its client has left."""
        try:
            left = await gone()
        except BaseException:
            sem.release()
            raise
        if left:
            sem.release()
            raise ApiError(499, "the client closed the request while it waited", code="client_closed")

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
        self._pool = Threads(f"llmkit-{name[:20]}", threads)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        ctx = contextvars.copy_context()  # trace attributes and OpenTelemetry spans follow the call
        return await self._pool.call(ctx.run, fn, *args)

    async def iterate(self, make: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
        """Drive the iterator ``make()`` returns on this worker; closing early closes it (stops generation)."""
        ctx = contextvars.copy_context()
        holder: list[Iterator[T]] = []

        def step() -> Any:
            if not holder:
                holder.append(iter(make()))
            return next(holder[0], _DONE)

        try:
            while (item := await self._pool.call(ctx.run, step)) is not _DONE:
                yield item
        finally:
            if holder and hasattr(holder[0], "close"):
                close = holder[0].close  # type: ignore[attr-defined]
                await asyncio.shield(self._pool.call(ctx.run, close))

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
        future = self._pool.call(ctx.run, run)
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
        self._pool.shutdown()


async def collect_async(
    items: AsyncIterator[T], gone: Callable[[], Awaitable[bool]] | None = None, poll_s: float = 0.2
) -> tuple[list[T], bool]:
    """``Worker.collect`` for an iterator driven on the event loop (no thread): ``(items, stopped)``.

    From ``poll_s`` on, ``gone()`` is polled every ``poll_s``; once it says True while items are still coming,
    the iteration is cancelled where it waits, the iterator closed (which stops the generation) and ``stopped``
    is True. A quick call costs one timer and no task.
    """
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    assert task is not None
    out: list[T] = []
    state = {"running": True, "stopped": False}
    watchers: list[asyncio.Task[None]] = []

    async def watch() -> None:
        while state["running"]:
            if gone is not None and await gone() and state["running"]:
                state["stopped"] = True
                task.cancel()
                return
            await asyncio.sleep(poll_s)

    timer = loop.call_later(poll_s, lambda: watchers.append(loop.create_task(watch()))) if gone else None
    try:
        async for item in items:
            out.append(item)
    except asyncio.CancelledError:
        if not state["stopped"]:
            raise
        task.uncancel()  # the cancel was ours, and it has been delivered
    finally:
        state["running"] = False
        if timer is not None:
            timer.cancel()
        for watcher in watchers:
            watcher.cancel()
        await items.aclose()  # type: ignore[attr-defined]
    return out, state["stopped"]


class Threads:
    """``threads`` daemon threads (started on first use) that run calls taken from one ``queue.SimpleQueue``
    and hand each result back to the caller's event loop with ``call_soon_threadsafe``.

    What ``loop.run_in_executor`` does with a ``ThreadPoolExecutor``, at about half its CPU a call (35 against
    75-100 µs measured on uvloop): no ``concurrent.futures.Future`` with its condition variable, no second
    future chained to it. A whole reply pays it once, a stream once per chunk. ``shutdown`` lets the running
    calls finish and cancels those still queued.
    """

    def __init__(self, name: str, threads: int = 1) -> None:
        self.name, self.size = name, threads
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._lock = threading.Lock()

    def call(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """A future for ``fn(*args)`` run on one of the threads."""
        if self._closed:
            raise RuntimeError(f"{self.name}: the worker threads were shut down")
        if len(self._threads) < self.size:
            self._start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((loop, future, fn, args))
        return future

    def _start(self) -> None:
        with self._lock:
            while len(self._threads) < self.size:
                thread = threading.Thread(target=self._serve, name=f"{self.name}_{len(self._threads)}", daemon=True)
                thread.start()
                self._threads.append(thread)

    def _serve(self) -> None:
        while (item := self._queue.get()) is not None:
            loop, future, fn, args = item
            if self._closed:
                _settle(loop, future.cancel)
                continue
            try:
                result = fn(*args)
            except BaseException as error:  # the caller gets it, as from run_in_executor
                _settle(loop, _fail, future, error)
            else:
                _settle(loop, _succeed, future, result)

    def shutdown(self) -> None:
        self._closed = True
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join()


def _settle(loop: asyncio.AbstractEventLoop, fn: Callable[..., Any], *args: Any) -> None:
    with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting any more
        loop.call_soon_threadsafe(fn, *args)


def _succeed(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
