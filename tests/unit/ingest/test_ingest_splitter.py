"""Splitter: exact offsets, size bound, overlap, tables and code kept whole, linear tokenising."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
from memstore import words

from llmkit.errors import InputError
from llmkit.ingest.loaders import load
from llmkit.ingest.loaders.base import DocBuilder
from llmkit.ingest.splitter import split, to_chunks
from llmkit.testing import HashEmbedder

SAMPLES = Path(__file__).parents[3] / "examples" / "demo" / "docs"
VOCAB = ["the", "widget", "warranty", "lasts", "three", "years", "from", "purchase"]
VOCAB += ["and", "covers", "parts", "labour", "filters"]


def _random_doc(seed: int) -> bytes:
    rng = random.Random(seed)
    blocks = []
    for _ in range(rng.randint(1, 12)):
        roll = rng.random()
        if roll < 0.15:
            blocks.append("#" * rng.randint(1, 3) + " " + " ".join(rng.choices(VOCAB, k=3)))
        elif roll < 0.25:
            rows = "\n".join(f"| {rng.choice(VOCAB)} | {rng.randint(1, 99)} |" for _ in range(rng.randint(1, 40)))
            blocks.append("| name | value |\n| --- | --- |\n" + rows)
        elif roll < 0.32:
            blocks.append(
                "```\n" + "\n".join(" ".join(rng.choices(VOCAB, k=5)) for _ in range(rng.randint(1, 30))) + "\n```"
            )
        else:
            sentences = [" ".join(rng.choices(VOCAB, k=rng.randint(1, 30))) + rng.choice([".", "!", "?", ""])
                         for _ in range(rng.randint(1, 15))]  # fmt: skip
            blocks.append(" ".join(sentences))
    return "\n\n".join(blocks).encode()


def _check(doc, drafts, limit: int, count) -> None:
    for d in drafts:
        core = doc.text[d.start : d.end]
        assert d.text == core or (d.kind == "table" and d.text.endswith("\n" + core)), d
        assert d.tokens == count(d.text)
        assert d.tokens <= limit, d


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize(("limit", "overlap"), [(16, 0), (16, 5), (40, 10), (200, 32)])
def test_random_documents_keep_offsets_and_bounds(seed: int, limit: int, overlap: int) -> None:
    doc = load(_random_doc(seed), f"r{seed}.md")
    drafts = split(doc, chunk_tokens=limit, overlap=overlap, count_tokens=words)
    _check(doc, drafts, limit, words)
    covered = set()
    for d in drafts:
        covered.update(range(d.start, d.end))
    for s in doc.sections:  # every non-space character of every section is in some chunk
        assert all(i in covered for i in range(s.start, s.end) if not doc.text[i].isspace())


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.iterdir() if p.suffix != ".py"))
def test_sample_documents_with_a_real_style_tokenizer(name: str) -> None:
    count = HashEmbedder().count_tokens  # words and punctuation: like WordPiece, additive at whitespace
    doc = load((SAMPLES / name).read_bytes(), name)
    drafts = split(doc, chunk_tokens=40, overlap=8, count_tokens=count)
    _check(doc, drafts, 40, count)


def test_overlap_is_carried_within_a_section_only() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(30))
    doc = load(f"# A\n\n{text}\n\n# B\n\nShort.".encode(), "o.md")
    drafts = split(doc, chunk_tokens=20, overlap=6, count_tokens=words)
    a = [d for d in drafts if d.heading == "A"]
    assert len(a) > 3
    for prev, nxt in itertools.pairwise(a):
        shared = doc.text[nxt.start : prev.end]
        assert nxt.start < prev.end and 0 < words(shared) <= 6
    b = next(d for d in drafts if d.heading == "B")
    assert b.text == "B\n\nShort." and b.start > a[-1].end


def test_overlap_falls_back_to_words_when_sentences_are_long() -> None:
    text = " ".join(f"w{i}" for i in range(100))
    doc = load(text.encode(), "long.txt")
    drafts = split(doc, chunk_tokens=30, overlap=5, count_tokens=words)
    for prev, nxt in itertools.pairwise(drafts):
        assert words(doc.text[nxt.start : prev.end]) == 5


def test_table_kept_whole_when_it_fits() -> None:
    table = "| a | b |\n| --- | --- |\n" + "\n".join(f"| x{i} | y{i} |" for i in range(5))
    doc = load(f"Intro words here.\n\n{table}\n\nOutro.".encode(), "t.md")
    drafts = split(doc, chunk_tokens=60, overlap=0, count_tokens=words)
    assert any(table in d.text for d in drafts)


def test_big_table_split_by_rows_repeating_header() -> None:
    table = "| name | value |\n| --- | --- |\n" + "\n".join(f"| row{i} | {i} |" for i in range(60))
    doc = load(table.encode(), "t.md")
    drafts = split(doc, chunk_tokens=40, overlap=10, count_tokens=words)
    assert len(drafts) > 3
    assert all(d.kind == "table" and d.text.startswith("| name | value |\n| --- | --- |\n") for d in drafts)
    assert drafts[0].text == doc.text[drafts[0].start : drafts[0].end]  # the first piece is right under its header
    rows = [line for d in drafts for line in d.text.splitlines()[2:]]
    assert rows == [f"| row{i} | {i} |" for i in range(60)]  # every row once, in order: no overlap for rows
    _check(doc, drafts, 40, words)


def test_code_block_kept_whole_then_split_by_lines() -> None:
    code = "```\n" + "\n".join(f"line {i} of code" for i in range(10)) + "\n```"
    doc = load(code.encode(), "c.md")
    assert [d.kind for d in split(doc, chunk_tokens=60, overlap=0, count_tokens=words)] == ["code"]
    drafts = split(doc, chunk_tokens=10, overlap=0, count_tokens=words)
    assert len(drafts) > 1 and all(d.kind == "code" and d.tokens <= 10 for d in drafts)


def test_headings_start_chunks_and_stay_with_their_text() -> None:
    doc = load(b"# Install\n\n## Linux\n\nRun make.\n\n## Mac\n\nRun brew.", "h.md")
    drafts = split(doc, chunk_tokens=100, overlap=0, count_tokens=words)
    assert [(d.heading, d.text) for d in drafts] == [
        ("Install > Linux", "Install\n\nLinux\n\nRun make."),
        ("Install > Mac", "Mac\n\nRun brew."),
    ]


def test_chunks_do_not_cross_pages() -> None:
    b = DocBuilder("p.pdf")
    b.add("one two three", page=1)
    b.add("four five", page=2)
    drafts = split(b.build("application/pdf"), chunk_tokens=100, overlap=10, count_tokens=words)
    assert [(d.page, d.text) for d in drafts] == [(1, "one two three"), (2, "four five")]


def test_unsplittable_run_is_cut_by_characters() -> None:
    blob = "x" * 5000
    doc = load(f"Before.\n\n{blob}\n\nAfter.".encode(), "b.txt")
    chars = lambda t: len(t.replace(" ", "").replace("\n", "")) // 10  # noqa: E731  # ~10 chars a token
    drafts = split(doc, chunk_tokens=50, overlap=0, count_tokens=chars)
    assert all(d.tokens <= 50 for d in drafts)
    assert "".join(d.text for d in drafts if "x" in d.text).count("x") == 5000


def test_tokenises_each_character_a_few_times_only() -> None:
    text = "\n\n".join(" ".join(f"word{i}x{j}." if j % 7 == 0 else f"w{j}" for j in range(300)) for i in range(50))
    doc = load(text.encode(), "big.txt")
    seen = []

    def counting(t: str) -> int:
        seen.append(len(t))
        return words(t)

    drafts = split(doc, chunk_tokens=64, overlap=16, count_tokens=counting)
    assert len(drafts) > 100
    assert sum(seen) < 4 * len(doc.text)  # linear, not one count per growing prefix


def test_bad_sizes() -> None:
    doc = load(b"text", "a.txt")
    with pytest.raises(InputError):
        split(doc, chunk_tokens=0, count_tokens=words)
    with pytest.raises(InputError):
        split(doc, chunk_tokens=10, overlap=10, count_tokens=words)


def test_to_chunks_ids_and_fields() -> None:
    doc = load(b"# T\n\nBody.", "a.md")
    chunks = to_chunks("doc1", "a.md", split(doc, chunk_tokens=50, count_tokens=words), {"lang": "en"})
    assert [(c.id, c.index, c.heading, c.metadata) for c in chunks] == [("doc1:0", 0, "T", {"lang": "en"})]
    assert doc.text[chunks[0].start : chunks[0].end] == chunks[0].text
