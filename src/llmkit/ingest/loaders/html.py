"""HTML, parsed with selectolax (lexbor): headings, paragraphs, lists, tables, code; boilerplate dropped."""

from __future__ import annotations

import re
from typing import Any

from llmkit.errors import LoaderError
from llmkit.ingest.loaders.base import DocBuilder, HeadingPath, decode_text, markdown_table
from llmkit.types import LoadedDocument

#: deeper documents are refused before parsing: lexbor takes quadratic time on them (and the walk recurses)
MAX_DEPTH = 2_000
#: slots of one table's grid (rows x columns) past which spans are not repeated nor rows padded
MAX_TABLE_CELLS = 200_000

_DROP = "script, style, noscript, template, nav, svg, iframe, button, select, head, [role=navigation], [hidden]"
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_LISTS = {"ul", "ol", "menu"}
_INLINE = {"a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "del", "dfn", "em", "font", "i", "img", "input",
           "ins", "kbd", "label", "mark", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup",
           "time", "tt", "u", "var", "wbr", "math"}  # fmt: skip
_MARKUP = re.compile(r"<!--|<(/?)([A-Za-z][^\s/>]*)")
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
# closed implicitly by a sibling or never nested in themselves, so they add no depth however many there are
_FLAT = {"p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody", "tfoot", "colgroup", "caption", "option",
         "optgroup", "rb", "rt", "rtc", "rp", "html", "head", "body", "a", "nobr", "button",
         "h1", "h2", "h3", "h4", "h5", "h6"}  # fmt: skip
_RAW_TEXT = {"script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript", "plaintext"}
_RAW_END = {name: re.compile(f"</{name}", re.IGNORECASE) for name in _RAW_TEXT}


def load(data: bytes, source: str) -> LoadedDocument:
    """One section per heading, paragraph, list, table (``kind="table"``) and ``<pre>`` (``kind="code"``).

    >>> doc = load(b"<h1>Guide</h1><script>x()</script><p>Hello <b>you</b>.</p><ul><li>a</li><li>b</li></ul>", "a.html")
    >>> [(s.kind, s.heading, s.text) for s in doc.sections]
    [('heading', 'Guide', 'Guide'), ('text', 'Guide', 'Hello you.'), ('text', 'Guide', '- a\\n- b')]
    """
    from selectolax.lexbor import LexborHTMLParser

    text, encoding = decode_text(data, source)
    if text.count("<") > MAX_DEPTH and (depth := nesting_depth(text)) > MAX_DEPTH:
        raise LoaderError(
            source, f"structure is nested too deeply to parse (elements {depth} deep; the limit is {MAX_DEPTH})"
        )
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


def nesting_depth(text: str) -> int:
    """How deep elements nest, found by a linear scan of the tags (an estimate that never builds a tree).

    Void and self-closed tags, elements that never nest in themselves (``p``, ``li``, ``td``, ``a`` ...)
    and the contents of comments, scripts and styles add nothing.

    >>> nesting_depth("<div><p>a<p>b<div><br><img/><!-- <div> --><script>'<div>'</script></div></div>")
    2
    """
    depth = deepest = pos = 0
    while (m := _MARKUP.search(text, pos)) is not None:
        if m.group(0) == "<!--":
            end = text.find("-->", m.end())
            if end < 0:
                break
            pos = end + 3
            continue
        closing, name = m.group(1), m.group(2).lower()
        end = text.find(">", m.end())
        if end < 0:
            break
        pos = end + 1
        if closing:
            depth -= name not in _VOID and name not in _FLAT and depth > 0
        elif name in _RAW_TEXT:
            close = _RAW_END[name].search(text, pos)
            if close is None:
                break
            pos = close.end()
        elif name not in _VOID and name not in _FLAT and text[end - 1] != "/":
            depth += 1
            deepest = max(deepest, depth)
    return deepest


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
            if rows and len(rows) * max(map(len, rows)) <= MAX_TABLE_CELLS:
                self.add(markdown_table(rows), "table")
            elif rows:  # padding every row to the widest would blow up: one line a row, cells as they are
                self.add("\n".join(" | ".join(_cell(c) for c in r) for r in rows), "table")
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
    """Table rows with ``colspan``/``rowspan`` cells repeated in every slot they cover.

    Spans stop at the table's last row and at HTML's own limits. A table whose spans would fill more
    than ``MAX_TABLE_CELLS`` slots gets one slot a cell instead: a few bytes of markup must not become
    megabytes of text.
    """
    trs = table.css("tr")
    rows: list[list[str]] = []
    below: dict[int, tuple[str, int]] = {}  # column -> (text, rows left) of cells spanning down
    slots = 0
    for index, tr in enumerate(trs):
        row: list[str] = []
        for cell in tr.css("th, td"):
            while len(row) in below:
                row.append(_take_below(below, len(row)))
            text = _inline(cell)
            down = min(_span(cell, "rowspan", 65_534), len(trs) - index)
            for _ in range(_span(cell, "colspan", 1_000)):
                if down > 1:
                    below[len(row)] = (text, down - 1)
                row.append(text)
            if slots + len(row) > MAX_TABLE_CELLS:
                return _unspanned(trs)
        last = max(below, default=-1)  # the row reaches the last column still spanned from above
        while len(row) <= last:
            row.append(_take_below(below, len(row)) if len(row) in below else "")
        rows.append(row)
        slots += len(row)
        if slots > MAX_TABLE_CELLS:
            return _unspanned(trs)
    return rows


def _unspanned(trs: list[Any]) -> list[list[str]]:
    return [[_inline(c) for c in tr.css("th, td")] for tr in trs]


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _take_below(below: dict[int, tuple[str, int]], column: int) -> str:
    text, left = below.pop(column)
    if left > 1:
        below[column] = (text, left - 1)
    return text


def _span(cell: Any, name: str, cap: int) -> int:
    value = (cell.attributes.get(name) or "1").strip()
    if not value.isdigit():
        return 1
    return min(max(int(value), 1), cap) if len(value) < 10 else cap
