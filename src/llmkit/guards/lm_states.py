"""A causal language model's hidden states for each piece of a text, for the name tagger (llama.cpp).

MiniLM, whose states the name tagger has always used, is uncased: ``Rose`` and ``rose`` are one word to
it. The embedded chat model (SmolLM2, a GGUF) is cased and has read a great deal of web text, so its
final-layer state for a piece says much about whether that piece is part of a name. It reads left to
right, so a word's own state has seen only what comes before it; the state of the piece *after* the word
has seen the word and its left context, and the tagger takes both (``lm_vectors``). Measured on
presidio-synth-pii (``bench/guards.py --only pii --ner``, the tagger cross-fitted by template; session 10
in ``bench/README.md``): PERSON strict F1 on the held-out half 0.715 → 0.795.

``LlamaStates`` runs the model in llama.cpp's embedding mode without pooling: one decode per text,
no generation.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from llmkit.errors import BackendUnavailable, MissingExtra

if TYPE_CHECKING:
    import numpy as np

    from llmkit.guards.name_features import Token

#: Pieces a text may have: longer texts are encoded by the tagger in chunks (``name_tagger.CHUNK_CHARS``).
N_CTX = 1024


class StateEncoder(Protocol):
    """Hidden states per piece of ``text`` and each piece's character span (``(a, a)`` for none)."""

    def token_states(self, text: str) -> tuple[np.ndarray, list[tuple[int, int]]]: ...


class LlamaStates:
    """``token_states`` from a GGUF model's final layer (llama.cpp embedding mode, no pooling); thread-safe."""

    def __init__(self, path: str | Path, *, threads: int = 2, name: str = "") -> None:
        self.path, self.threads, self.name = Path(path), threads, name or Path(path).stem
        self._llm: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._llm is None:
            try:
                import llama_cpp
            except ImportError:
                raise MissingExtra("llama-cpp-python", "local") from None
            try:
                self._llm = llama_cpp.Llama(
                    str(self.path),
                    embedding=True,  # the model's own pooling, which is none for a chat model (asking for
                    # none outright makes llama.cpp print a warning)
                    n_ctx=N_CTX,
                    n_batch=N_CTX,
                    n_ubatch=N_CTX,
                    n_threads=self.threads,
                    n_threads_batch=self.threads,
                    verbose=False,
                )
            except (ValueError, RuntimeError, OSError) as e:
                raise BackendUnavailable(f"llama.cpp could not load {self.path}: {e}") from None
            if self._llm.pooling_type() != llama_cpp.LLAMA_POOLING_TYPE_NONE:
                self._llm = None
                raise BackendUnavailable(f"{self.path.name} pools its states (an embedding model): use a chat model")
            # freed with this object, or at exit before the interpreter tears llama_cpp down (left to
            # Llama.__del__ then, freeing printed "Exception ignored ... TypeError" on every exit)
            weakref.finalize(self, self._llm.close)
        return self._llm

    def token_states(self, text: str) -> tuple[np.ndarray, list[tuple[int, int]]]:
        import llama_cpp
        import numpy as np

        with self._lock:
            llm = self._load()
            data = text.encode("utf-8", "replace")  # a lone surrogate becomes "?": one byte, as in char_spans
            pieces = llm.tokenize(data, add_bos=False, special=False)[:N_CTX]
            dim = llm.n_embd()
            if not pieces:
                return np.zeros((0, dim), dtype=np.float32), []
            llm._ctx.kv_cache_clear()
            llm._batch.reset()
            llm._batch.add_sequence(pieces, 0, True)
            llm._ctx.decode(llm._batch)
            ptr = llama_cpp.llama_get_embeddings(llm._ctx.ctx)
            states = np.ctypeslib.as_array(ptr, shape=(len(pieces) * dim,)).reshape(len(pieces), dim).copy()
            lengths = [len(llm.detokenize([p])) for p in pieces]
        return states, char_spans(text, lengths)


def char_spans(text: str, byte_lengths: Sequence[int]) -> list[tuple[int, int]]:
    """Character spans of consecutive pieces of ``text``'s UTF-8 bytes with the given lengths.

    A piece holding part of a character (byte-level BPE splits some) covers that whole character; a lone
    surrogate counts as one byte (``"?"``, as ``LlamaStates.token_states`` encodes it).

    >>> char_spans("héllo", [1, 2, 2])
    [(0, 1), (1, 2), (2, 4)]
    >>> char_spans("日本", [2, 1, 3])
    [(0, 1), (0, 1), (1, 2)]
    """
    char_of = [i for i, ch in enumerate(text) for _ in ch.encode("utf-8", "replace")]  # the character of each byte
    size = len(char_of)
    out, start = [], 0
    for n in byte_lengths:
        end = min(start + n, size)
        a = char_of[start] if start < size else len(text)
        b = len(text) if end >= size else char_of[end - 1] + 1 if end > start else a
        out.append((a, b))
        start = end
    return out


def piece_hits(tokens: Sequence[Token], spans: Sequence[tuple[int, int]], offset: int = 0) -> list[np.ndarray]:
    """For each token, the indices of the pieces it overlaps (``spans`` are the pieces' character spans in
    the encoded part of the text, which starts at ``offset``; empty spans overlap nothing).

    >>> from llmkit.guards.name_features import Token
    >>> [h.tolist() for h in piece_hits([Token("Ana", 10), Token("x", 20)], [(0, 2), (2, 2), (2, 4)], 10)]
    [[0, 2], []]
    """
    import numpy as np

    starts = np.array([a + offset for a, _ in spans], dtype=np.int64)
    ends = np.array([b + offset for _, b in spans], dtype=np.int64)
    real = ends > starts
    return [np.flatnonzero((starts < t.end) & (ends > t.start) & real) for t in tokens]


def lm_vectors(
    tokens: Sequence[Token], states: np.ndarray, spans: Sequence[tuple[int, int]], offset: int = 0
) -> np.ndarray:
    """Per token (of the encoded text, which starts at character ``offset`` of the tokens' text): its
    pieces' mean state, then the state of the piece after its last one (zeros where there is none).

    >>> import numpy as np
    >>> from llmkit.guards.name_features import Token
    >>> states = np.array([[1.0], [2.0], [3.0], [4.0]])
    >>> lm_vectors([Token("Ana", 0), Token("Lee", 4)], states, [(0, 2), (2, 3), (3, 7), (7, 7)]).tolist()
    [[1.5, 3.0], [3.0, 0.0]]
    """
    import numpy as np

    dim = states.shape[1] if states.ndim == 2 else 0
    out = np.zeros((len(tokens), 2 * dim), dtype=np.float32)
    real = np.array([b > a for a, b in spans], dtype=bool)
    for i, hit in enumerate(piece_hits(tokens, spans, offset)):
        if len(hit):
            out[i, :dim] = states[hit].mean(0)
            after = np.flatnonzero(real[hit[-1] + 1 :])
            if len(after):
                out[i, dim:] = states[hit[-1] + 1 + after[0]]
    return out
