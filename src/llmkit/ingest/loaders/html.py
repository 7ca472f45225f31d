"""HTML, parsed with selectolax (lexbor): headings, paragraphs, lists, tables, code; boilerplate dropped."""

from __future__ import annotations

from typing import Any

from llmkit.ingest.loaders.base import DocBuilder, HeadingPath, decode_text, markdown_table
from llmkit.types import LoadedDocument

_DROP = "script, style, noscript, template, nav, svg, iframe, button, select, head, [role=navigation], [hidden]"
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_LISTS = {"ul", "ol", "menu"}
_INLINE = {"a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "del", "dfn", "em", "font", "i", "img", "input",
           "ins", "kbd", "label", "mark", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup",
           "time", "tt", "u", "var", "wbr", "math"}  # fmt: skip


def load(data: bytes, source: str) -> LoadedDocument:
    """One section per heading, paragraph, list, table (``kind="table"``) and ``<pre>`` (``kind="code"``).

    >>> doc = load(b"<h1>Guide</h1><script>x()</script><p>Hello <b>you</b>.</p><ul><li>a</li><li>b</li></ul>", "a.html")
    >>> [(s.kind, s.heading, s.text) for s in doc.sections]
    [('heading', 'Guide', 'Guide'), ('text', 'Guide', 'Hello you.'), ('text', 'Guide', '- a\\n- b')]
    """
    from selectolax.lexbor import LexborHTMLParser

    text, encoding = decode_text(data, source)
    tree = LexborHTMLParser(text)
    title_node = tree.css_first("title")
    title = _inline(title_node) if title_node is not None else None
    for node in tree.css(_DROP):
        node.decompose()
    walker = _Walker(DocBuilder(source))
    root = tree.body or tree.root
    if root is not None:
        walker.walk(root)
        walker.flush()
    return walker.builder.build("text/html", title=title or walker.first_heading, metadata={"encoding": encoding})


class _Walker:
    def __init__(self, builder: DocBuilder) -> None:
        self.builder = builder
        self.path = HeadingPath()
        self.buffer: list[str] = []
        self.first_heading: str | None = None

    def flush(self) -> None:
        text = " ".join("".join(self.buffer).split())
        self.buffer.clear()
        self.add(text)

    def add(self, text: str, kind: Any = "text") -> None:
        self.builder.add(text, kind=kind, heading=self.path.path)

    def walk(self, node: Any) -> None:
        for child in node.iter(include_text=True):
            tag = child.tag
            if tag == "-text":
                self.buffer.append(child.text_content or "")
            elif tag in _INLINE:
                self.buffer.append(_raw(child))
            elif tag == "br":
                self.buffer.append(" ")
            elif tag.startswith("-"):  # comments and other non-elements
                continue
            else:
                self.flush()
                self.block(child, tag)
                self.flush()

    def block(self, node: Any, tag: str) -> None:
        if tag in _HEADINGS:
            heading = _inline(node)
            self.path.push(int(tag[1]), heading)
            self.first_heading = self.first_heading or heading
            self.builder.add(heading, kind="heading", heading=self.path.path)
        elif tag == "p":
            self.add(_inline(node))
        elif tag == "pre":
            self.add(node.text(deep=True), "code")
        elif tag == "table":
            rows = [r for r in _grid(node) if any(r)]
            if rows:
                self.add(markdown_table(rows), "table")
        elif tag in _LISTS:
            self.add("\n".join(_list_lines(node, 0)))
        elif tag == "dl":
            self.add("\n".join(_inline(c) for c in node.iter() if c.tag in ("dt", "dd")))
        else:
            self.walk(node)


def _inline(node: Any) -> str:
    """The text under ``node``, inline elements joined as they are, block elements apart."""
    return " ".join(_raw(node).split())


def _raw(node: Any) -> str:
    parts = []
    for n in node.traverse(include_text=True):
        if n.tag == "-text":
            parts.append(n.text_content or "")
        elif n.tag not in _INLINE and not n.tag.startswith("-"):
            parts.append(" ")
    return "".join(parts)


def _list_lines(node: Any, depth: int) -> list[str]:
    lines: list[str] = []
    ordered = node.tag == "ol"
    for n, item in enumerate((c for c in node.iter() if c.tag == "li"), start=1):
        nested = [c for c in item.iter() if c.tag in _LISTS]
        own = " ".join(" ".join(_own_text(item, c) for c in item.iter(include_text=True)).split())
        lines.append("  " * depth + (f"{n}. " if ordered else "- ") + own)
        for sub in nested:
            lines.extend(_list_lines(sub, depth + 1))
    return lines


def _own_text(item: Any, child: Any) -> str:
    if child.tag == "-text":
        return child.text_content or ""
    return "" if child.tag in _LISTS else _inline(child)


def _grid(table: Any) -> list[list[str]]:
    """Table rows with ``colspan``/``rowspan`` cells repeated in every slot they cover."""
    rows: list[list[str]] = []
    below: dict[int, tuple[str, int]] = {}  # column -> (text, rows left) of cells spanning down
    for tr in table.css("tr"):
        row: list[str] = []
        for cell in tr.css("th, td"):
            while len(row) in below:
                row.append(_take_below(below, len(row)))
            text = _inline(cell)
            for _ in range(_span(cell, "colspan", 100)):
                if (down := _span(cell, "rowspan", 1000)) > 1:
                    below[len(row)] = (text, down - 1)
                row.append(text)
        while below and len(row) <= max(below):
            row.append(_take_below(below, len(row)) if len(row) in below else "")
        rows.append(row)
    return rows


def _take_below(below: dict[int, tuple[str, int]], column: int) -> str:
    text, left = below.pop(column)
    if left > 1:
        below[column] = (text, left - 1)
    return text


def _span(cell: Any, name: str, cap: int) -> int:
    value = (cell.attributes.get(name) or "1").strip()
    return min(max(int(value), 1), cap) if value.isdigit() else 1
