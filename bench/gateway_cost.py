"""The gateway's cost in instructions a request (valgrind callgrind), which does not move with machine load.

    .venv/bin/python bench/gateway_cost.py                       # this tree
    .venv/bin/python bench/gateway_cost.py --compare /tmp/main   # ... and the tree at /tmp/main, side by side

The same setup as ``bench/serve.py``'s gateway part: ``llmkit serve --no-auth`` with ``model.base_url`` =
the canned upstream (``bench/serve_apps.py``), traces and the response cache off, sequential
non-streaming chat requests. Each llmkit server runs under ``valgrind --tool=callgrind`` with
instrumentation off while it starts and warms up (``--warmup`` requests), then on for ``--requests``
requests. Printed: user-space instructions per request (kernel time for the sockets is not counted).
``--compare DIR`` runs a second server with ``PYTHONPATH=DIR/src`` (e.g. ``git worktree add /tmp/main
main``), the requests alternating between the two. Takes 2-3 minutes (valgrind runs Python ~50x slower).
Needs ``valgrind`` (and its ``callgrind_control``) on the PATH.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import serve  # bench/serve.py: server(), llmkit_server(), free_port()


def totals(out_dir: Path, pid: int) -> int:
    """The instructions callgrind counted for ``pid`` (the largest ``totals``/``summary`` line of its dumps)."""
    best = 0
    for path in out_dir.glob(f"cg.{pid}*"):
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith(("summary:", "totals:")):
                best = max(best, int(line.split()[1]))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--compare", type=Path, help="a second llmkit tree (its src/ goes first on PYTHONPATH)")
    args = ap.parse_args()
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        raise SystemExit("needs valgrind and callgrind_control on the PATH")
    import httpx

    out_dir = Path(tempfile.mkdtemp(prefix="llmkit-callgrind-"))
    plain_server = serve.server

    def under_valgrind(cmd: list[str], port: int, env: dict[str, str] | None = None, cwd: Path | None = None) -> Any:
        vg = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out_dir}/cg.%p"]
        return plain_server([*vg, *cmd], port, env, cwd)

    trees = {"this tree": None} | ({f"--compare {args.compare}": args.compare / "src"} if args.compare else {})
    body = {"model": "echo", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        project = Path(tmp)
        (project / "llmkit.toml").write_text('collection = "bench"\n', encoding="utf-8")
        port = serve.free_port()
        upstream = stack.enter_context(
            plain_server([sys.executable, serve.__file__, "--upstream", "--port", str(port)], port)
        )
        os.environ["LLMKIT_SERVER__REQUESTS_PER_MINUTE"] = str(10 * (args.requests + args.warmup) + 1000)
        serve.server = under_valgrind
        urls: dict[str, str] = {}
        for name, src in trees.items():
            os.environ.pop("PYTHONPATH", None) if src is None else os.environ.__setitem__("PYTHONPATH", str(src))
            urls[name] = stack.enter_context(serve.llmkit_server(project, "echo", 1, base_url=f"{upstream}/v1"))
        os.environ.pop("PYTHONPATH", None)
        client = stack.enter_context(httpx.Client(timeout=120))

        def send_all() -> None:
            for url in urls.values():
                r = client.post(f"{url}/v1/chat/completions", json=body)
                if r.status_code != 200:
                    raise RuntimeError(f"{url}: HTTP {r.status_code}: {r.text[:300]}")

        for _ in range(args.warmup):
            send_all()
        for url in urls.values():
            subprocess.run(["callgrind_control", "-i", "on", str(serve.PIDS[url])], check=True, capture_output=True)
        for _ in range(args.requests):
            send_all()
        print(f"gateway, {args.requests} sequential non-streaming requests (after {args.warmup} to warm up):")
        for name, url in urls.items():
            pid = serve.PIDS[url]
            subprocess.run(["callgrind_control", "-i", "off", str(pid)], check=True, capture_output=True)
            subprocess.run(["callgrind_control", "-d", str(pid)], check=True, capture_output=True)
            time.sleep(1)
            print(f"  {name:<40} {totals(out_dir, pid) / args.requests / 1e6:6.2f} M instructions a request")
    shutil.rmtree(out_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
