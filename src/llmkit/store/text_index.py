"""A BM25 sidecar index (tantivy) over one collection's chunk texts: top-k lexical search that stops early.

FTS5's ``bm25()`` scores every row that matches any query word, so an OR of a dozen words costs time in
proportion to the collection (188 ms p50 at 100k chunks of ``bench/scale.py`` under load).
tantivy, a Rust search library (MIT, ``pip install tantivy``), ranks with the same BM25 and skips blocks of
its posting lists that cannot reach the current top k (block-max WAND): 1.2 ms on the same data, with 93 %
of FTS5's top 10 in common. Like the usearch file, the index is a cache: SQLite stays the source of
truth, the directory is trusted only when its stamp matches the collection's generation and chunk count,
and otherwise it is rebuilt from SQLite. Keys are chunk rowids.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from llmkit.store.fts import MAX_TERMS, STOPWORDS
from llmkit.store.vector_index import Stamp

_SEPARATORS = re.compile(r"[\W_]+")
ANALYZER = "llmkit_en"
#: The stamp's ``digest`` for indexes whose words come from ``fts5_words``: an index built before (its words
#: split, cased and folded by tantivy, unlike FTS5's) is rebuilt.
FORMAT = "fts5-words-1"


def _single_accent_table() -> dict[int, str]:
    """Latin letters with one accent mapped to their base letter, as FTS5's unicode61 (remove_diacritics 1)
    folds them; letters with two accents ("ế") stay."""
    import unicodedata

    table = {}
    for code in (*range(0xC0, 0x250), *range(0x1E00, 0x1F00)):
        parts = unicodedata.normalize("NFD", chr(code))
        if len(parts) == 2 and parts[0].isascii() and 0x300 <= ord(parts[1]) <= 0x36F:
            table[code] = parts[0]
    return table


_FOLD = {0x130: "i", **_single_accent_table()}  # "İ".lower() is "i" + a dot above; FTS5 makes it "i"


def fts5_words(text: str) -> str:
    """``text`` as FTS5's unicode61 tokenizer splits and folds it, words joined by spaces: lower case, one accent
    dropped, split at anything but letters and digits (vowel signs and "_" included); ligatures, "ß" and
    sub/superscripts kept. Indexed and queried through this, tantivy finds what FTS5 finds.

    >>> fts5_words("İstanbul, Straße; भाषा snake_case café tiếng ﬁbrosis H₂O")
    'istanbul straße भ ष snake case cafe tiếng ﬁbrosis h₂o'
    """
    return _SEPARATORS.sub(" ", text.translate(_FOLD).lower()).strip()


def available() -> bool:
    """Whether tantivy is installed (the ``scale`` extra); without it lexical search stays on FTS5."""
    try:
        import tantivy  # noqa: F401
    except ImportError:
        return False
    return True


def _analyzer() -> Any:
    """``fts5_words``' words (split at spaces), Snowball English stems (as FTS5's porter)."""
    import tantivy

    builder = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).filter(tantivy.Filter.remove_long(64))
    return builder.filter(tantivy.Filter.stemmer("english")).build()


def _open(path: Path, create: bool) -> Any:
    import tantivy

    if create:
        schema = tantivy.SchemaBuilder()
        schema.add_integer_field("rowid", stored=False, indexed=True, fast=True)
        schema.add_text_field("text", stored=False, tokenizer_name=ANALYZER, index_option="freq")
        index = tantivy.Index(schema.build(), path=str(path), reuse=False)
    else:
        index = tantivy.Index.open(str(path))
    index.register_tokenizer(ANALYZER, _analyzer())
    return index


def query_words(text: str, max_terms: int = MAX_TERMS) -> list[str]:
    """The distinct words of ``text`` to look up (``fts5_words``): function words dropped unless nothing else is left.

    >>> query_words("What is the role of p53 in cell_death?")
    ['role', 'p53', 'cell', 'death']
    """
    text = text.encode("utf-8", "replace").decode("utf-8")
    words = list(dict.fromkeys(fts5_words(text).split()))
    return ([w for w in words if w not in STOPWORDS] or words)[:max_terms]


class TextIndex:
    """One collection's tantivy index in the directory ``path`` (its stamp in ``<path>.json``)."""

    def __init__(self, index: Any, path: Path, stamp: Stamp) -> None:
        self.index = index
        self.path = path
        self.stamp = stamp
        self._analyzer = _analyzer()

    @property
    def generation(self) -> int:
        return self.stamp.generation

    @classmethod
    def build(cls, path: Path, rows: Iterable[tuple[int, str]], stamp: Stamp) -> TextIndex:
        """Index ``(rowid, text)`` rows into a fresh directory, then swap it in for ``path``."""
        import tantivy

        _unstamp(path)
        tmp = Path(f"{path}.tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        index = _open(tmp, create=True)
        writer = index.writer(heap_size=256_000_000, num_threads=min(4, os.cpu_count() or 1))
        count = 0
        for rowid, text in rows:
            writer.add_document(tantivy.Document(rowid=rowid, text=fts5_words(text)))
            count += 1
        writer.commit()
        writer.wait_merging_threads()
        old = Path(f"{path}.old{os.getpid()}")
        with contextlib.suppress(FileNotFoundError):
            os.rename(path, old)
        os.rename(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
        built = cls(_open(path, create=False), path, replace(stamp, count=count))
        _write_stamp(path, built.stamp)
        return built

    @classmethod
    def load(cls, path: Path, expected: Stamp) -> TextIndex | None:
        """The saved index at ``path`` if its stamp matches ``expected`` and its size checks out, else None."""
        try:
            saved = Stamp(**json.loads(Path(f"{path}.json").read_text()))
            if saved != expected:
                return None
            index = _open(path, create=False)
            if index.searcher().num_docs != expected.count:
                return None
        except Exception:  # missing, truncated, garbage, another tantivy: the caller rebuilds from SQLite
            return None
        return cls(index, path, saved)

    def apply(self, removed: Sequence[int], added: Sequence[tuple[int, str]], generation: int) -> None:
        """Bring the index to ``generation``: drop ``removed`` rowids, add ``added`` rows. Raises if it cannot."""
        import tantivy

        _unstamp(self.path)  # a crash from here on leaves no stamp, so the next open rebuilds
        writer = self.index.writer(heap_size=64_000_000, num_threads=1)
        for rowid in removed:
            writer.delete_documents_by_term("rowid", int(rowid))
        for rowid, text in added:
            writer.add_document(tantivy.Document(rowid=int(rowid), text=fts5_words(text)))
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()
        count = self.index.searcher().num_docs
        self.stamp = replace(self.stamp, generation=generation, count=count)
        _write_stamp(self.path, self.stamp)

    def search(self, query: str, k: int, within: Sequence[int] | None = None) -> tuple[list[int], list[float]]:
        """The ``k`` best rowids for ``query`` (any OR of its words, BM25), best first, with their scores;
        with ``within``, only among those rowids (the collection's statistics still apply: the same scores, to
        float rounding)."""
        import tantivy

        terms = list(dict.fromkeys(t for w in query_words(query) for t in self._analyzer.analyze(w)))
        if not terms or k <= 0 or (within is not None and not len(within)):
            return [], []
        schema = self.index.schema
        should = [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "text", t, "freq")) for t in terms]
        match = tantivy.Query.boolean_query(should)
        if within is not None:  # scored 0, so BM25 alone ranks
            allowed = tantivy.Query.term_set_query(schema, "rowid", [int(r) for r in within])
            allowed = tantivy.Query.const_score_query(allowed, 0.0)
            match = tantivy.Query.boolean_query([(tantivy.Occur.Must, match), (tantivy.Occur.Must, allowed)])
        searcher = self.index.searcher()
        hits = searcher.search(match, k).hits
        keys = searcher.fast_field_values("rowid", [address for _, address in hits])
        ranked = sorted(zip(keys, (s for s, _ in hits), strict=True), key=lambda ks: (-ks[1], ks[0]))
        return [int(key) for key, _ in ranked], [float(s) for _, s in ranked]


def _write_stamp(path: Path, stamp: Stamp) -> None:
    Path(f"{path}.json.tmp").write_text(json.dumps(stamp.__dict__))
    os.replace(f"{path}.json.tmp", f"{path}.json")


def _unstamp(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        Path(f"{path}.json").unlink()


def remove(path: Path) -> None:
    """Delete a collection's index directory and stamp (when the collection goes)."""
    _unstamp(path)
    shutil.rmtree(path, ignore_errors=True)
