"""Perplexity of a GGUF model on held-back text, through llama.cpp (what serving will run).

Each text is evaluated on its own from a fresh context (BOS + at most ``n_ctx`` tokens); the score is
``exp(total negative log-likelihood / predicted tokens)`` over every text, the first token of each
excluded (nothing predicts it).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llmkit.errors import InputError, MissingExtra


def perplexity_from_nll(total_nll: float, tokens: int) -> float:
    """``exp`` of the mean negative log-likelihood per predicted token.

    >>> round(perplexity_from_nll(2 * math.log(4.0), 2), 6)
    4.0
    """
    if tokens <= 0:
        raise InputError("no tokens to score", hint="give at least one text of two or more tokens")
    return math.exp(total_nll / tokens)


def token_nll(logits: Any, tokens: Sequence[int]) -> float:
    """Sum of ``-log p(tokens[i] | tokens[:i])`` for i >= 1, from row-per-position ``logits``.

    >>> import numpy as np
    >>> round(token_nll(np.zeros((3, 4)), [0, 1, 2]), 4)  # uniform over 4 tokens, 2 predictions
    2.7726
    """
    import numpy as np

    rows = np.asarray(logits[: len(tokens) - 1], dtype=np.float64)
    rows = rows - rows.max(axis=1, keepdims=True)
    logp = rows - np.log(np.exp(rows).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(tokens) - 1), np.asarray(tokens[1:])].sum())


def gguf_perplexity(
    path: str | Path,
    texts: Sequence[str],
    *,
    n_ctx: int = 512,
    threads: int | None = None,
    lora: str | Path | None = None,
) -> float:
    """Perplexity of the GGUF model at ``path`` (with the GGUF LoRA adapter ``lora`` applied) on ``texts``."""
    try:
        from llama_cpp import Llama
    except ImportError:
        raise MissingExtra("llama-cpp-python", "local") from None
    adapter = {"lora_path": str(lora)} if lora else {}
    llm = Llama(model_path=str(path), n_ctx=n_ctx, n_batch=n_ctx, logits_all=True, verbose=False,
                n_threads=threads or os.cpu_count() or 1, **adapter)  # fmt: skip
    total, count = 0.0, 0
    try:
        for text in texts:
            tokens = llm.tokenize(text.encode("utf-8"), add_bos=True)[:n_ctx]
            if len(tokens) < 2:
                continue
            llm.reset()
            llm.eval(tokens)
            total += token_nll(llm.scores[: len(tokens)], tokens)
            count += len(tokens) - 1
    finally:
        llm.close()
    return perplexity_from_nll(total, count)


def conversation_texts(conversations: Sequence[Sequence[dict[str, str]]]) -> list[str]:
    """Held-back text from chat data: each conversation's turns joined by blank lines.

    >>> conversation_texts([[{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]])
    ['q\\n\\na']
    """
    return ["\n\n".join(m["content"] for m in conv) for conv in conversations]
