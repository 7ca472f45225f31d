"""all-MiniLM-L6-v2 (or any BERT-style sentence encoder) as ONNX on onnxruntime, tokenised with ``tokenizers``.

Embedding = mean of the last hidden states over the attention mask, then L2-normalised (what
sentence-transformers does for this model). Inputs are truncated at ``max_tokens`` tokens, special
tokens included (256, like sentence-transformers' ``max_seq_length`` for all-MiniLM-L6-v2).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmkit.errors import BackendUnavailable, InputError, MissingExtra, NotFound

if TYPE_CHECKING:
    import numpy as np

    from llmkit.config import Settings


class OnnxEmbedder:
    """A sentence embedder on onnxruntime. Cheap to construct; the session loads on first use.

    >>> emb = OnnxEmbedder("model.onnx", "tokenizer.json")  # doctest: +SKIP
    >>> emb.embed(["a cat", "a kitten"]).shape  # doctest: +SKIP
    (2, 384)
    """

    def __init__(
        self,
        model_path: str | Path,
        tokenizer_path: str | Path,
        *,
        name: str = "all-minilm-l6-v2",
        batch_size: int = 32,
        threads: int | None = None,
        max_tokens: int = 256,
    ) -> None:
        if batch_size < 1:
            raise InputError(f"batch_size must be >= 1, got {batch_size}")
        if max_tokens < 3:
            raise InputError(f"max_tokens must be >= 3 (two special tokens and one word), got {max_tokens}")
        self.model_path = Path(model_path)
        self.tokenizer_path = Path(tokenizer_path)
        self.name = name
        self.batch_size = batch_size
        self.threads = threads or os.cpu_count() or 1
        self._max_tokens = max_tokens
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None
        self._counter: Any = None
        self._inputs: tuple[str, ...] = ()
        self._dim = 0
        self._per_text = False
        self._pool: Any = None

    @classmethod
    def from_settings(cls, settings: Settings) -> OnnxEmbedder:
        """``settings.embedder.name``: a catalog name, or a ``.onnx`` path with ``tokenizer.json`` beside it."""
        e = settings.embedder
        name = e.name.removeprefix("onnx:")
        if name.lower().endswith(".onnx"):
            model = settings.resolve(name)
            tokenizer, label = model.with_name("tokenizer.json"), name
        else:
            from llmkit.models.catalog import Catalog

            paths = Catalog(settings.models_dir).paths(name)
            model, tokenizer, label = paths["model"], paths["tokenizer"], name
        return cls(model, tokenizer, name=label, batch_size=e.batch_size, threads=e.threads)

    # ------------------------------------------------------------------ Embedder protocol

    @property
    def dim(self) -> int:
        self._load()
        return self._dim

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes (special tokens excluded, no truncation)."""
        self._load()
        return len(self._counter.encode(_check_text(text), add_special_tokens=False).ids)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` as float32 ``(len(texts), dim)``, rows L2-normalised.

        Texts are sorted by length so each batch pads little; the output is in input order. A
        dynamically quantised model embeds one text per call (see ``DYNAMIC_QUANT_PRODUCER``).
        """
        import numpy as np

        if isinstance(texts, str):
            raise InputError("embed() takes a list of texts, not a single string")
        texts = [_check_text(t) for t in texts]
        self._load()
        out = np.empty((len(texts), self._dim), dtype=np.float32)
        if not texts:
            return out
        # encode_batch hands work to a thread pool: ~2.5 ms of overhead for the one-text case (a query)
        encodings = [self._tokenizer.encode(texts[0])] if len(texts) == 1 else self._tokenizer.encode_batch(texts)
        if self._per_text:
            return self._embed_each([e.ids for e in encodings], out)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        limit = 1 if self._per_text else self.batch_size
        for idx in token_batches([len(encodings[i].ids) for i in order], limit, BATCH_TOKENS):
            rows = [order[i] for i in idx]
            out[rows] = self._embed_batch([encodings[i].ids for i in rows])
        return out

    def token_states(self, text: str) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """The last hidden state of each word piece of ``text`` (truncated at ``max_tokens``) and its
        character span; the special tokens have the span ``(0, 0)``. For token-level models (names)."""
        self._load()
        enc = self._tokenizer.encode(_check_text(text))
        return self._hidden([enc.ids])[0][0], list(enc.offsets)

    def known_word(self, word: str) -> bool:
        """Whether ``word`` is one piece of the tokenizer's vocabulary (a common word, for uncased models)."""
        self._load()
        return self._counter.token_to_id(word) is not None

    # ------------------------------------------------------------------ internals

    def _embed_each(self, ids: list[list[int]], out: np.ndarray) -> np.ndarray:
        """One text per call, ``threads`` calls at once.

        SciFact abstracts on 2 idle cores: 20 passages/s with the calls side by side, 15 one after another
        (each call's ops split over both threads); a lone query keeps both threads for its ops.
        """
        if len(ids) == 1 or self.threads == 1:
            for row, x in enumerate(ids):
                out[row] = self._embed_batch([x])[0]
            return out
        with self._lock:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="llmkit-embed")
        for row, vec in enumerate(self._pool.map(lambda x: self._embed_batch([x])[0], ids)):
            out[row] = vec
        return out

    def _embed_batch(self, ids: list[list[int]]) -> np.ndarray:
        hidden, mask = self._hidden(ids)
        return mean_pool_normalize(hidden, mask)

    def _hidden(self, ids: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        import numpy as np

        width = max(len(x) for x in ids)
        input_ids = np.zeros((len(ids), width), dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for row, x in enumerate(ids):
            input_ids[row, : len(x)] = x
            mask[row, : len(x)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        return self._session.run(None, feeds)[0], mask

    def _load(self) -> None:
        if self._session is not None:
            return
        with self._lock:
            if self._session is None:
                self._tokenizer, self._counter = self._load_tokenizers()
                session = self._load_session()
                self._inputs = tuple(i.name for i in session.get_inputs())
                missing = {"input_ids", "attention_mask"} - set(self._inputs)
                if missing:
                    raise BackendUnavailable(f"{self.model_path}: ONNX model lacks inputs {sorted(missing)}")
                dim = session.get_outputs()[0].shape[-1]
                self._dim = dim if isinstance(dim, int) else 384
                self._per_text = session.get_modelmeta().producer_name == DYNAMIC_QUANT_PRODUCER
                self._session = session

    def _load_tokenizers(self) -> tuple[Any, Any]:
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise MissingExtra("tokenizers", "local") from None
        if not self.tokenizer_path.is_file():
            raise NotFound(
                f"tokenizer file not found: {self.tokenizer_path}", hint="llmkit models pull all-minilm-l6-v2"
            )
        try:
            tok = Tokenizer.from_file(str(self.tokenizer_path))
            counter = Tokenizer.from_file(str(self.tokenizer_path))
        except Exception as e:  # tokenizers raises plain Exception on a bad file
            raise BackendUnavailable(f"{self.tokenizer_path}: not a tokenizers JSON file ({e})") from None
        tok.no_padding()
        tok.enable_truncation(max_length=self._max_tokens)
        counter.no_padding()
        counter.no_truncation()
        return tok, counter

    def _load_session(self) -> Any:
        try:
            import onnxruntime as ort
        except ImportError:
            raise MissingExtra("onnxruntime", "local") from None
        if not self.model_path.is_file():
            raise NotFound(f"ONNX model not found: {self.model_path}", hint="llmkit models pull all-minilm-l6-v2")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        # No busy-waiting between ops: on a small machine the spinning threads take cores from llama.cpp
        # and numpy; measured no slower for this model.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            return ort.InferenceSession(str(self.model_path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime's errors share no useful base class
            raise BackendUnavailable(f"{self.model_path}: cannot load as an ONNX model ({e})") from None


#: ``producer_name`` of models written by ``onnxruntime.quantization``. Their activations are quantised
#: with one scale per call (``DynamicQuantizeLinear``, padding included), so a text's vector would depend
#: on the other texts of its batch: such models embed one text per call, which is deterministic and, for
#: all-minilm-l6-v2-q8 on SciFact abstracts, 2.5x as fast as batches of 8 (no padding).
DYNAMIC_QUANT_PRODUCER = "onnx.quantize"


#: Padded tokens per onnxruntime call. Measured on 2 cores with SciFact abstracts (~240 tokens):
#: 8 per batch embedded 15 passages/s, 32 per batch 10/s; short texts still batch 64 at a time.
BATCH_TOKENS = 2048


def token_batches(lengths: Sequence[int], max_items: int, max_tokens: int) -> list[range]:
    """Split ascending ``lengths`` into runs of at most ``max_items`` whose padded size fits ``max_tokens``.

    >>> [list(r) for r in token_batches([10, 10, 300, 300, 300], 8, 600)]
    [[0, 1], [2, 3], [4]]
    """
    batches, start = [], 0
    for i, n in enumerate(lengths):
        size = i - start + 1
        if i > start and (size > max_items or size * n > max_tokens):
            batches.append(range(start, i))
            start = i
    if start < len(lengths):
        batches.append(range(start, len(lengths)))
    return batches


def mean_pool_normalize(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of ``hidden`` (batch, seq, dim) over positions where ``mask`` is 1, then L2-normalised.

    >>> import numpy as np
    >>> h = np.array([[[3.0, 0.0], [0.0, 4.0], [9.0, 9.0]]])
    >>> [round(float(x), 2) for x in mean_pool_normalize(h, np.array([[1, 1, 0]]))[0]]
    [0.6, 0.8]
    """
    import numpy as np

    m = mask[..., None].astype(np.float32)
    summed = (hidden * m).sum(axis=1)
    pooled = summed / np.clip(m.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


def _check_text(text: object) -> str:
    """``text`` as valid Unicode (lone surrogates, which the tokenizer rejects, become U+FFFD)."""
    if not isinstance(text, str):
        raise InputError(f"texts to embed must be strings, got {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="replace").decode("utf-8")
    return text
