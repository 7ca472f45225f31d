"""Markdown, parsed with markdown-it-py (CommonMark; already installed as a dependency of Rich).

A CommonMark parser rather than a line-based one: it gets nested lists, fences inside lists, setext
headings, indented code and HTML blocks right, and its line maps let us take each block's exact source.
"""

from __future__ import annotations

import re

from llmkit.ingest.loaders.base import DocBuilder, HeadingPath, decode_text
from llmkit.types import LoadedDocument

_FRONT_MATTER = re.compile(r"\A---\n(.*?\n)---\n", re.DOTALL)
_KINDS = {"fence": "code", "code_block": "code", "table_open": "table"}


def load(data: bytes, source: str) -> LoadedDocument:
    """Headings become heading sections and set the heading path; tables and code keep their kind.

    >>> doc = load(b"# Install\\n\\n## Linux\\n\\nRun it.\\n\\n```\\nmake\\n```", "a.md")
    >>> [(s.kind, s.heading, s.text) for s in doc.sections][1:]  # doctest: +NORMALIZE_WHITESPACE
    [('heading', 'Install > Linux', 'Linux'), ('text', 'Install > Linux', 'Run it.'),
     ('code', 'Install > Linux', '```\\nmake\\n```')]
    """
    from markdown_it import MarkdownIt

    text, encoding = decode_text(data, source)
    metadata: dict[str, str] = {"encoding": encoding}
    match = _FRONT_MATTER.match(text)
    if match:  # YAML front matter: keep a title if it has one, drop the rest from the text
        text = text[match.end() :]
        title_line = re.search(r"^title:\s*['\"]?(.+?)['\"]?\s*$", match.group(1), re.MULTILINE)
        if title_line:
            metadata["title"] = title_line.group(1)
    lines = text.split("\n")
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    builder, path, title = DocBuilder(source), HeadingPath(), metadata.get("title")
    for i, tok in enumerate(tokens):
        if tok.level != 0 or tok.map is None or tok.nesting == -1:
            continue
        if tok.type == "heading_open":
            heading = tokens[i + 1].content.strip()
            path.push(int(tok.tag[1]), heading)
            builder.add(heading, kind="heading", heading=path.path)
            title = title or (heading if tok.tag == "h1" else None)
            continue
        block = "\n".join(lines[tok.map[0] : tok.map[1]]).rstrip()
        builder.add(block, kind=_KINDS.get(tok.type, "text"), heading=path.path)  # type: ignore[arg-type]
    return builder.build("text/markdown", title=title, metadata=metadata)
