"""Helpers shared by the command modules: the Kit from global options, consoles, JSON output."""

from __future__ import annotations

import dataclasses
import json
import sys
from functools import cache
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from llmkit.kit import Kit


@cache
def console() -> Console:
    from rich.console import Console

    return Console(highlight=False)


@cache
def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def kit_from(ctx: typer.Context, **overrides: Any) -> Kit:
    """The project's Kit, with the global flags (and a command's own) as overrides."""
    from llmkit.kit import open_kit

    opts: dict[str, Any] = dict(ctx.find_root().obj or {})
    project = opts.pop("project", None)
    merged = _merge(opts, {k: v for k, v in overrides.items() if v is not None})
    return open_kit(project, **merged)


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def to_jsonable(value: Any) -> Any:
    """Frozen dataclasses (and lists of them) as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for extra in ("location", "total_tokens"):
            if hasattr(type(value), extra):
                out[extra] = getattr(value, extra)
        return out
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def print_json(value: Any) -> None:
    json.dump(to_jsonable(value), sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


FILTER_HELP = "JSON filter, or key=value (the value read as a JSON number, true, false or null, else as text)."


def parse_filter(text: str | None) -> dict[str, Any] | None:
    """``--filter '{"page": {"$gte": 2}}'`` or ``--filter key=value``, the value a JSON scalar where it parses as
    one (``page=2``, ``draft=true``, ``tag=null``, ``year="2020"`` for the string), else the text as it is.

    >>> parse_filter("page=2"), parse_filter("source=a.md"), parse_filter('year="2020"'), parse_filter("x=NaN")
    ({'page': 2}, {'source': 'a.md'}, {'year': '2020'}, {'x': 'NaN'})
    """
    from llmkit.errors import InputError

    if not text:
        return None
    if "=" in text and not text.lstrip().startswith("{"):
        key, _, value = text.partition("=")
        return {key.strip(): _scalar(value.strip())}
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"--filter is not valid JSON: {e}", hint='e.g. --filter \'{"source": "a.md"}\'') from None
    if not isinstance(parsed, dict):
        raise InputError("--filter must be a JSON object")
    return parsed


def _scalar(text: str) -> Any:
    """``text`` as a JSON number, string, true, false or null where it is one; otherwise ``text`` itself.

    >>> _scalar("2.5"), _scalar("false"), _scalar("null"), _scalar("[1]"), _scalar("Infinity"), _scalar("a b")
    (2.5, False, None, '[1]', 'Infinity', 'a b')
    """

    def refuse(constant: str) -> Any:
        raise ValueError(constant)  # NaN and Infinity: no filter value can be one

    try:
        value = json.loads(text, parse_constant=refuse)
    except ValueError:
        return text
    return value if value is None or isinstance(value, (str, int, float, bool)) else text
