"""``llmkit ask`` and ``llmkit chat``: answers streamed as they are generated, then their sources."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from llmkit.cli._common import FILTER_HELP, console, err_console, kit_from, parse_filter, print_json
from llmkit.cli.search import RERANK_HELP, REWRITE_HELP, Rewrite, retrieval_overrides

if TYPE_CHECKING:
    from llmkit.rag import AnswerStream
    from llmkit.types import Answer


def ask(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="The question.")],
    collection: Annotated[str | None, typer.Option("--collection", "-c")] = None,
    k: Annotated[int | None, typer.Option("-k", min=1, max=100, help="Passages to retrieve.")] = None,
    filter: Annotated[str | None, typer.Option("--filter", help=FILTER_HELP)] = None,
    max_tokens: Annotated[int | None, typer.Option(min=1, help="Longest answer, in tokens.")] = None,
    temperature: Annotated[float | None, typer.Option(min=0, max=2)] = None,
    rerank: Annotated[str | None, typer.Option(help=RERANK_HELP)] = None,
    rewrite: Annotated[Rewrite | None, typer.Option(help=REWRITE_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer and citations as JSON.")] = False,
) -> None:
    """Answer a question from the documents, with citations."""
    model = {k: v for k, v in {"max_tokens": max_tokens, "temperature": temperature}.items() if v is not None}
    retrieval = retrieval_overrides(rerank=rerank, rewrite=rewrite)
    with kit_from(ctx, model=model or None, retrieval=retrieval or None) as kit:
        stream = kit.ask_stream(question, collection=collection, k=k, filter=parse_filter(filter))
        if as_json:
            print_json(stream.collect())
            return
        answer = _stream(stream)
    print_sources(answer)


def chat(
    ctx: typer.Context,
    collection: Annotated[str | None, typer.Option("--collection", "-c")] = None,
    k: Annotated[int | None, typer.Option("-k", min=1, max=100)] = None,
    rerank: Annotated[str | None, typer.Option(help=RERANK_HELP)] = None,
    rewrite: Annotated[
        Rewrite | None, typer.Option(help="Rewrite follow-ups with the history before retrieval (condense, multi).")
    ] = None,
) -> None:
    """Talk with your documents; each turn retrieves afresh. Empty line or Ctrl-D to quit."""
    retrieval = retrieval_overrides(rerank=rerank, rewrite=rewrite)
    with kit_from(ctx, retrieval=retrieval or None) as kit:
        session = kit.chat(collection=collection, k=k)
        err_console().print(f"chatting with collection {session.collection!r}; empty line to quit", style="dim")
        while True:
            try:
                question = console().input("[bold green]you> [/]")
            except EOFError:
                break
            if not question.strip():
                break
            stream = session.send(question)
            searched = (stream.attributes or {}).get("search_queries")
            if searched:
                err_console().print("searched: " + " | ".join(searched), style="dim", markup=False)
            console().print("[bold blue]llmkit> [/]", end="")
            print_sources(_stream(stream))


def _stream(stream: AnswerStream) -> Answer:
    out = console()
    for piece in stream:
        out.print(piece, end="", markup=False, soft_wrap=True)
    out.print()
    assert stream.answer is not None
    return stream.answer


def print_sources(answer: Answer) -> None:
    from rich.markup import escape

    if not answer.found:
        return
    cited = answer.cited
    if answer.marked:
        note = ""
    elif cited:
        note = " [dim](matched to the answer by word overlap; the model marked none)[/]"
    else:
        note = " [dim](passages given to the model; none matched the answer)[/]"
    out = console()
    out.print("\n[bold]Sources[/]" + note)
    for c in cited or answer.citations:
        out.print(f"  [{c.n}] [cyan]{escape(c.source)}[/] ({escape(c.location)})")
    u = answer.usage
    tokens = f"{u.prompt_tokens} prompt + {u.completion_tokens} completion tokens"
    out.print(f"[dim]{answer.model} · {tokens} · trace {answer.trace_id or '—'}[/]")
