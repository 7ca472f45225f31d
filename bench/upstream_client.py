"""The gateway's upstream hop alone: CPU and wall time per streamed chat call, ``OpenAIChatModel.stream``
(urllib3) on a worker thread (``llmkit.server.worker.Threads``, what the server did) against
``OpenAIChatModel.astream`` (aiohttp) on the uvloop event loop (what it does now for remote models).

    .venv/bin/python bench/upstream_client.py                 # 500 calls each, alternating in blocks of 100

The upstream is ``bench/serve_apps.py``'s canned one (a bare uvicorn app that answers at once). CPU is this
process's (``time.process_time``: every thread); wall time is per call, median of the blocks.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import serve  # bench/serve.py: server(), free_port()


async def measure(calls: dict[str, Callable[[], Awaitable[Any]]], n: int, block: int) -> dict[str, tuple[float, float]]:
    """``{name: (CPU ms a call, wall ms a call)}``, the calls alternating in blocks of ``block``."""
    cpu: dict[str, list[float]] = {name: [] for name in calls}
    wall: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():  # warm up: connections, imports
        for _ in range(20):
            await call()
    for _ in range(max(1, n // block)):
        for name, call in calls.items():
            c0, t0 = time.process_time(), time.perf_counter()
            for _ in range(block):
                await call()
            cpu[name].append((time.process_time() - c0) / block * 1000)
            wall[name].append((time.perf_counter() - t0) / block * 1000)
    return {name: (statistics.median(cpu[name]), statistics.median(wall[name])) for name in calls}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=500)
    ap.add_argument("--block", type=int, default=100)
    args = ap.parse_args()
    import uvloop

    from llmkit.models.openai_compat import OpenAIChatModel
    from llmkit.server.worker import Threads
    from llmkit.types import GenerationParams, Message

    port = serve.free_port()
    with serve.server([sys.executable, serve.__file__, "--upstream", "--port", str(port)], port) as upstream:
        model = OpenAIChatModel("echo", base_url=f"{upstream}/v1", api_key="k")
        messages, params = [Message.user("hi")], GenerationParams(max_tokens=8)
        pool = Threads("bench", 1)

        async def threaded() -> Any:
            return await pool.call(lambda: list(model.stream(messages, params)))

        async def on_loop() -> Any:
            return [c async for c in model.astream(messages, params)]

        async def run() -> dict[str, tuple[float, float]]:
            try:
                calls = {"urllib3 on a worker thread": threaded, "aiohttp on the event loop": on_loop}
                return await measure(calls, args.calls, args.block)
            finally:
                await model.aclose()

        results = uvloop.run(run())
        pool.shutdown()
    print(f"streamed chat calls to a canned upstream, {args.calls} each (load {os.getloadavg()[0]:.1f}):")
    for name, (cpu, wall) in results.items():
        print(f"  {name:<28} CPU {cpu:6.3f} ms   wall {wall:6.3f} ms a call")


if __name__ == "__main__":
    main()
