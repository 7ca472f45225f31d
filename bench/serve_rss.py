"""Server memory over many requests: RSS of the server process after a warm-up and every 1,000 requests.

The server runs in its own process (so the client's memory is not counted) on loopback, answering a mix
of plain and streamed chat, text completions, embeddings, /v1/models, /metrics and error responses.
By default it serves the public fakes, which isolates the server's own allocations (routing, SSE,
metrics, traces, caches, rate-limit tables); ``--real`` serves the embedded SmolLM2 and MiniLM
(4-token replies), which adds llama.cpp and onnxruntime.

    python bench/serve_rss.py                    # 5,000 requests on the fakes
    python bench/serve_rss.py --real -n 1000     # the embedded models (slower)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

CHILD = """
import sys
from llmkit.config import load_settings
from llmkit.server import create_app
from llmkit.server.background import free_port
import uvicorn
real = sys.argv[2] == "real"
server = {"auth": "none", "log_json": False, "requests_per_minute": 10**9, "tokens_per_minute": 10**9}
settings = load_settings(sys.argv[1], server=server, model={"threads": 1, "max_tokens": 4})
kw = {}
if not real:
    from llmkit.testing import FakeChatModel, HashEmbedder
    import collections
    model = FakeChatModel(["A short reply for the benchmark."], name="smollm2-135m-instruct")
    model.calls = collections.deque(maxlen=8)  # the fake keeps every call for tests; not the server's memory
    kw = {"chat_model": model, "embedder": HashEmbedder(dim=384)}
port = free_port()
print(port, flush=True)
uvicorn.run(create_app(settings, **kw), host="127.0.0.1", port=port, log_level="error", access_log=False)
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def one(client: httpx.Client, i: int, model: str, embedder: str) -> None:
    kind = i % 8
    chat = {"model": model, "messages": [{"role": "user", "content": f"Question number {i}?"}], "temperature": 0.7}
    if kind in (0, 1, 2):
        r = client.post("/v1/chat/completions", json=chat)
    elif kind == 3:
        with client.stream("POST", "/v1/chat/completions", json={**chat, "stream": True}) as r:
            r.read()
    elif kind == 4:
        r = client.post("/v1/completions", json={"model": model, "prompt": f"Number {i}", "temperature": 0.7})
    elif kind == 5:
        r = client.post("/v1/embeddings", json={"model": embedder, "input": [f"text {i}", "more text"]})
    elif kind == 6:
        r = client.get("/v1/models" if i % 16 < 8 else "/metrics")
    else:
        r = client.post("/v1/chat/completions", json={**chat, "model": "missing"})
        assert r.status_code == 404
        return
    assert r.status_code == 200, r.text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=5000, help="requests after the warm-up")
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--real", action="store_true", help="serve the embedded models instead of the fakes")
    args = ap.parse_args()
    project = tempfile.mkdtemp(prefix="llmkit-rss-")
    proc = subprocess.Popen([sys.executable, "-c", CHILD, project, "real" if args.real else "fake"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    try:
        port = int(proc.stdout.readline())  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}"
        model, embedder = "smollm2-135m-instruct", "all-minilm-l6-v2"
        with httpx.Client(base_url=url, timeout=120) as client:
            for _ in range(300):
                try:
                    client.get("/healthz")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            for i in range(args.warmup):
                one(client, i, model, embedder)
            samples = [(0, rss_mb(proc.pid))]
            start = time.perf_counter()
            for i in range(1, args.n + 1):
                one(client, args.warmup + i, model, embedder)
                if i % 1000 == 0 or i == args.n:
                    samples.append((i, rss_mb(proc.pid)))
            seconds = time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait(30)
    base, last = samples[0][1], samples[-1][1]
    change = (last - base) / base * 100
    print(json.dumps({"mode": "real" if args.real else "fake", "requests": args.n, "seconds": round(seconds, 1),
                      "rss_mb": [(n, round(m, 1)) for n, m in samples], "change_pct": round(change, 2),
                      "within_5pct": abs(change) <= 5}))  # fmt: skip


if __name__ == "__main__":
    main()
