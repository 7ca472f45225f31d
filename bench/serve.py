"""Serving throughput: llmkit's server on the batched llama.cpp engine vs llama-cpp-python's own OpenAI
server on the same GGUF, side by side in one run; then llmkit's overhead as a gateway.

    .venv/bin/python bench/serve.py                          # SmolLM2-135M from the catalog, 64 requests a level
    .venv/bin/python bench/serve.py --levels 1,4,16 --requests 64 --tokens 16 --gateway-requests 300
    .venv/bin/python bench/serve.py --model path/to/model.gguf --parallel 16

Throughput: at each concurrency level, ``--requests`` streamed chat completions (``--temperature``
0.2 unseeded, llmkit's default, so both servers may reuse a cached prompt prefix; ``max_tokens`` =
``--tokens``; prompts that run past that many tokens; column ``tok`` = mean content chunks) go to
each server from that many client threads; the servers take turns level by level, so background load
hits both alike. Reported per server and level: requests/s (requests / wall time of the level),
latency p50/p95/p99 (request sent → last byte) and time to first token p50/p95 (request sent → first
content chunk).

- llama-cpp-python: ``python -m llama_cpp.server --model PATH`` with ``--n_threads`` = ``--threads`` and
  ``--interrupt_requests False`` (by default a new request cuts the running one short, so the client
  sees broken streams; with it off the server takes requests one after another).
- llmkit: ``llmkit serve --no-auth`` with ``model.parallel`` slots (``BatchedLlamaModel``),
  ``server.concurrency`` = ``--parallel``, the response cache off (every request here is deterministic,
  the cache would answer repeats without the model). Where ``llmkit.server`` is not installed, a
  stand-in ASGI app in this file (``--stand-in``) serves ``/v1/chat/completions`` over the same
  engine, and the output says so.

Gateway overhead: a canned OpenAI-compatible upstream (``--upstream``, a bare ASGI app that answers
at once) is called ``--gateway-requests`` times directly and as many times through llmkit configured
with ``model.base_url`` = that upstream, alternating, one request at a time (non-streaming). The
overhead is the difference of the two latency distributions at p50 and p95. Goal: ≤ 3 ms at p95.
``--compare DIR`` adds a second llmkit server running another tree (``DIR/src`` first on ``PYTHONPATH``,
e.g. ``mkdir /tmp/main && git archive main src | tar -x -C /tmp/main``) to the same alternation: before
and after in one run, under the same load.
Also printed: each server process's CPU time per request (from ``/proc``; the upstream's is per
request it answers), which unlike wall time hardly moves when other processes load the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

SYSTEM = "You are a helpful assistant. Answer in plain prose, in detail."
PROMPTS = [
    "Write a long story about a dragon who learns to cook.",
    "Explain in detail how a bicycle works.",
    "Describe a walk through a busy market in the morning.",
    "Write a letter to a friend about your summer holidays.",
    "List twenty animals and say something about each.",
    "Tell me about the history of the printing press.",
    "Write a poem about the sea, the wind and the stars.",
    "Explain how to bake bread, step by step.",
]


# ----------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(cmd: list[str], port: int, env: dict[str, str] | None = None, cwd: Path | None = None) -> Iterator[str]:
    """Start ``cmd`` (a server on ``port``), wait until ``/v1/models`` answers, yield its base URL."""
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=log, env={**os.environ, **(env or {})}, cwd=cwd)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(proc, url)
            PIDS[url] = proc.pid
            yield url
        except BaseException:
            log.seek(0)
            print(f"--- log of {cmd[:3]}:\n{log.read().decode(errors='replace')[-3000:]}", file=sys.stderr)
            raise
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


PIDS: dict[str, int] = {}  # base URL -> server process id, for cpu_seconds


def cpu_seconds(url: str) -> float:
    """CPU time (user + system) the server at ``url`` has used so far; NaN where /proc is not there.

    Unlike wall time, a server's CPU time per request hardly moves when other processes load the machine.
    """
    try:
        fields = Path(f"/proc/{PIDS[url]}/stat").read_text().rsplit(")", 1)[1].split()
    except (KeyError, OSError):
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_ready(proc: subprocess.Popen[bytes], url: str) -> None:
    import httpx

    deadline = time.monotonic() + 180
    while True:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{proc.args!r} did not start in time (or exited)")
        try:
            if httpx.get(f"{url}/v1/models", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)


def llama_cpp_server(model: Path, threads: int) -> Any:
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--n_ctx", "2048", "--n_threads", str(threads), "--n_threads_batch", str(threads)]
    cmd += ["--interrupt_requests", "False"]  # by default a new request cuts the running one short
    return server(cmd, port)


def has_llmkit_server() -> bool:
    import importlib.util

    return importlib.util.find_spec("llmkit.server") is not None


def llmkit_server(
    project: Path, model: str, parallel: int, base_url: str | None = None, env: dict[str, str] | None = None
) -> Any:
    """``llmkit serve`` on the batched engine (or, for the gateway, on ``base_url``); the stand-in without it."""
    port = free_port()
    env = {**(env or {}), "LLMKIT_MODEL__NAME": model, "LLMKIT_MODEL__PARALLEL": str(parallel)}
    env["LLMKIT_TRACES"] = "false"
    if base_url:
        env["LLMKIT_MODEL__BASE_URL"] = base_url
    if has_llmkit_server():
        env |= {"LLMKIT_SERVER__CONCURRENCY": str(parallel), "LLMKIT_SERVER__CACHE": "false"}
        env |= {"LLMKIT_SERVER__QUEUE_SIZE": "1024", "LLMKIT_SERVER__LOG_JSON": "false"}
        llmkit = Path(sys.executable).with_name("llmkit")
        cmd = [str(llmkit), "-C", str(project), "serve", "--no-auth", "--port", str(port)]
    else:
        cmd = [sys.executable, __file__, "--stand-in", "--port", str(port), "--project", str(project)]
    return server(cmd, port, env)


# ----------------------------------------------------------------------------- load


def served_model(url: str) -> str:
    """The first chat model ``GET /v1/models`` lists (``rag/…`` collections skipped)."""
    import httpx

    ids = [m["id"] for m in httpx.get(f"{url}/v1/models", timeout=30).json()["data"]]
    return next(i for i in ids if not i.startswith("rag/"))


def one_request(client: Any, url: str, model: str, i: int, tokens: int, temperature: float) -> tuple[float, float, int]:
    """(latency s, time to first token s, content chunks) for one streamed chat completion."""
    body = {
        "model": model,
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPTS[i % len(PROMPTS)]}],
        "max_tokens": tokens,
        "temperature": temperature,
        "stream": True,
    }
    t0 = time.perf_counter()
    ttft, chunks = None, 0
    with client.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=600) as r:
        if r.status_code != 200:
            raise RuntimeError(f"{url}: HTTP {r.status_code}: {r.read()[:300]!r}")
        for line in r.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            choices = json.loads(line[6:]).get("choices") or [{}]
            if (choices[0].get("delta") or {}).get("content"):
                chunks += 1
                ttft = ttft if ttft is not None else time.perf_counter() - t0
    latency = time.perf_counter() - t0
    return latency, ttft if ttft is not None else latency, chunks


def load_level(url: str, concurrency: int, n: int, tokens: int, temperature: float) -> dict[str, float]:
    """Send ``n`` requests from ``concurrency`` threads (one keep-alive client each); summarise."""
    import httpx

    clients = [httpx.Client() for _ in range(concurrency)]
    model = served_model(url)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        send = lambda i: one_request(clients[i % concurrency], url, model, i, tokens, temperature)  # noqa: E731
        results = list(pool.map(send, range(n)))
    wall = time.perf_counter() - t0
    for c in clients:
        c.close()
    lat = [r[0] for r in results]
    ttft = [r[1] for r in results]
    return {
        "rps": n / wall,
        "p50": pct(lat, 50),
        "p95": pct(lat, 95),
        "p99": pct(lat, 99),
        "ttft50": pct(ttft, 50),
        "ttft95": pct(ttft, 95),
        "chunks": statistics.mean(r[2] for r in results),
    }


def pct(values: list[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank).

    >>> pct([1.0, 2.0, 3.0, 4.0], 50), pct([1.0, 2.0, 3.0, 4.0], 95), pct([5.0], 99)
    (2.0, 4.0, 5.0)
    """
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, -(-len(ordered) * p // 100) - 1))
    return ordered[int(k)]


def gateway(project: Path, n: int, compare: Path | None = None) -> dict[str, dict[str, float]]:
    """Latency p50/p95 of the canned upstream called directly and through llmkit, alternating; with ``compare``,
    also through a second llmkit server running the tree at ``compare`` (its ``src`` first on ``PYTHONPATH``).
    Returns, per llmkit server, its latencies, overhead and CPU a request."""
    import httpx

    port = free_port()
    upstream_cmd = [sys.executable, __file__, "--upstream", "--port", str(port)]
    body = {"model": "echo", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}
    trees = {"llmkit": None} | ({f"llmkit@{compare}": compare / "src"} if compare else {})
    with ExitStack() as stack:
        upstream = stack.enter_context(server(upstream_cmd, port))
        urls = {"direct": upstream}
        for name, src in trees.items():
            env = {"PYTHONPATH": str(src)} if src else {}
            urls[name] = stack.enter_context(llmkit_server(project, "echo", 1, base_url=f"{upstream}/v1", env=env))
        client = stack.enter_context(httpx.Client())
        times: dict[str, list[float]] = {name: [] for name in urls}
        cpu0: dict[str, float] = {}
        for i in range(n + 20):  # the first 20 rounds warm every path up
            if i == 20:
                cpu0 = {name: cpu_seconds(url) for name, url in urls.items()}
            for name, url in urls.items():
                t0 = time.perf_counter()
                r = client.post(f"{url}/v1/chat/completions", json=body, timeout=30)
                elapsed = time.perf_counter() - t0
                if r.status_code != 200:
                    raise RuntimeError(f"{name}: HTTP {r.status_code}: {r.text[:300]}")
                if i >= 20:
                    times[name].append(elapsed)
        cpu = {name: (cpu_seconds(url) - cpu0[name]) / n * 1000 for name, url in urls.items()}
    cpu["direct"] /= len(urls)  # the upstream serves every request once directly and once for each llmkit
    direct = {p: pct(times["direct"], p) * 1000 for p in (50, 95)}
    out = {"direct": {"p50": direct[50], "p95": direct[95], "cpu": cpu["direct"]}}
    for name in trees:
        p50, p95 = (pct(times[name], p) * 1000 for p in (50, 95))
        out[name] = {"p50": p50, "p95": p95, "overhead_p50": p50 - direct[50], "overhead_p95": p95 - direct[95]}
        out[name]["cpu"] = cpu[name]
    return out


# ----------------------------------------------------------------------------- report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="a .gguf path (default: smollm2-135m-instruct from the catalog)")
    ap.add_argument("--levels", default="1,4,16", help="comma-separated concurrency levels")
    ap.add_argument("--requests", type=int, default=64, help="requests per server and level")
    ap.add_argument("--tokens", type=int, default=16, help="max_tokens of every request")
    ap.add_argument("--temperature", type=float, default=0.2, help="of every request (llmkit's default: 0.2)")
    ap.add_argument("--parallel", type=int, default=16, help="llmkit's model.parallel slots")
    ap.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="llama.cpp threads, both servers (1 when busy)"
    )
    ap.add_argument("--gateway-requests", type=int, default=300, help="0 skips the gateway measurement")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--compare", type=Path, help="gateway: also a second llmkit tree at DIR (its src/), alternating")
    ap.add_argument("--stand-in", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--upstream", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--project", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.stand_in or args.upstream:
        from serve_apps import run_stand_in, run_upstream  # bench/serve_apps.py, beside this file

        run_stand_in(args.port, args.project) if args.stand_in else run_upstream(args.port)
        return
    model = Path(args.model) if args.model else catalog_model()
    os.environ.setdefault("LLMKIT_MODEL__THREADS", str(args.threads))
    kind = "llmkit serve" if has_llmkit_server() else "STAND-IN ASGI app (bench/serve_apps.py; llmkit.server absent)"
    print(f"model {model.name}; llmkit = {kind}, parallel={args.parallel}; llama.cpp threads={args.threads}")
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        (project / "llmkit.toml").write_text('collection = "bench"\n', encoding="utf-8")
        if not args.skip_throughput:
            throughput(project, model, args)
        if args.gateway_requests:
            report_gateway(gateway(project, args.gateway_requests, args.compare), args.gateway_requests)
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


def report_gateway(g: dict[str, dict[str, float]], n: int) -> None:
    print(f"\ngateway ({n} sequential non-streaming requests each, alternating; ms):")
    print(f"  {'':<24} {'p50':>6} {'p95':>6} {'overhead p50':>13} {'overhead p95':>13} {'server CPU/req':>15}")
    for name, r in g.items():
        over = "" if name == "direct" else f"{r['overhead_p50']:>13.2f} {r['overhead_p95']:>13.2f}"
        print(f"  {name[:24]:<24} {r['p50']:>6.2f} {r['p95']:>6.2f} {over:>27} {r['cpu']:>15.2f}")
    print("  (goal: overhead p95 <= 3 ms; the direct row's CPU is the upstream's, per request it answers)")


def throughput(project: Path, model: Path, args: argparse.Namespace) -> None:
    levels = [int(x) for x in args.levels.split(",")]
    rows: list[tuple[int, str, dict[str, float]]] = []
    with (
        llama_cpp_server(model, args.threads) as peer,
        llmkit_server(project, str(model), args.parallel) as ours,
    ):
        for url in (peer, ours):  # warm-up: load, first prompt
            load_level(url, 2, 4, args.tokens, args.temperature)
        for k, level in enumerate(levels):
            order = [("llama-cpp-python", peer), ("llmkit", ours)]
            for name, url in order if k % 2 == 0 else order[::-1]:
                rows.append((level, name, load_level(url, level, args.requests, args.tokens, args.temperature)))
                print(f"  done: {name} at concurrency {level}", file=sys.stderr)
    cols = ("req/s", "p50 s", "p95 s", "p99 s", "ttft50", "ttft95")
    head = f"{'conc':>4} {'server':<17} " + " ".join(f"{c:>6}" for c in cols) + " tok"
    print(f"\n{args.requests} streamed chat requests of max {args.tokens} tokens per level:\n{head}")
    for level, name, r in sorted(rows, key=lambda x: (x[0], x[1])):
        print(
            f"{level:>4} {name:<17} {r['rps']:>6.2f} {r['p50']:>6.2f} {r['p95']:>6.2f} {r['p99']:>6.2f} "
            f"{r['ttft50']:>6.2f} {r['ttft95']:>6.2f} {r['chunks']:>3.0f}"
        )
    by = {(lv, n): r["rps"] for lv, n, r in rows}
    print("llmkit / llama-cpp-python requests/s: " + ", ".join(
        f"c={lv}: {by[lv, 'llmkit'] / by[lv, 'llama-cpp-python']:.2f}x" for lv in levels
    ))  # fmt: skip


def catalog_model() -> Path:
    from llmkit.config import load_settings
    from llmkit.models.catalog import Catalog

    return Catalog(load_settings().models_dir).path("smollm2-135m-instruct")


if __name__ == "__main__":
    main()
