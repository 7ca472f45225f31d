"""Splitter: runs without spaces that a tokenizer counts as one token are still cut, by characters."""

from __future__ import annotations

import random

import pytest

from llmkit.errors import InputError
from llmkit.ingest.loaders import load
from llmkit.ingest.splitter import split


def wordpiece_like(text: str) -> int:
    """Like MiniLM's WordPiece: a word over 100 characters is one ``[UNK]``, shorter ones ~4 characters a token."""
    return sum(1 if len(w) > 100 else -(-len(w) // 4) for w in text.split())


def test_a_run_counted_as_one_token_is_cut_by_characters() -> None:
    rng = random.Random(0)
    dna = "".join(rng.choice("ACGT") for _ in range(500_000))
    doc = load(f"Sequence of clone 42:\n\n{dna}\n\nEnd of file.".encode(), "seq.txt")
    drafts = split(doc, chunk_tokens=200, overlap=32, count_tokens=wordpiece_like)
    assert max(len(d.text) for d in drafts) <= 2_000  # CHARS_PER_TOKEN * chunk_tokens
    assert all(d.tokens <= 200 and doc.text[d.start : d.end] == d.text for d in drafts)
    assert "".join(d.text for d in drafts if set(d.text) <= set("ACGT")) == dna  # cut, not overlapped or lost


def test_max_chars_bounds_packed_chunks_too() -> None:
    words = " ".join(f"w{i:05d}" for i in range(2_000))  # 6 characters, one token each
    doc = load(words.encode(), "w.txt")
    drafts = split(doc, chunk_tokens=500, count_tokens=lambda t: len(t.split()), max_chars=700)
    assert len(drafts) > 1 and all(len(d.text) <= 700 and d.text == doc.text[d.start : d.end] for d in drafts)
    assert " ".join(d.text for d in drafts) == words


def test_a_piece_that_counts_more_than_its_whole_is_cut_again() -> None:
    doc = load(("x" * 1_000).encode(), "x.txt")  # one [UNK] whole; 20 tokens an 80-character piece
    drafts = split(doc, chunk_tokens=16, count_tokens=wordpiece_like, max_chars=80)
    assert all(d.tokens <= 16 for d in drafts) and "".join(d.text for d in drafts) == "x" * 1_000


def test_bad_max_chars() -> None:
    doc = load(b"text", "t.txt")
    with pytest.raises(InputError, match="max_chars"):
        split(doc, chunk_tokens=16, count_tokens=len, max_chars=0)
