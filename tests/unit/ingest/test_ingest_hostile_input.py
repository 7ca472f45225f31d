"""Loaders on hostile or unusual input: lone surrogates, span bombs, deep nesting, text that mentions PDF."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmkit.errors import LoaderError
from llmkit.ingest.loaders import PDF, TXT, detect, load

SAMPLES = Path(__file__).parents[3] / "examples" / "demo" / "docs"


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b'{"a": "\\ud800 lone surrogate", "title": "x\\udfff"}', "s.json"),
        (b'{"\\udc00key": "value"}\n{"b": "\\ud800"}\n', "s.jsonl"),
        (b'{"a": "NUL \\u0000 inside", "t": "x"}\n', "n.jsonl"),  # no store takes NUL either
    ],
)
def test_lone_surrogates_become_replacement_characters(data: bytes, name: str) -> None:
    doc = load(data, name)
    for text in [doc.text, *(s.text for s in doc.sections), *(s.heading or "" for s in doc.sections)]:
        text.encode("utf-8")  # a store refuses text that does not encode
    assert "\ufffd" in doc.text and "\x00" not in doc.text
    assert all(doc.text[s.start : s.end] == s.text for s in doc.sections)


def test_span_bomb_table_stays_small() -> None:
    html = b"<table>" + b"<tr><td colspan=100 rowspan=1000>x</td></tr>" * 100 + b"</table>"
    doc = load(html, "t.html")  # 4 KiB of markup was 3.6 million characters of text
    assert len(doc.text) < 10_000
    assert doc.text.count("x") == 100  # every cell's text is still there, once


def test_spans_are_still_repeated_in_a_normal_table() -> None:
    html = b"<table><tr><th>a</th><th>b</th></tr><tr><td rowspan=9>r</td><td>1</td></tr><tr><td>2</td></tr></table>"
    assert load(html, "t.html").text == "| a | b |\n| --- | --- |\n| r | 1 |\n| r | 2 |"


def test_table_too_wide_to_pad_is_kept_one_line_a_row() -> None:
    from llmkit.ingest.loaders.html import MAX_TABLE_CELLS

    width = MAX_TABLE_CELLS // 100
    html = "<table><tr>" + "<th>h</th>" * width + "</tr>" + "<tr><td>v|w</td></tr>" * 200 + "</table>"
    doc = load(html.encode(), "t.html")
    assert len(doc.text) < 4 * width + 10 * 200  # not 200 rows padded to `width` cells
    assert doc.text.count("v\\|w") == 200 and doc.sections[0].kind == "table"


def test_deep_nesting_is_refused_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    import selectolax.lexbor

    def parse(*_: object) -> None:
        raise AssertionError("parsed a document that is nested too deeply")

    monkeypatch.setattr(selectolax.lexbor, "LexborHTMLParser", parse)
    html = b"<html><body>" + b"<div>" * 40_000 + b"deep text" + b"</div>" * 40_000 + b"</body></html>"
    with pytest.raises(LoaderError, match=r"nested too deeply .*limit is 2000"):
        load(html, "d.html")


def test_many_flat_or_void_elements_are_not_deep() -> None:
    from llmkit.ingest.loaders.html import nesting_depth

    html = (
        "<ul>" + "<li>item" * 3000 + "</ul>" + "<p>para" * 3000 + "<br>" * 3000
        + "<svg>" + '<path d="M0"/>' * 3000 + "</svg>"
        + "<script>" + "'<div>'" * 3000 + "</script><!--" + "<div>" * 3000 + "--><p>end</p>"
    )  # fmt: skip
    assert nesting_depth(html) <= 2
    assert "end" in load(html.encode(), "flat.html").text


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"Notes on file formats. Our archive uses %PDF-1.7 and PDF/A.\n\nThe warranty lasts two years.\n", "f.txt"),
        (b"format,header\nPDF,%PDF-1.7\nDOCX,PK\n", "f.csv"),
        (b"# PDF internals\n\nEvery PDF starts with `%PDF-1.x`.\n", "pdf.md"),
        (b"A piped note that mentions %PDF-1.4.", "stdin-0123456789ab"),
    ],
)
def test_text_that_mentions_pdf_is_not_a_pdf(data: bytes, name: str) -> None:
    assert detect(data, name) != PDF
    assert "%PDF-1" in load(data, name).text


def test_pdf_header_after_junk_is_still_a_pdf() -> None:
    pdf = (SAMPLES / "warranty.pdf").read_bytes()
    assert detect(b"\xef\xbb\xbf \r\n" + pdf, "renamed.txt") == PDF  # at the start, after a BOM and blanks
    junk = b"Content-Type: application/pdf\r\n\r\n" + pdf  # PDF readers accept a header in the first KiB
    assert detect(junk, "mail.pdf") == PDF and detect(junk, "stdin-0123456789ab") == PDF  # named, or ends %%EOF
    assert detect(junk.rstrip()[:-5], "stdin-0123456789ab") == TXT  # neither: text
    assert "Acme" in load(junk, "mail.pdf").text
