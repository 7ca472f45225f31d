"""``llmkit search``: retrieve passages, optionally explaining each rank."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from llmkit.cli._common import FILTER_HELP, console, kit_from, parse_filter, print_json

if TYPE_CHECKING:
    from llmkit.types import Hit


class Mode(StrEnum):
    hybrid = "hybrid"
    dense = "dense"
    lexical = "lexical"


class Rewrite(StrEnum):
    none = "none"
    condense = "condense"
    multi = "multi"


RERANK_HELP = "Rerank after fusion: none, embedding, llm, or a cross-encoder (.onnx path or name)."
REWRITE_HELP = "Rewrite the query with the chat model first (multi: also search rephrasings and fuse them)."


def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="What to look for.")],
    collection: Annotated[str | None, typer.Option("--collection", "-c")] = None,
    k: Annotated[int | None, typer.Option("-k", min=1, max=1000, help="Number of results.")] = None,
    mode: Annotated[Mode | None, typer.Option(help="Retrieval mode.")] = None,
    filter: Annotated[str | None, typer.Option("--filter", help=FILTER_HELP)] = None,
    explain: Annotated[bool, typer.Option(help="Show lexical, dense and fused ranks.")] = False,
    mmr: Annotated[bool | None, typer.Option("--mmr/--no-mmr", help="Diversify with MMR.")] = None,
    rerank: Annotated[str | None, typer.Option(help=RERANK_HELP)] = None,
    rewrite: Annotated[Rewrite | None, typer.Option(help=REWRITE_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print hits as JSON.")] = False,
) -> None:
    """Search the collection."""
    retrieval = retrieval_overrides(mode=mode, rerank=rerank, rewrite=rewrite)
    with kit_from(ctx, retrieval=retrieval or None) as kit:
        hits = kit.search(query, collection=collection, k=k, filter=parse_filter(filter), explain=explain, mmr=mmr)
    if as_json:
        print_json(hits)
        return
    if not hits:
        console().print("no results")
    searched = [q for h in hits if h.explain for q in getattr(h.explain, "queries", ())]
    if explain and len(set(searched)) > 1:
        from rich.markup import escape

        console().print("searched: " + escape(" | ".join(dict.fromkeys(searched))), style="dim")
    for i, hit in enumerate(hits, 1):
        _print_hit(i, hit, explain)


def _print_hit(i: int, hit: Hit, explain: bool) -> None:
    from rich.markup import escape

    c = hit.chunk
    console().print(f"[bold]{i}.[/] [cyan]{escape(c.source)}[/] ({escape(c.location)})  score {hit.score:.4f}")
    if explain and hit.explain:
        e = hit.explain
        lex = f"#{e.lexical_rank} ({e.lexical_score:.3f})" if e.lexical_rank else "—"
        den = f"#{e.dense_rank} ({e.dense_score:.3f})" if e.dense_rank else "—"
        rerank = getattr(e, "rerank_score", None)
        reranked = f"   rerank {rerank:.4f}" if rerank is not None else ""
        console().print(f"   lexical {lex}   dense {den}   fused {e.fused_score:.4f}{reranked}", style="dim")
    text = " ".join(c.text.split())
    console().print("   " + escape(text[:300] + ("…" if len(text) > 300 else "")))


def retrieval_overrides(**options: object) -> dict[str, str]:
    """The ``[retrieval]`` keys given as flags (enum values as their text), for ``kit_from``."""
    return {key: str(getattr(v, "value", v)) for key, v in options.items() if v is not None}
