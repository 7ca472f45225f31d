"""An upper estimate of the tokens a remote model's tokenizer makes of a text, for prompt budgets.

A remote model's tokenizer is not known here, so ``OpenAIChatModel`` and ``OpenAIEmbedder`` count with
``estimate_tokens``, which aims above byte-level BPE tokenizers (GPT, Llama 3, Qwen, SmolLM): budgets built
on it stay inside the window. One token per 3 UTF-8 bytes, the rule before it, counted 0.4–0.5x of the real
tokens on Chinese, Korean, emoji, digits and random ids.

Measured against SmolLM2's tokenizer (49k byte-level BPE; larger vocabularies make fewer tokens), estimate
over real: English prose 1.25–1.35, rare technical words 1.26, Markdown and Python 1.4–1.5, JSON 1.3,
German 1.4, Chinese and Japanese 1.55–1.7, Korean 1.2, Cyrillic, Arabic and Devanagari 1.9–2.4, emoji
1.3–1.4, digits 1.0, hex, UUIDs and base64 1.05–1.2. Made-up lowercase words ("xkqzv") can still count low
(0.5): no rule tells them from English without the vocabulary.
"""

from __future__ import annotations

import functools
import re

_PIECES = re.compile(r"(?P<word>[A-Za-z0-9]+)|(?P<wide>[^\x00-\x7f]+)|(?P<symbols>[^A-Za-z0-9\x80-\U0010ffff]+)")
_HUMPS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")  # the words in camelCase and CAPS


def estimate_tokens(text: str) -> int:
    """At least the tokens a byte-level BPE tokenizer makes of ``text``, bar made-up words (see the module).

    Each UTF-8 byte of a non-ASCII character is a token, each digit, each symbol (runs of two as one) and
    each newline; a plain word costs one token per 4 letters, rounded up (capitals one per 2); a word that
    looks random (mixed case, digits, over 20 letters) one per character; a space joins the word after it.

    >>> estimate_tokens("The quick brown fox."), estimate_tokens("我们"), estimate_tokens("id 2024")
    (7, 7, 6)
    """
    chunks = text.split()
    spaces = len(text) - sum(map(len, chunks))
    newlines = text.count("\n")
    loose = max(0, spaces - newlines - max(len(chunks) - 1, 0))  # whitespace beyond one between chunks
    return sum(map(_chunk_tokens, chunks)) + newlines + (loose + 3) // 4


def _chunk_tokens(chunk: str) -> int:
    if len(chunk) <= 20 and chunk.isalpha() and chunk.isascii() and (chunk.islower() or chunk.istitle()):
        return (len(chunk) + 3) // 4  # most words of prose: the fast path
    return _mixed_tokens_cached(chunk) if len(chunk) <= 32 else _mixed_tokens(chunk)


def _mixed_tokens(chunk: str) -> int:
    """The tokens of a chunk between whitespace, plus one for the space before it unless a word starts it."""
    tokens = 0 if chunk[0].isascii() and chunk[0].isalpha() else 1
    for match in _PIECES.finditer(chunk):
        kind = match.lastgroup
        piece = match[0]
        if kind == "word":
            tokens += _word_tokens(piece)
        elif kind == "wide":
            tokens += len(piece.encode())
        else:
            tokens += 1 if len(piece) <= 2 else len(piece)
    return tokens


_mixed_tokens_cached = functools.lru_cache(maxsize=8192)(_mixed_tokens)  # words recur: most chunks are hits


def _word_tokens(word: str) -> int:
    """
    >>> _word_tokens("tokenizer"), _word_tokens("getHTTPResponse"), _word_tokens("qUiCk"), _word_tokens("a1b2")
    (3, 5, 5, 4)
    """
    if len(word) > 20 or not word.isalpha():
        return len(word)
    humps = _HUMPS.findall(word)
    if 2 * len(humps) > len(word):  # humps shorter than 2 letters: random case, not camelCase
        return len(word)
    return sum((len(h) + 1) // 2 if len(h) > 1 and h.isupper() else (len(h) + 3) // 4 for h in humps)
