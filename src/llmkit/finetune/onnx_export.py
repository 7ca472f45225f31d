"""A tuned sentence embedder back to ONNX, int8, checked against torch, registered in the catalog.

The graph has what ``llmkit.embeddings.onnx_minilm.OnnxEmbedder`` feeds and reads: inputs
``input_ids``, ``attention_mask``, ``token_type_ids`` (int64, batch x sequence), first output the last
hidden states (batch x sequence x dim); pooling and normalisation stay outside the graph, as for the
stock model. ``torch.onnx.export`` (the TorchScript exporter, which needs no extra package) writes the
float graph; ``int8_weights`` makes it weight-only int8, like the stock ``all-minilm-l6-v2``: each
MatMul weight (and the embedding table) is stored as int8 with a scale per output column (row) and
dequantised by a ``DequantizeLinear`` node (onnxruntime folds it once, at load); activations stay float.
That follows torch closely (mean cosine 0.9992, worst 0.997 on the parity sentences), where
``onnxruntime.quantization.quantize_dynamic``, which also quantises activations at run time, gave only
0.978-0.995 on MiniLM. The file is about a quarter of the float one.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmkit.errors import BackendUnavailable, InputError, NotFound

if TYPE_CHECKING:
    from llmkit.config import Settings

#: Sentences the exported model is compared on (short and long, plain and technical).
PARITY_SENTENCES = (
    "A cat sat on the mat.",
    "How long is the warranty on the Acme Widget 3000?",
    "Vitamin D deficiency is associated with an increased risk of multiple sclerosis.",
    "The mitochondrial electron transport chain produces reactive oxygen species as a by-product.",
    "Quarterly revenue grew 12% while operating costs fell, according to the annual report.",
    "ein kurzer deutscher Satz",
    "x",
    "Transformers use self-attention to weigh every token against every other token in the sequence, "
    "which lets the model capture long-range dependencies without recurrence.",
)
#: Parity the int8 model must reach: mean cosine over the sentences, and the worst single one.
MEAN_COSINE, MIN_COSINE = 0.99, 0.97


@dataclass(frozen=True)
class OnnxExport:
    """The exported files and how closely the int8 model follows the torch one."""

    model: Path
    tokenizer: Path
    min_cosine: float
    mean_cosine: float
    float_model: Path | None = None


def export_onnx(model_dir: str | Path, out_dir: str | Path, *, quantize: bool = True, opset: int = 17) -> OnnxExport:
    """Export the sentence-transformers model in ``model_dir`` to ``out_dir/model.onnx`` and check it.

    Raises ``BackendUnavailable`` when the ONNX embeddings' cosine to the torch ones falls below
    ``MEAN_COSINE`` on average or ``MIN_COSINE`` for any sample sentence.
    """
    model_dir, out = Path(model_dir), Path(out_dir)
    tokenizer = model_dir / "tokenizer.json"
    if not tokenizer.is_file():
        raise NotFound(f"{model_dir}: no tokenizer.json (a fast tokenizer is needed for the ONNX embedder)")
    out.mkdir(parents=True, exist_ok=True)
    float_path = out / "model.float.onnx"
    _export_float(model_dir, float_path, opset)
    final = out / "model.onnx"
    if quantize:
        int8_weights(float_path, final)
    else:
        shutil.copyfile(float_path, final)
    shutil.copyfile(tokenizer, out / "tokenizer.json")
    cosines = parity(model_dir, final, out / "tokenizer.json")
    result = OnnxExport(final, out / "tokenizer.json", min(cosines), sum(cosines) / len(cosines), float_path)
    if result.mean_cosine < MEAN_COSINE or result.min_cosine < MIN_COSINE:
        raise BackendUnavailable(
            f"the exported ONNX model's embeddings differ from torch's (cosine mean {result.mean_cosine:.4f},"
            f" min {result.min_cosine:.4f}; needed {MEAN_COSINE} and {MIN_COSINE})",
            hint="export without int8 quantisation (--no-quantize) and report the model",
        )
    return result


def int8_weights(src: Path, dst: Path, *, min_size: int = 4096) -> int:
    """Write ``src`` to ``dst`` with its large constant float weights stored as int8 behind a
    ``DequantizeLinear`` (symmetric): MatMul weights with a scale per output column, embedding tables
    (Gather) with a scale per row. Returns how many weights were converted."""
    import onnx

    model = onnx.load(str(src))
    weights = {i.name: i for i in model.graph.initializer}
    axes = {n.input[1]: 1 for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in weights}
    axes |= {n.input[0]: 0 for n in model.graph.node if n.op_type == "Gather" and n.input[0] in weights}
    done = sum(_int8_weight(model.graph, weights[name], axis, min_size) for name, axis in sorted(axes.items()))
    onnx.save(model, str(dst))
    return done


def _int8_weight(graph: Any, init: Any, axis: int, min_size: int) -> bool:
    import numpy as np
    from onnx import helper, numpy_helper

    w = numpy_helper.to_array(init)
    if w.ndim != 2 or w.dtype != np.float32 or w.size < min_size:
        return False
    scale = np.maximum(np.abs(w).max(axis=1 - axis), 1e-12) / 127.0  # one per column (axis 1) or row (axis 0)
    q = np.clip(np.rint(w / np.expand_dims(scale, 1 - axis)), -127, 127).astype(np.int8)
    name = init.name
    graph.initializer.remove(init)
    graph.initializer.extend([
        numpy_helper.from_array(q, f"{name}_int8"),
        numpy_helper.from_array(scale.astype(np.float32), f"{name}_scale"),
        numpy_helper.from_array(np.zeros(scale.shape, dtype=np.int8), f"{name}_zero"),
    ])  # fmt: skip
    inputs = [f"{name}_int8", f"{name}_scale", f"{name}_zero"]
    graph.node.insert(0, helper.make_node("DequantizeLinear", inputs, [name], axis=axis, name=f"{name}_dq"))
    return True


def _export_float(model_dir: Path, path: Path, opset: int) -> None:
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()  # sdpa traces badly
    ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 102], [101, 2178, 102, 0, 0, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "sequence"} for n in names} | {"last_hidden_state": {0: "batch", 1: "sequence"}}
    with torch.no_grad():
        torch.onnx.export(
            _HiddenStates(model),
            (ids, mask, torch.zeros_like(ids)),
            str(path),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=opset,
            dynamo=False,
        )


class _HiddenStates:
    """Wraps a ``transformers`` encoder so the traced graph returns only the last hidden states."""

    def __new__(cls, model: Any) -> Any:
        import torch

        class Wrapper(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
                return out.last_hidden_state

        return Wrapper().eval()


def parity(
    model_dir: Path, onnx_path: Path, tokenizer: Path, sentences: Sequence[str] = PARITY_SENTENCES
) -> list[float]:
    """Cosine between the torch model's and the ONNX embedder's embedding of each sentence."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from llmkit.embeddings.onnx_minilm import OnnxEmbedder

    torch_model = SentenceTransformer(str(model_dir), device="cpu")
    reference = torch_model.encode(list(sentences), normalize_embeddings=True)
    onnx = OnnxEmbedder(onnx_path, tokenizer, max_tokens=torch_model.max_seq_length).embed(list(sentences))
    return [float(x) for x in np.sum(np.asarray(reference) * onnx, axis=1)]


def register_embedder(
    settings: Settings, name: str, export: OnnxExport, *, description: str = "", lineage: Mapping[str, Any]
) -> Any:
    """Add the exported model to the catalog as an embedder, so ``[embedder] name = "NAME"`` uses it."""
    from llmkit.models.catalog import Catalog
    from llmkit.models.entries import NAME

    if not NAME.match(name):
        raise InputError(f"model name {name!r} must be lowercase letters, digits, '.', '_' or '-' (1-64)")
    catalog = Catalog(settings.models_dir)
    files = {"model": export.model, "tokenizer": export.tokenizer}
    return catalog.register(name, "embedder", files, description=description, lineage=dict(lineage))


def base_lineage(settings: Settings | None, base: str | Path) -> dict[str, Any]:
    """``{"name", "sha256"}`` of the base model's weights (its main file)."""
    from llmkit.finetune.embedder import resolve_base
    from llmkit.models.fetch import sha256_file

    folder = resolve_base(base, settings)
    weights = next((folder / f for f in ("model.safetensors", "pytorch_model.bin") if (folder / f).is_file()), None)
    return {"name": str(base), "sha256": sha256_file(weights) if weights else None}


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
