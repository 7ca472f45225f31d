"""``read_file``: read text files inside allowed folders only (no ``..`` traversal, no symlink escape)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from llmkit.agents.tools import Tool
from llmkit.errors import InputError, NotFound

MAX_BYTES = 64_000


def safe_path(path: str, roots: Sequence[Path]) -> Path:
    """``path`` (relative to the first root, or absolute) resolved, if it stays inside one of ``roots``.

    Symlinks are resolved before the check, so a link pointing out of a root is refused.
    """
    if not path.strip() or "\x00" in path:
        raise InputError("give a file path")
    candidate = Path(path).expanduser()
    if not candidate.is_absolute():
        candidate = roots[0] / candidate
    try:
        resolved = candidate.resolve(strict=True)
    except FileNotFoundError:
        raise NotFound(f"no file {path!r}") from None
    except (OSError, RuntimeError) as e:  # symlink loops
        raise InputError(f"cannot open {path!r}: {e}") from None
    if not any(resolved.is_relative_to(r) for r in roots):
        raise InputError(f"{path!r} is outside the allowed folders")
    return resolved


def read_file(allowed: Sequence[str | Path], *, max_bytes: int = MAX_BYTES) -> Tool:
    """The ``read_file`` tool over the folders ``allowed`` (at least one)."""
    roots = [Path(a).expanduser().resolve() for a in allowed]
    if not roots:
        raise InputError("read_file needs at least one allowed folder", hint="--allow-dir PATH")
    missing = [str(r) for r in roots if not r.is_dir()]
    if missing:
        raise InputError(f"allowed folders that do not exist: {missing}")

    def read_file(path: str) -> str:
        """Read a text file from the allowed folders; give its path relative to the first folder."""
        target = safe_path(path, roots)
        if target.is_dir():
            names = sorted(p.name + ("/" if p.is_dir() else "") for p in target.iterdir())[:200]
            return "folder: " + ", ".join(names)
        with target.open("rb") as f:
            data = f.read(max_bytes + 1)
        if b"\x00" in data[:1024]:
            raise InputError(f"{path!r} is a binary file")
        text = data[:max_bytes].decode("utf-8", errors="replace")
        return text + (f"\n... [cut at {max_bytes} bytes]" if len(data) > max_bytes else "")

    return Tool.from_function(read_file)
