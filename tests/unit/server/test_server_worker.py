"""``Worker.collect``: a whole reply in one thread hop, stopped when the client goes away."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from llmkit.server.worker import Worker


def test_collect_runs_the_iterator_on_the_worker_in_one_go() -> None:
    worker = Worker("m", 1)
    seen: list[str] = []

    def make() -> Iterator[int]:
        seen.append(threading.current_thread().name)
        yield from range(5)

    items, stopped = asyncio.run(worker.collect(make))
    worker.shutdown()
    assert (items, stopped) == ([0, 1, 2, 3, 4], False)
    assert seen[0].startswith("llmkit-m")


def test_collect_stops_and_closes_the_iterator_once_the_client_is_gone() -> None:
    worker = Worker("m", 1)
    closed = threading.Event()
    produced = [0]

    def make() -> Iterator[int]:
        try:
            while True:
                produced[0] += 1
                time.sleep(0.01)
                yield produced[0]
        finally:
            closed.set()

    calls = [0]

    async def gone() -> bool:
        calls[0] += 1
        return calls[0] >= 2  # the second check finds the client gone

    items, stopped = asyncio.run(worker.collect(make, gone, poll_s=0.05))
    worker.shutdown()
    assert stopped and closed.is_set()
    assert 0 < len(items) == produced[0] < 200  # stopped within a poll or two, not run on forever


def test_collect_passes_errors_through() -> None:
    worker = Worker("m", 1)

    def make() -> Iterator[int]:
        yield 1
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        asyncio.run(worker.collect(make))
    worker.shutdown()


def test_threads_run_calls_off_the_loop_and_cancel_what_is_queued_at_shutdown() -> None:
    from llmkit.server.worker import Threads

    threads = Threads("t", 2)
    started, release = threading.Semaphore(0), threading.Event()

    def slow() -> str:
        started.release()
        release.wait(5)
        return threading.current_thread().name

    def boom() -> None:
        raise ValueError("bad")

    async def main() -> None:
        names = await asyncio.gather(*(threads.call(lambda: threading.current_thread().name) for _ in range(4)))
        assert {n.rsplit("_", 1)[0] for n in names} == {"t"}
        with pytest.raises(ValueError, match="bad"):
            await threads.call(boom)
        busy = [threads.call(slow), threads.call(slow)]
        queued = threads.call(slow)
        for _ in busy:  # both threads are busy, so the third call waits in the queue
            assert await asyncio.to_thread(started.acquire, True, 5)
        stopper = asyncio.get_running_loop().run_in_executor(None, threads.shutdown)
        await asyncio.sleep(0.05)
        release.set()
        await stopper
        assert all(n.startswith("t_") for n in await asyncio.gather(*busy))
        assert queued.cancelled()
        with pytest.raises(RuntimeError, match="shut down"):
            threads.call(boom)

    asyncio.run(main())
