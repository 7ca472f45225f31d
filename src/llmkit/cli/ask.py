"""``llmkit ask`` and ``llmkit chat``: answers streamed as they are generated, then their sources."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from llmkit.cli._common import console, err_console, kit_from, parse_filter, print_json

if TYPE_CHECKING:
    from llmkit.rag import AnswerStream
    from llmkit.types import Answer


def ask(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="The question.")],
    collection: Annotated[str | None, typer.Option("--collection", "-c")] = None,
    k: Annotated[int | None, typer.Option("-k", min=1, max=100, help="Passages to retrieve.")] = None,
    filter: Annotated[str | None, typer.Option("--filter", help="JSON filter or key=value.")] = None,
    max_tokens: Annotated[int | None, typer.Option(min=1, help="Longest answer, in tokens.")] = None,
    temperature: Annotated[float | None, typer.Option(min=0, max=2)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer and citations as JSON.")] = False,
) -> None:
    """Answer a question from the documents, with citations."""
    model = {k: v for k, v in {"max_tokens": max_tokens, "temperature": temperature}.items() if v is not None}
    with kit_from(ctx, model=model or None) as kit:
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
) -> None:
    """Talk with your documents; each turn retrieves afresh. Empty line or Ctrl-D to quit."""
    with kit_from(ctx) as kit:
        session = kit.chat(collection=collection, k=k)
        err_console().print(f"chatting with collection {session.collection!r}; empty line to quit", style="dim")
        while True:
            try:
                question = console().input("[bold green]you> [/]")
            except EOFError:
                break
            if not question.strip():
                break
            console().print("[bold blue]llmkit> [/]", end="")
            print_sources(_stream(session.send(question)))


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
