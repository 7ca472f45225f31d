"""Getting a JSON value out of a model's reply: strip fences and prose, then fix the usual slips.

Small and remote models alike wrap JSON in Markdown fences, add a sentence before it, leave trailing
commas, use single quotes or Python's ``True``/``None``, or stop before closing their brackets. These
pure functions undo those slips and nothing more; the schema check comes after.
"""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_PY_LITERALS = {"True": "true", "False": "false", "None": "null"}
_PY_LITERAL = re.compile("True|False|None")
#: ``\uXXXX``, or a high surrogate escape followed by a low one (one character outside the BMP).
_UNICODE_ESCAPE = re.compile(r"\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})|\\u([0-9a-fA-F]{4})")


def find_json(text: str) -> str | None:
    """The first complete JSON object or array in ``text`` (inside a code fence if there is one).

    >>> find_json('Sure! Here it is:\\n```json\\n{"a": [1, 2]}\\n```')
    '{"a": [1, 2]}'
    >>> find_json('The answer is {"ok": true} as asked.')
    '{"ok": true}'
    >>> find_json("no json here") is None
    True
    """
    fenced = _FENCE.search(text)
    body = fenced.group(1) if fenced else text
    start = next((i for i, c in enumerate(body) if c in "{["), None)
    if start is None:
        return None
    depth, in_str, escaped = 0, False, False
    for i in range(start, len(body)):
        c = body[i]
        if in_str:
            escaped, in_str = (not escaped and c == "\\"), in_str and (escaped or c != '"')
            continue
        if c == '"':
            in_str = True
        elif c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
            if depth == 0:
                return body[start : i + 1]
    return body[start:]  # unclosed: repair() may close it


def repair(text: str) -> str:
    """``text`` with trailing commas removed, Python literals and single-quoted strings turned into JSON,
    and unclosed brackets and strings closed.

    >>> repair("{'a': True, 'b': [1, 2,],}")
    '{"a": true, "b": [1, 2]}'
    >>> repair('{"a": {"b": "c')
    '{"a": {"b": "c"}}'
    """
    out, stack, i, n = [], [], 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            end, s = _string_end(text, i)
            out.append(json.dumps(s))
            i = end
            continue
        word = _PY_LITERAL.match(text, i)
        if word and (i == 0 or not text[i - 1].isalnum()):
            out.append(_PY_LITERALS[word.group()])
            i += len(word.group())
            continue
        if c in "{[":
            stack.append("}" if c == "{" else "]")
        elif c in "}]" and stack:
            stack.pop()
        out.append(c)
        i += 1
    fixed = "".join(out).rstrip().rstrip(",") + "".join(reversed(stack))
    return _TRAILING_COMMA.sub(r"\1", fixed)


def _string_end(text: str, start: int) -> tuple[int, str]:
    """The index after the string that opens at ``start`` (single or double quoted) and its value."""
    quote, i, chars = text[start], start + 1, []
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if escape := _UNICODE_ESCAPE.match(text, i):
                chars.append(_unicode(escape))
                i = escape.end()
                continue
            chars.append({"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}.get(nxt, nxt))
            i += 2
            continue
        if c == quote:
            return i + 1, "".join(chars)
        chars.append(c)
        i += 1
    return i, "".join(chars)  # unterminated: closed at the end of the text


def _unicode(escape: re.Match[str]) -> str:
    r"""The character a ``\uXXXX`` escape (or a ``\uD83D\uDE00`` surrogate pair) stands for."""
    high, low, single = escape.groups()
    if single is not None:
        return chr(int(single, 16))  # a lone surrogate stays one, as json.loads keeps it
    return chr(0x10000 + ((int(high, 16) - 0xD800) << 10) + (int(low, 16) - 0xDC00))


def parse_lenient(text: str) -> tuple[Any, bool]:
    """The JSON value in ``text`` and whether it needed repair; ``ValueError`` when there is none.

    >>> parse_lenient('{"a": 1}'), parse_lenient("```\\n{'a': 1,}\\n```")
    (({'a': 1}, False), ({'a': 1}, True))
    """
    try:
        return _loads(text), False
    except json.JSONDecodeError:
        pass
    found = find_json(text)
    if found is None:
        raise ValueError("the reply holds no JSON object or array")
    try:
        return _loads(found), True
    except json.JSONDecodeError:
        pass
    try:
        return _loads(repair(found)), True
    except json.JSONDecodeError as e:
        raise ValueError(f"the reply's JSON cannot be repaired ({e.msg} at {e.pos})") from None


def _loads(text: str) -> Any:
    """``json.loads``, with nesting too deep for the parser's recursion as a ``ValueError``."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("the reply's JSON is nested too deeply") from None
