"""``PromptRegistry``: prompt files by name, their saved versions, and labels such as ``prod``.

Where prompts come from, first match wins:

1. the project's prompt folder (``prompts/`` beside llmkit.toml; ``[prompts] dir``), one ``NAME.md`` each;
2. the prompts shipped with llmkit (``llmkit/prompts/builtin/``: the RAG answer, judges, synthesis).

Every version that was labelled, optimised or evaluated is kept in ``.llmkit/prompts/NAME/VERSION.md``,
so ``name@version`` always resolves, even after the file changed. Labels live in
``.llmkit/prompts/labels.json``, written under a file lock so concurrent writers do not lose labels.
A reference is ``name`` (the ``prod`` label if set, else the file), ``name@label`` or ``name@version``
(a unique prefix of at least 4 hex digits, which is why a label may not look like one). A file's
front-matter ``name`` must match its file name.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from llmkit.errors import InputError, NotFound
from llmkit.prompts.prompt import Prompt, parse_prompt

if TYPE_CHECKING:
    from llmkit.config import Settings

_LABEL = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_HEX = re.compile(r"^[0-9a-f]{4,12}$")
DEFAULT_LABEL = "prod"


@dataclass(frozen=True, slots=True)
class PromptInfo:
    name: str
    version: str
    source: str
    description: str
    labels: dict[str, str]  # label -> version


def builtin_dir() -> Path:
    return Path(str(resources.files("llmkit.prompts") / "builtin"))


def split_ref(ref: str) -> tuple[str, str | None]:
    """``"name@x"`` -> ``("name", "x")``.

    >>> split_ref("rag-answer@prod"), split_ref("rag-answer")
    (('rag-answer', 'prod'), ('rag-answer', None))
    """
    name, _, which = ref.strip().partition("@")
    if not name:
        raise InputError(f"prompt reference {ref!r} has no name", hint="use NAME, NAME@LABEL or NAME@VERSION")
    return name, which or None


class PromptRegistry:
    """Prompt files, versions and labels for one project (or the built-ins alone when ``data_dir`` is None)."""

    def __init__(self, folders: list[Path] | tuple[Path, ...] = (), data_dir: Path | None = None) -> None:
        self.folders = [*folders, builtin_dir()]
        self.data_dir = data_dir

    @classmethod
    def for_project(cls, settings: Settings) -> PromptRegistry:
        """The project's prompt files (``[prompts] dir``) and saved versions, then llmkit's built-ins."""
        return cls([settings.resolve(settings.prompts.dir)], settings.data_dir / "prompts")

    # ------------------------------------------------------------------ reading

    def names(self) -> list[str]:
        found = {p.stem for folder in self.folders if folder.is_dir() for p in folder.glob("*.md")}
        if self.data_dir and self.data_dir.is_dir():
            found |= {p.name for p in self.data_dir.iterdir() if p.is_dir()}
        return sorted(found)

    def current(self, name: str) -> Prompt:
        """The prompt as its file says now."""
        for folder in self.folders:
            path = folder / f"{name}.md"
            if path.is_file():
                return _named(parse_prompt(_read(path), source=str(path), name=name), name, path)
        saved = self._saved(name)
        if saved:
            return self._load_saved(name, max(saved, key=lambda v: saved[v].stat().st_mtime))
        raise NotFound(f"no prompt {name!r}", hint=f"known prompts: {', '.join(self.names()) or 'none'}")

    def get(self, ref: str) -> Prompt:
        """Resolve ``name``, ``name@label`` or ``name@version``."""
        name, which = split_ref(ref)
        if which is None:
            which = self.labels(name).get(DEFAULT_LABEL)
            if which is None:
                return self.current(name)
        if not _HEX.match(which):
            version = self.labels(name).get(which)
            if version is None:
                raise NotFound(f"prompt {name!r} has no label {which!r}", hint=f"labels: {self.labels(name) or 'none'}")
            which = version
        return self._version(name, which)

    def versions(self, name: str) -> list[str]:
        """Saved versions, oldest first, with the current file's version last if it is not saved."""
        saved = self._saved(name)
        ordered = sorted(saved, key=lambda v: saved[v].stat().st_mtime)
        try:
            now = self.current(name).version
        except NotFound:
            return ordered
        return [v for v in ordered if v != now] + [now]

    def labels(self, name: str) -> dict[str, str]:
        return dict(self._all_labels().get(name, {}))

    def list(self) -> list[PromptInfo]:
        out = []
        for name in self.names():
            p = self.current(name)
            source = next((str(f / f"{name}.md") for f in self.folders if (f / f"{name}.md").is_file()), "saved")
            out.append(PromptInfo(name, p.version, source, p.description, self.labels(name)))
        return out

    def diff(self, a: str, b: str) -> str:
        """A unified diff between two references (``name@v1`` and ``name@v2``, or two prompts)."""
        pa, pb = self.get(a), self.get(b)
        lines = difflib.unified_diff(
            pa.text.splitlines(keepends=True), pb.text.splitlines(keepends=True), pa.ref, pb.ref
        )
        return "".join(lines)

    # ------------------------------------------------------------------ writing

    def save(self, prompt: Prompt) -> Prompt:
        """Keep this version, so ``name@version`` resolves later. Returns the prompt."""
        folder = self._require_data() / prompt.name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{prompt.version}.md"
        if not path.exists():
            _write_atomic(path, prompt.text)
        return prompt

    def label(self, ref: str, label: str) -> Prompt:
        """Point ``label`` at the version ``ref`` resolves to (saving that version)."""
        if not _LABEL.match(label):
            raise InputError(f"label {label!r}: use lower-case letters, digits, '-' or '_' (e.g. prod, staging)")
        if _HEX.match(label):
            raise InputError(f"label {label!r} looks like a version (hex digits), so NAME@{label} would not find it",
                             hint="use a word with a letter past 'f' (e.g. prod, staging, best)")  # fmt: skip
        prompt = self.save(self.get(ref))
        data = self._require_data()
        with _locked(data / "labels.json.lock"):  # read-modify-write: another process may be labelling too
            labels = self._all_labels()
            labels.setdefault(prompt.name, {})[label] = prompt.version
            _write_atomic(data / "labels.json", json.dumps(labels, indent=2, sort_keys=True))
        return prompt

    # ------------------------------------------------------------------ internals

    def _version(self, name: str, version: str) -> Prompt:
        current = self.current(name)
        candidates = {v for v in self._saved(name) if v.startswith(version)}
        if current.version.startswith(version):
            candidates.add(current.version)
        if not candidates:
            raise NotFound(f"prompt {name!r} has no version {version!r}", hint=f"`llmkit prompts show {name}`")
        if len(candidates) > 1:
            raise InputError(f"{name}@{version} matches several versions; give more digits")
        (found,) = candidates
        return current if found == current.version else self._load_saved(name, found)

    def _saved(self, name: str) -> dict[str, Path]:
        folder = self.data_dir / name if self.data_dir else None
        if folder is None or not folder.is_dir():
            return {}
        return {p.stem: p for p in folder.glob("*.md")}

    def _load_saved(self, name: str, version: str) -> Prompt:
        path = self._saved(name)[version]
        return _named(parse_prompt(_read(path), source=str(path), name=name), name, path)

    def _all_labels(self) -> dict[str, dict[str, str]]:
        path = self.data_dir / "labels.json" if self.data_dir else None
        if path is None or not path.is_file():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise InputError(f"{path}: unreadable labels file ({e}); fix or delete it") from None
        if not isinstance(data, dict):
            raise InputError(f"{path}: expected an object of prompt name -> {{label: version}}; fix or delete it")
        for name, labels in data.items():
            if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
                raise InputError(
                    f"{path}: the labels of {name!r} must be an object of label: version; fix or delete it"
                )
        return data

    def _require_data(self) -> Path:
        if self.data_dir is None:
            raise InputError("this registry has no project folder to save versions in", hint="open a project")
        return self.data_dir


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read the prompt file: {e}") from None


def _named(prompt: Prompt, name: str, path: Path) -> Prompt:
    """``prompt`` read from ``path``, which holds prompt ``name``: its front matter may not say otherwise."""
    if prompt.name != name:
        raise InputError(f"{path}: the front matter says name: {prompt.name}, but the file is prompt {name!r}",
                         hint=f"make them the same (rename the file to {prompt.name}.md or fix the name)")  # fmt: skip
    return prompt


def _write_atomic(path: Path, text: str) -> None:
    """Write through a temporary file of its own (unique per writer), then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (made if missing) between processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as f:
        if os.name == "nt":
            import msvcrt

            f.seek(0)
            msvcrt.locking(f.fileno(), msvcrt.LK_LOCK, 1)  # type: ignore[attr-defined]
            try:
                yield
            finally:
                f.seek(0)
                msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
        else:
            import fcntl

            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)


def builtin(name: str) -> Prompt:
    """A prompt shipped with llmkit, by name."""
    return PromptRegistry().current(name)
