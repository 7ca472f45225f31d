"""The base model of a fine-tune: a Hugging Face folder, a ``.gguf`` file or a catalog name.

transformers loads a GGUF file dequantised (``from_pretrained(folder, gguf_file=...)``), but such a
model cannot be trained and saved like a normal checkpoint, and loading it dequantises every time
(15 s for SmolLM2-135M). So a GGUF base is converted once to a plain safetensors folder, cached under
``<cache>/gguf-hf/<sha256 prefix>/`` and trained from there; the GGUF file is kept as the template
(tokenizer, chat template, metadata) for exporting the tuned model back to GGUF.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from llmkit.errors import ConfigError, NotFound

WEIGHTS = ("*.safetensors", "*.bin")


@dataclass(frozen=True, slots=True)
class BaseModelRef:
    """A resolved base: ``hf_dir`` is what transformers trains from; ``gguf`` the source GGUF, if any."""

    name: str
    sha256: str
    hf_dir: Path
    gguf: Path | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"name": self.name, "sha256": self.sha256, "hf_dir": str(self.hf_dir), "gguf": _str(self.gguf)}


def resolve_base(base: str, models_dir: Path, cache_dir: Path) -> BaseModelRef:
    """Find ``base`` and make sure a safetensors folder exists for it (converting a GGUF once)."""
    path = Path(base).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise NotFound(f"{path} is not a Hugging Face model folder (no config.json)")
        return BaseModelRef(path.name, folder_sha256(path), path.resolve())
    if base.lower().endswith(".gguf"):
        if not path.is_file():
            raise NotFound(f"base model file not found: {path}")
        return _from_gguf(path.stem, path.resolve(), cache_dir)
    from llmkit.models.catalog import Catalog

    catalog = Catalog(models_dir)
    if base not in catalog:
        raise NotFound(
            f"unknown base model {base!r}",
            hint="use a catalog name (llmkit models list), a .gguf file or a Hugging Face model folder",
        )
    if catalog.entry(base).kind != "chat":
        raise ConfigError(f"{base!r} is not a chat model; a LoRA base must be one")
    return _from_gguf(base, catalog.path(base), cache_dir)


def folder_sha256(folder: Path) -> str:
    """One sha256 over a model folder's config and weight files (names and contents, sorted)."""
    from llmkit.models.fetch import sha256_file

    h = hashlib.sha256()
    files = sorted({p for pattern in ("config.json", *WEIGHTS) for p in folder.glob(pattern)})
    for p in files:
        h.update(f"{p.name}:{sha256_file(p)}\n".encode())
    return h.hexdigest()


def _from_gguf(name: str, gguf: Path, cache_dir: Path) -> BaseModelRef:
    from llmkit.models.fetch import sha256_file

    sha = sha256_file(gguf)
    target = cache_dir / "gguf-hf" / sha[:16]
    if not (target / "llmkit-source.json").is_file():
        convert_gguf_to_hf(gguf, target)
        (target / "llmkit-source.json").write_text(json.dumps({"gguf": str(gguf), "sha256": sha}), "utf-8")
    return BaseModelRef(name, sha, target, gguf)


def convert_gguf_to_hf(gguf: Path, target: Path) -> None:
    """Dequantise ``gguf`` with transformers and write model + tokenizer as a safetensors folder."""
    from llmkit.finetune.hf import import_transformers

    transformers = import_transformers()
    tmp = target.with_name(target.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    kwargs = {"gguf_file": gguf.name}
    tokenizer = transformers.AutoTokenizer.from_pretrained(gguf.parent, **kwargs)
    model = transformers.AutoModelForCausalLM.from_pretrained(gguf.parent, dtype="float32", **kwargs)
    # save_pretrained refuses a model loaded from GGUF ("quantized with gguf and is not serializable"), but
    # the weights are plain float32 tensors by now: write them, and a config without the quantisation note
    from safetensors.torch import save_model

    tmp.mkdir(parents=True)
    save_model(model, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.save_pretrained(tmp)
    model.generation_config.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)


def _str(p: Path | None) -> str | None:
    return str(p) if p else None
