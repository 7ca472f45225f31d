"""``python``: run a short Python program in a sandboxed subprocess and get its output.

Isolation, in layers (each says what it stops):

- a fresh network namespace via ``unshare -n`` (or ``unshare -rn`` without root) where the kernel
  allows it: no interface but a down loopback, so no connection can leave; ``network_isolation()``
  reports which applied;
- rlimits (set by the child on itself before the program runs): CPU seconds, address space (memory),
  largest file written, open files, no core dumps;
- a wall-clock timeout that kills the whole process group;
- an empty environment, ``python -I`` (no user site, no PYTHON* variables), the scratch folder as cwd;
- a Python audit hook (``_sandbox_boot.py``) refusing sockets, subprocesses, ``fork``/``exec``,
  ``ctypes``, and files outside the scratch folder (writes) or outside it and Python's own files (reads).

The audit hook is not a security boundary against a determined attacker with native code (which it
tries to keep out by refusing ``ctypes``); the namespace, rlimits and timeout are enforced by the kernel.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from llmkit.agents.tools import Tool
from llmkit.errors import InputError

BOOT = Path(__file__).with_name("_sandbox_boot.py")
MAX_CODE = 20_000


@functools.cache
def network_isolation() -> tuple[str, ...]:
    """The ``unshare`` prefix that puts a child in its own network namespace here, or ``()`` if none works."""
    exe = shutil.which("unshare")
    if exe is None:
        return ()
    for prefix in ((exe, "-n"), (exe, "-rn")):
        try:
            if subprocess.run([*prefix, "true"], capture_output=True, timeout=5).returncode == 0:
                return prefix
        except (OSError, subprocess.TimeoutExpired):
            continue
    return ()


def run_python(
    code: str, scratch: Path, *, cpu_s: int = 5, memory_mb: int = 512, timeout_s: float = 10.0, file_mb: int = 16
) -> tuple[int | None, str]:
    """Run ``code`` in ``scratch``; returns (exit code or ``None`` on timeout, combined output)."""
    if not code.strip():
        raise InputError("the program is empty")
    if len(code) > MAX_CODE:
        raise InputError(f"the program is longer than {MAX_CODE} characters")
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "main.py").write_text(code, encoding="utf-8")
    limits = [str(cpu_s), str(memory_mb), str(file_mb)]
    command = [*network_isolation(), sys.executable, "-I", str(BOOT), str(scratch), *limits]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(scratch), "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8"}
    proc = subprocess.Popen(
        command, cwd=scratch, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        out, _ = proc.communicate(timeout=timeout_s)
        return proc.returncode, out.decode("utf-8", errors="replace")
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return None, out.decode("utf-8", errors="replace")


def python_sandbox(
    scratch: str | Path | None = None, *, cpu_s: int = 5, memory_mb: int = 512, timeout_s: float = 10.0
) -> Tool:
    """The ``python`` tool; each call runs in ``scratch`` (default: a new temporary folder per tool)."""
    folder = Path(scratch) if scratch is not None else Path(tempfile.mkdtemp(prefix="llmkit-sandbox-"))

    def python(code: str) -> str:
        """Run a short Python program (standard library only, no network, files only in the current folder).
        Print what you need to see."""
        status, output = run_python(code, folder.resolve(), cpu_s=cpu_s, memory_mb=memory_mb, timeout_s=timeout_s)
        if status is None:
            return f"{output}\n[killed: the program ran longer than {timeout_s:g} s]"
        if status < 0:
            return f"{output}\n[killed by signal {-status}: the program hit its CPU or memory limit]"
        return output if status == 0 else f"{output}\n[exit status {status}]"

    return Tool.from_function(python, side_effects=True)
