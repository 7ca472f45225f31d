"""Loaders: detection by extension and bytes, structure kept, bad input -> LoaderError."""

from __future__ import annotations

import codecs
import io
import zipfile
from pathlib import Path

import pytest

from llmkit.errors import LoaderError
from llmkit.ingest.loaders import DOCX, HTML, JSON, JSONL, MD, PDF, TXT, detect, docx, load

SAMPLES = Path(__file__).parents[3] / "examples" / "demo" / "docs"


def _offsets_exact(doc) -> None:
    for s in doc.sections:
        assert doc.text[s.start : s.end] == s.text


def _pdf(pages: list[list[str]]) -> bytes:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_samples", SAMPLES.parents[2] / "scripts" / "make_sample_docs.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.pdf_bytes(pages)


def _docx(build) -> bytes:
    import docx as python_docx

    d = python_docx.Document()
    build(d)
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


# ----------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (b"hello", "a.txt", TXT),
        (b"# T\n\nx", "a.md", MD),
        (b"<p>x</p>", "a.htm", HTML),
        (b'{"a": 1}', "a.json", JSON),
        (b'{"a": 1}\n{"a": 2}', "a.jsonl", JSONL),
        (b"%PDF-1.4 whatever", "report.txt", PDF),
        (b"<!doctype html><p>x</p>", "stdin", HTML),
        (b'[{"a": 1}]', "stdin", JSON),
        (b'{"a": 1}\n{"a": 2}\n', "stdin", JSONL),
        (b"# Title\n\ntext", "stdin", MD),
        (b"just words", "stdin", TXT),
    ],
)
def test_detect(data: bytes, name: str, expected: str) -> None:
    assert detect(data, name) == expected


def test_docx_named_txt_is_loaded_as_docx() -> None:
    data = _docx(lambda d: d.add_paragraph("Inside a docx"))
    doc = load(data, "disguised.txt")
    assert doc.content_type == DOCX and "Inside a docx" in doc.text


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "empty.txt", "empty"),
        (b"  \n\t\n", "blank.md", "empty"),
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "image.txt", "image/png"),
        (bytes(range(256)) * 40, "garbage.bin", "binary"),
        (bytes(range(256)) * 40, "garbage.txt", "binary"),
        (b"\x00\x01\x02 not a pdf", "fake.pdf", "not a valid"),
        (b"PK\x03\x04 truncated zip", "broken.docx", "damaged"),
    ],
)
def test_bad_input_is_a_loader_error(data: bytes, name: str, message: str) -> None:
    with pytest.raises(LoaderError, match=message) as info:
        load(data, name)
    assert info.value.source == name


def test_plain_zip_and_xlsx_are_rejected_clearly() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("xl/workbook.xml", "<x/>")
    with pytest.raises(LoaderError, match="Excel"):
        load(buf.getvalue(), "book.xlsx")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.txt", "hi")
    with pytest.raises(LoaderError, match="ZIP archive"):
        load(buf.getvalue(), "a.zip")


# ----------------------------------------------------------------------------- text encodings


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("naïve café".encode(), "utf-8"),
        (codecs.BOM_UTF8 + "naïve café".encode(), "utf-8-sig"),
        (codecs.BOM_UTF16_LE + "naïve café".encode("utf-16-le"), "utf-16"),
        (codecs.BOM_UTF16_BE + "naïve café".encode("utf-16-be"), "utf-16"),
        ("naïve café – “quoted”".encode("cp1252"), "cp1252"),
    ],
)
def test_text_encodings(data: bytes, encoding: str) -> None:
    doc = load(data, "notes.txt")
    assert doc.text.startswith("naïve café")
    assert doc.metadata["encoding"] == encoding


def test_latin1_fallback_for_bytes_cp1252_cannot_decode() -> None:
    doc = load(b"caf\xe9 \x81", "x.txt")  # 0x81 is undefined in cp1252
    assert doc.metadata["encoding"] == "latin-1" and doc.text.startswith("café")


def test_crlf_is_normalised() -> None:
    doc = load(b"one\r\n\r\ntwo\r\nlines", "a.txt")
    assert [s.text for s in doc.sections] == ["one", "two\nlines"]


# ----------------------------------------------------------------------------- structure


def test_markdown_structure() -> None:
    src = b"""# Install

Intro text.

## Linux

Run it:

```sh
make install
```

| os | ok |
|----|----|
| linux | yes |

## Mac

Setext Title
------------

- a
  - nested
"""
    doc = load(src, "guide.md")
    _offsets_exact(doc)
    kinds = [(s.kind, s.heading) for s in doc.sections]
    assert ("code", "Install > Linux") in kinds
    assert ("table", "Install > Linux") in kinds
    assert ("heading", "Install > Setext Title") in kinds  # a setext "---" heading is level 2
    assert doc.title == "Install"
    assert any("nested" in s.text and s.kind == "text" for s in doc.sections)


def test_markdown_front_matter_gives_title() -> None:
    doc = load(b"---\ntitle: My Page\ntags: [a]\n---\nBody text.", "p.md")
    assert doc.title == "My Page" and "tags" not in doc.text


def test_html_drops_boilerplate_and_keeps_structure() -> None:
    html = b"""<html><head><title>T</title><style>p{color:red}</style></head><body>
    <nav><a href="/">Home</a> Menu</nav><script>var secret = 1;</script>
    <h1>Guide</h1><p>First <a href="#">link</a> para.</p>
    <h2>Table</h2><table><tr><th>k</th><th>v</th></tr><tr><td colspan="2">wide</td></tr></table>
    <pre>code  block</pre><ol><li>one<ul><li>inner</li></ul></li><li>two</li></ol>
    </body></html>"""
    doc = load(html, "p.html")
    _offsets_exact(doc)
    assert doc.title == "T"
    assert "secret" not in doc.text and "Menu" not in doc.text and "color" not in doc.text
    table = next(s for s in doc.sections if s.kind == "table")
    assert table.heading == "Guide > Table" and "| wide | wide |" in table.text
    assert any(s.kind == "code" and "code  block" in s.text for s in doc.sections)
    assert "1. one\n  - inner\n2. two" in doc.text
    assert "First link para." in doc.text


def test_pdf_pages_are_numbered() -> None:
    doc = load(_pdf([["Page one text."], ["Page two text."]]), "two.pdf")
    _offsets_exact(doc)
    assert [(s.page, s.text) for s in doc.sections] == [(1, "Page one text."), (2, "Page two text.")]
    assert doc.metadata["pages"] == 2


def test_truncated_pdf() -> None:
    data = _pdf([["Some text here."]])
    with pytest.raises(LoaderError):
        load(data[: len(data) // 3], "cut.pdf")


def test_encrypted_pdf() -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_pdf([["Secret text."]]))))
    writer.encrypt(user_password="pw", owner_password="owner", algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    with pytest.raises(LoaderError, match="password"):
        load(buf.getvalue(), "locked.pdf")


def test_pdf_without_text() -> None:
    with pytest.raises(LoaderError, match="no extractable text"):
        load(_pdf([[]]), "scan.pdf")


def test_docx_headings_and_tables() -> None:
    def build(d):
        d.add_heading("Manual", level=1)
        d.add_heading("Setup", level=2)
        d.add_paragraph("Plug it in.")
        t = d.add_table(rows=2, cols=2)
        t.cell(0, 0).text, t.cell(0, 1).text, t.cell(1, 0).text, t.cell(1, 1).text = "k", "v", "a", "b"

    doc = load(_docx(build), "m.docx")
    _offsets_exact(doc)
    assert [(s.kind, s.heading) for s in doc.sections] == [
        ("heading", "Manual"),
        ("heading", "Manual > Setup"),
        ("text", "Manual > Setup"),
        ("table", "Manual > Setup"),
    ]
    assert doc.sections[-1].text.splitlines()[2] == "| a | b |"


def test_zip_bomb_docx(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _docx(lambda d: d.add_paragraph("x" * 1000))
    monkeypatch.setattr(docx, "MAX_UNPACKED_BYTES", 1000)
    with pytest.raises(LoaderError, match="zip bomb"):
        load(data, "bomb.docx")


def test_csv_repeats_header_in_every_section() -> None:
    rows = "\n".join(f"item{i};{i}" for i in range(100))
    doc = load(f"name;price\n{rows}".encode(), "p.csv")
    assert len(doc.sections) == 3 and all(s.kind == "table" for s in doc.sections)
    assert all(s.text.startswith("| name | price |\n| --- | --- |\n") for s in doc.sections)
    assert doc.metadata["rows"] == 100


def test_csv_quoted_commas_and_newlines() -> None:
    doc = load(b'a,b\n"x, y","multi\nline"\n', "q.csv")
    assert "| x, y | multi line |" in doc.text


def test_json_flattens_with_key_paths() -> None:
    doc = load(b'[{"title": "A", "body": {"text": "hello"}}, {"title": "B", "tags": ["x"]}]', "r.json")
    assert [s.heading for s in doc.sections] == ["A", "B"]
    assert doc.sections[0].text == "title: A\nbody.text: hello"
    assert "tags[0]: x" in doc.sections[1].text


def test_jsonl_skips_bad_lines_and_counts_them() -> None:
    doc = load(b'{"id": 1, "text": "one"}\nnot json\n{"id": 2, "text": "two"}\n', "r.jsonl")
    assert len(doc.sections) == 2 and doc.metadata["bad_lines"] == 1


def test_malformed_json_and_all_bad_jsonl() -> None:
    with pytest.raises(LoaderError, match="not valid JSON"):
        load(b'{"a": ', "x.json")
    with pytest.raises(LoaderError, match="no line is valid JSON"):
        load(b"nope\nnope\n", "x.jsonl")


def test_deeply_nested_json_does_not_crash() -> None:
    data = ("[" * 50_000 + "]" * 50_000).encode()
    with pytest.raises(LoaderError):  # nothing to index, and no RecursionError traceback
        load(data, "deep.json")


def test_deeply_nested_html_does_not_crash() -> None:
    data = b"<div>" * 5000 + b"deep text" + b"</div>" * 5000
    try:
        doc = load(data, "deep.html")
    except LoaderError as e:
        assert "nested" in str(e)
    else:
        assert "deep text" in doc.text


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.iterdir() if p.suffix != ".py"))
def test_sample_documents_load(name: str) -> None:
    doc = load((SAMPLES / name).read_bytes(), name)
    _offsets_exact(doc)
    assert "Acme Widget 3000" in doc.text
