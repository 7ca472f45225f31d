"""Expand what the user named (files, folders, glob patterns, ``-`` for stdin) into sources to ingest.

>>> exp = expand(["docs/", "notes/*.md", "-"], IngestSettings())   # doctest: +SKIP
>>> [item.name for item in exp.items], exp.problems                 # doctest: +SKIP
(['docs/a.md', 'docs/sub/b.pdf', 'notes/x.md', 'stdin-3f2a9c0d1b7e'], [('docs/big.pdf', 'skipped: 80.0 MB ...')])

Source names are the paths as the user addressed them (``docs/a.md`` for the input ``docs``), so they
are unique across roots and can be opened from where the command ran; stdin is ``stdin-`` and the first
12 hex digits of its bytes' sha256, unless named. Order is deterministic: inputs in the order given,
files sorted within each. Include/exclude patterns apply to paths relative to the folder (or glob
base) they were found under; a file named explicitly is always taken. Symbolic links are followed only
when they point inside that folder, and never twice into one folder, so a ``**`` pattern is walked like
a folder: a link back up cannot loop.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

from llmkit.config import IngestSettings
from llmkit.errors import LoaderError

STDIN = "-"
#: the reasons given for inputs that do not exist
NOT_FOUND, NO_MATCH = "no such file or directory", "no file matches this pattern"


@dataclass(frozen=True, slots=True)
class SourceItem:
    """One thing to ingest: its name and either a path to read or the bytes already read (stdin)."""

    name: str
    content: Path | bytes

    def read(self) -> bytes:
        """The bytes; ``LoaderError`` (with the OS's reason) when the file cannot be read."""
        if isinstance(self.content, bytes):
            return self.content
        try:
            return self.content.read_bytes()
        except IsADirectoryError:
            raise LoaderError(self.name, "is a directory, not a file") from None
        except OSError as e:
            raise LoaderError(self.name, f"cannot read: {e.strerror or e}") from None


@dataclass(slots=True)
class Expansion:
    items: list[SourceItem] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (name, reason) of what was skipped
    refused: set[str] = field(default_factory=set, repr=False)  # real paths of links refused, reported once


def expand(
    inputs: Iterable[str | Path],
    settings: IngestSettings,
    *,
    stdin: BinaryIO | None = None,
    stdin_name: str | None = None,
    base: str | Path | None = None,
) -> Expansion:
    """Every file under ``inputs``; what cannot be taken goes in ``problems`` with its reason.

    With ``base`` (the project folder), files are named by ``source_name`` — relative to ``base`` when
    inside it — so the same file keeps one name whichever folder the command ran from. Stdin is named
    ``stdin_name``, else by its content (``stdin_source``), so each piped text is a document of its own.
    """
    out, seen = Expansion(), set[str]()
    limit = int(settings.max_file_mb * 1024 * 1024)
    for raw in inputs:
        given = str(raw)
        if given == STDIN:
            data = (stdin or sys.stdin.buffer).read()
            name = stdin_name or stdin_source(data)
            if len(data) > limit:
                out.problems.append((name, _too_big(len(data), settings)))
            else:
                out.items.append(SourceItem(name, data))
            continue
        for name, path in _candidates(given, settings, out):
            real = os.path.realpath(path)
            if real in seen:
                continue
            seen.add(real)
            _take(name if base is None else source_name(path, base), path, limit, settings, out)
    return out


def stdin_source(data: bytes) -> str:
    """The source name of text read from stdin: the same text always gets the same name.

    >>> stdin_source(b"piped text")
    'stdin-77f821ae7ce8'
    """
    return f"stdin-{hashlib.sha256(data).hexdigest()[:12]}"


def source_name(path: str | Path, base: str | Path) -> str:
    """A file's name in the store: relative to ``base`` when inside it, else absolute; ``/``-separated.

    >>> source_name("/proj/docs/a.md", "/proj"), source_name("/elsewhere/b.md", "/proj")
    ('docs/a.md', '/elsewhere/b.md')
    """
    full, root = os.path.abspath(path), os.path.abspath(base)
    if full == root or full.startswith(root.rstrip(os.sep) + os.sep):
        return _clean(os.path.relpath(full, root))
    return _clean(full)


def _take(name: str, path: Path, limit: int, settings: IngestSettings, out: Expansion) -> None:
    try:
        st = path.stat()
    except OSError as e:
        out.problems.append((name, f"cannot read: {e.strerror or e}"))
        return
    if st.st_size > limit:
        out.problems.append((name, _too_big(st.st_size, settings)))
    elif not os.access(path, os.R_OK):
        out.problems.append((name, "cannot read: permission denied"))
    else:
        out.items.append(SourceItem(name, path))


def _too_big(size: int, settings: IngestSettings) -> str:
    return f"skipped: {size / 1e6:.1f} MB is over the {settings.max_file_mb:g} MB limit (ingest.max_file_mb)"


def _candidates(given: str, settings: IngestSettings, out: Expansion) -> Iterable[tuple[str, Path]]:
    path = Path(given)
    if glob.has_magic(given) and "**" in given:
        files = list(_walk_pattern(given, settings, out))
        if not files:
            out.problems.append((given, NO_MATCH))
        yield from files
    elif glob.has_magic(given):  # a fixed depth: glob cannot loop
        base = _glob_base(given)
        matches = sorted(glob.glob(given))
        if not matches:
            out.problems.append((given, NO_MATCH))
        for m in matches:
            p = Path(m)
            if p.is_dir():
                yield from _walk(p, settings, out)
            elif _inside(p, base, out, _clean(m)):
                yield _clean(m), p
    elif path.is_dir():
        yield from _walk(path, settings, out)
    elif path.exists() or path.is_symlink():
        yield _clean(given), path
    else:
        out.problems.append((given, NOT_FOUND))


def _walk_pattern(pattern: str, settings: IngestSettings, out: Expansion) -> Iterable[tuple[str, Path]]:
    """Files matching a ``**`` pattern, found by walking its base folder (``glob`` follows link loops).

    A file the pattern names is taken; one under a folder it names goes through ``include`` as well.
    """
    base = _glob_base(pattern)
    rest = Path(pattern).relative_to(base).as_posix() if base != "." else Path(pattern).as_posix()
    if not Path(base).is_dir():
        return

    def wanted(rel: str) -> bool:
        return _matches(rel, [rest]) or (_matches(rel, [rest.rstrip("/") + "/**"]) and _matches(rel, settings.include))

    yield from _walk(Path(base), settings, out, wanted)


def _walk(
    root: Path, settings: IngestSettings, out: Expansion, wanted: Callable[[str], bool] | None = None
) -> Iterable[tuple[str, Path]]:
    """Files under ``root``, sorted, filtered, never leaving ``root`` through a symbolic link.

    ``wanted`` (a relative path -> take it) replaces ``settings.include``; ``settings.exclude`` applies.
    """
    real_root = os.path.realpath(root)
    visited = {real_root}
    for folder, dirs, files in os.walk(root, followlinks=True, onerror=lambda e: _walk_error(e, root, out)):
        rel_folder = os.path.relpath(folder, root)
        keep = []
        for d in sorted(dirs):
            rel = _rel(rel_folder, d)
            full = os.path.join(folder, d)
            real = os.path.realpath(full)
            if _excluded(rel, settings.exclude, is_dir=True) or real in visited:
                continue
            if _inside(Path(full), real_root, out, _clean(os.path.join(str(root), rel))):
                visited.add(real)
                keep.append(d)
        dirs[:] = keep
        for f in sorted(files):
            rel = _rel(rel_folder, f)
            name = _clean(os.path.join(str(root), rel))
            take = wanted(rel) if wanted is not None else _matches(rel, settings.include)
            if take and not _excluded(rel, settings.exclude, is_dir=False):
                full = Path(folder, f)
                if _inside(full, real_root, out, name):
                    yield name, full


def _walk_error(error: OSError, root: Path, out: Expansion) -> None:
    out.problems.append((_clean(str(error.filename or root)), f"cannot read: {error.strerror or error}"))


def _inside(path: Path, root: Path | str, out: Expansion, name: str) -> bool:
    real, real_root = os.path.realpath(path), os.path.realpath(root)
    if real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep):
        return True
    if real not in out.refused:
        out.refused.add(real)
        out.problems.append((name, "skipped: a symbolic link that points outside the input folder"))
    return False


def _glob_base(pattern: str) -> str:
    parts = []
    for part in Path(pattern).parts:
        if glob.has_magic(part):
            break
        parts.append(part)
    return str(Path(*parts)) if parts else "."


def _rel(folder: str, name: str) -> str:
    return name if folder == "." else f"{folder}/{name}".replace(os.sep, "/")


def _clean(path: str) -> str:
    return os.path.normpath(path).replace(os.sep, "/")


def _excluded(rel: str, patterns: Sequence[str], *, is_dir: bool) -> bool:
    """A file matches a pattern; a folder also matches ``X/**`` when it is ``X`` (so it is not entered)."""
    if _matches(rel, patterns):
        return True
    return is_dir and _matches(rel, [p[:-3] for p in patterns if p.endswith("/**")])


def _matches(rel: str, patterns: Sequence[str]) -> bool:
    """Glob match with ``**`` spanning folders and ``*`` staying inside one.

    >>> _matches("a.md", ["**/*.md"]), _matches("x/y/a.md", ["**/*.md"]), _matches("x/a.md", ["*.md"])
    (True, True, False)
    >>> _matches(".git/config", [".git/**"]), _matches("sub/.env", ["**/.*"])
    (True, True)
    """
    return any(_compile(p).fullmatch(rel) for p in patterns)


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 1 :]:
            j = pattern.index("]", i + 1)
            body = pattern[i + 1 : j].replace("\\", "\\\\")
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = j + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out), re.DOTALL)
