"""A user-supplied cross-encoder: an ONNX export (onnxruntime + tokenizers, already llmkit's) or a
sentence-transformers ``CrossEncoder`` (``pip install sentence-transformers``; it brings torch).

No PyPI package carries a cross-encoder's weights, so llmkit ships none: point ``[retrieval] rerank`` at
an ``.onnx`` file (with ``tokenizer.json`` beside it) or at a folder holding both, or name a model
sentence-transformers can load (a local folder, or a Hugging Face id where the network allows).
The model loads on the first ``score`` call.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llmkit.errors import ConfigError, MissingExtra


class CrossEncoderReranker:
    """``score(query, passages)``: the cross-encoder's logit for each (query, passage) pair."""

    def __init__(self, name: str, *, max_length: int = 512, batch_size: int = 16) -> None:
        self.name = name
        self.max_length, self.batch_size = max_length, batch_size
        self._run: Any = None
        self._lock = threading.Lock()

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        with self._lock:
            if self._run is None:
                self._run = self._load()
        out: list[float] = []
        for i in range(0, len(passages), self.batch_size):
            out += self._run([(query, p) for p in passages[i : i + self.batch_size]])
        return out

    def _load(self) -> Any:
        path = Path(self.name)
        if path.suffix == ".onnx" or (path.is_dir() and (path / "model.onnx").is_file()):
            return self._load_onnx(path if path.suffix == ".onnx" else path / "model.onnx")
        try:
            from sentence_transformers import CrossEncoder
        except ImportError:
            raise MissingExtra("sentence-transformers", "rerank") from None
        model = CrossEncoder(self.name, max_length=self.max_length)
        return lambda pairs: [float(s) for s in model.predict(pairs, show_progress_bar=False)]

    def _load_onnx(self, model_path: Path) -> Any:
        import numpy as np
        import onnxruntime as ort
        from tokenizers import Tokenizer

        vocab = model_path.parent / "tokenizer.json"
        if not model_path.is_file() or not vocab.is_file():
            raise ConfigError(
                f"cross-encoder {self.name!r}: needs {model_path.name} and tokenizer.json in {model_path.parent}",
                hint="export one with optimum-cli export onnx --model NAME --task text-classification DIR",
            )
        tok = Tokenizer.from_file(str(vocab))
        tok.enable_truncation(self.max_length)
        tok.enable_padding()
        session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
        wanted = {i.name for i in session.get_inputs()}

        def run(pairs: list[tuple[str, str]]) -> list[float]:
            enc = tok.encode_batch(pairs)
            feed = {
                "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
            }
            logits = session.run(None, {k: v for k, v in feed.items() if k in wanted})[0]
            logits = np.asarray(logits, dtype=np.float32).reshape(len(pairs), -1)
            # one output: the relevance logit; two (not relevant, relevant): their difference
            return (logits[:, 0] if logits.shape[1] == 1 else logits[:, -1] - logits[:, 0]).tolist()

        return run
