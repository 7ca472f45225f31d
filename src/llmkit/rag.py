"""The default application: retrieve → pack numbered passages → generate (streamed) → cite.

``RagPipeline.stream(question)`` returns an ``AnswerStream``: iterate it for the answer's text as it is
generated, then read ``.answer`` for the whole ``Answer`` with its citations. ``ask()`` is the same
call, collected. When retrieval finds nothing relevant the model is not asked at all and the answer
says so plainly (``Answer.found`` is False).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmkit.config import RagSettings
from llmkit.errors import ContextLengthExceeded, InputError
from llmkit.models.base import ChatModel
from llmkit.observe.traces import trace_attributes
from llmkit.retrieve.retriever import Mode, Retriever
from llmkit.store.base import Filter
from llmkit.types import Answer, Citation, GenerationParams, Hit, Message, Usage

if TYPE_CHECKING:
    from llmkit.guards.base import Verdict
    from llmkit.guards.pipeline import GuardPipeline
    from llmkit.guards.stream import StreamScreen
    from llmkit.prompts.prompt import Prompt
    from llmkit.prompts.template import PromptTemplate
    from llmkit.retrieve.rewrite import QueryRewriter

NOT_FOUND = "I could not find this in the documents."
_MARGIN_TOKENS = 8  # slack for tokenizer boundary effects when pieces are joined
_BYTE_SLACK = 4  # tokens a tokenizer may add to a text beyond one a UTF-8 byte (see pack_passages)


def format_passage(n: int, hit: Hit) -> str:
    """How passage ``n`` appears in the prompt.

    >>> from llmkit.types import Chunk
    >>> c = Chunk("d:0", "d", "guide.md", "Hold the button.", 0, 0, 16, heading="Reset")
    >>> format_passage(1, Hit(c, 1.0))
    '[1] guide.md, § Reset\\nHold the button.'
    """
    where = ", ".join(p for p in (hit.chunk.source, f"p. {hit.chunk.page}" if hit.chunk.page else "") if p)
    if hit.chunk.heading:
        where += f", § {hit.chunk.heading}"
    return f"[{n}] {where}\n{hit.chunk.text.strip()}"


def pack_passages(hits: Sequence[Hit], budget: int, count_tokens: Callable[[str], int]) -> tuple[str, list[Hit]]:
    """Number ``hits`` in rank order and keep those whose passages fit in ``budget`` tokens.

    The first passage is cut to fit rather than dropped, so a small budget still gets some context.
    Returns the context text and the hits it holds (passage ``[n]`` is ``kept[n-1]``).

    When every passage fits by its length in UTF-8 bytes, nothing is counted: no tokenizer in use
    makes more than ``bytes + 4`` tokens of a text (byte-level BPE: at most one a byte; SentencePiece
    adds a prefix token, WordPiece two special ones), so counting could not drop any of them.

    >>> from llmkit.types import Chunk
    >>> hits = [Hit(Chunk(f"d:{i}", "d", "d.md", "word " * 50, 0, 0, 250), 1.0) for i in range(3)]
    >>> words = lambda text: len(text.split())
    >>> [len(pack_passages(hits, budget, words)[1]) for budget in (2000, 120, 10)]
    [3, 2, 1]
    """
    texts = [format_passage(n, hit) for n, hit in enumerate(hits, 1)]
    if sum(len(t.encode("utf-8", "surrogatepass")) + _BYTE_SLACK + 2 for t in texts) <= budget:
        return "\n\n".join(texts), list(hits)
    parts: list[str] = []
    kept: list[Hit] = []
    used = 0
    for hit in hits:
        text = format_passage(len(kept) + 1, hit)
        cost = count_tokens(text) + 2  # the blank line between passages
        if used + cost > budget:
            if kept:
                continue  # a later, shorter passage may still fit
            text = _truncate(text, budget - 2, count_tokens)
            if not text:
                break
            cost = budget
        parts.append(text)
        kept.append(hit)
        used += cost
    return "\n\n".join(parts), kept


def _truncate(text: str, budget: int, count_tokens: Callable[[str], int]) -> str:
    if budget <= 0:
        return ""
    lo, hi = 0, len(text)
    while lo < hi:  # longest prefix that fits: O(log n) tokenizer calls
        mid = (lo + hi + 1) // 2
        if count_tokens(text[:mid]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo]


_WORD = re.compile(r"\w+")
_STOP = frozenset(
    "a an and are as at be but by can do does for from has have how i if in is it its no not of on or "
    "so that the their there these they this to was what when where which who why will with would you your".split()
)


def _content_words(text: str) -> set[str]:
    words = set(_WORD.findall(text.lower())) - _STOP  # set operations first: a passage repeats its words
    return {w for w in words if len(w) > 2 or w.isdigit()}


def supporting_passages(answer: str, question: str, hits: Sequence[Hit], threshold: float = 0.5) -> tuple[int, ...]:
    """Numbers of the passages holding at least ``threshold`` of the answer's new content words.

    Words already in the question are left out, so a passage is not credited for repeating it.

    >>> from llmkit.types import Chunk
    >>> hits = [Hit(Chunk(f"d:{i}", "d", "d.md", t, 0, 0, len(t)), 1.0) for i, t in enumerate(
    ...     ["The warranty lasts three years from purchase.", "Shipping takes five days."])]
    >>> supporting_passages("Three years from the purchase date.", "How long is the warranty?", hits)
    (1,)
    """
    new = _content_words(answer) - _content_words(question)
    if not new:
        return ()
    found = []
    for n, hit in enumerate(hits, 1):
        if len(new & _content_words(hit.chunk.text)) / len(new) >= threshold:
            found.append(n)
    return tuple(found)


def citations_for(hits: Sequence[Hit]) -> tuple[Citation, ...]:
    return tuple(
        Citation(
            n=i,
            chunk_id=h.chunk.id,
            doc_id=h.chunk.doc_id,
            source=h.chunk.source,
            location=h.chunk.location,
            page=h.chunk.page,
            heading=h.chunk.heading,
            start=h.chunk.start,
            end=h.chunk.end,
            snippet=_snippet(h.chunk.text),
        )
        for i, h in enumerate(hits, 1)
    )


def _snippet(text: str, limit: int = 160) -> str:
    """``text`` with its whitespace collapsed, cut at a word boundary to at most ``limit`` characters.

    >>> _snippet("  Hold\\n\\nthe   button. ")
    'Hold the button.'
    >>> _snippet("word " * 100, 20)
    'word word word…'
    """
    head = " ".join(text[: 2 * limit].split())  # the start is enough unless it is mostly whitespace
    if len(head) <= limit and len(text) > 2 * limit:
        head = " ".join(text.split())
    return head if len(head) <= limit else head[: limit - 1].rsplit(" ", 1)[0] + "…"


@dataclass
class AnswerStream:
    """The text of an answer as it is generated; ``answer`` is set once iteration ends.

    ``model`` is None when retrieval found nothing relevant: then no model is called.
    """

    hits: tuple[Hit, ...]
    question: str = ""
    citations: tuple[Citation, ...] = ()
    model: ChatModel | None = None
    messages: Sequence[Message] = ()
    params: GenerationParams | None = None
    attributes: dict[str, Any] | None = None
    answer: Answer | None = None
    #: Called with the finished answer (a chat session records its turns with it).
    on_done: Callable[[Answer], None] | None = None
    #: Output guards, and the placeholders the input guards wrote; with either, the answer is checked a
    #: sentence at a time (placeholders restored) before that sentence is yielded (``guards.stream``).
    guards: GuardPipeline | None = None
    placeholders: dict[str, str] = dataclasses.field(default_factory=dict)
    #: The verdicts of the guards that ran (input, passages, output), for the caller to show.
    verdicts: dict[str, Verdict] = dataclasses.field(default_factory=dict)

    def __iter__(self) -> Iterator[str]:
        if self.answer is not None:
            yield self.answer.text
            return
        if self.model is None:
            self._finish(Answer(NOT_FOUND, (), self.hits, Usage(0, 0), found=False))
            yield NOT_FOUND
            return
        screen = self._screen()
        parts: list[str] = []
        usage = Usage()
        with trace_attributes(**(self.attributes or {})) as span:
            for chunk in self.model.stream(self.messages, self.params):
                if chunk.text:
                    parts.append(chunk.text)
                    shown = screen.feed(chunk.text) if screen else chunk.text
                    if shown:
                        yield shown
                if chunk.usage is not None:
                    usage = chunk.usage
                if screen is not None and screen.blocked:
                    break  # closing the model's stream stops the generation
            text = "".join(parts).strip()
            if screen is not None:
                if rest := screen.finish():
                    yield rest
                text = self._after_guards(screen)
                if screen.blocked:
                    yield ("\n" if screen.shown else "") + text
        support = supporting_passages(text, self.question, self.hits)
        self._finish(Answer(text, self.citations, self.hits, usage, True, span.trace_id, self.model.name, support))

    def _screen(self) -> StreamScreen | None:
        """The output guards (and placeholder restoring) over the stream, if there is anything to do."""
        if not self.placeholders and (self.guards is None or not self.guards.output):
            return None
        from llmkit.guards.pipeline import GuardPipeline
        from llmkit.guards.stream import StreamScreen

        system = next((m.content for m in self.messages if m.role == "system"), None)
        passages = [h.chunk.text for h in self.hits]
        guards = self.guards or GuardPipeline()
        return StreamScreen(guards, self.placeholders, passages=passages, system_prompt=system)

    def _after_guards(self, screen: StreamScreen) -> str:
        """The answer's text once the stream is screened: what was shown, or the blocked message."""
        if screen.verdict is not None:
            self.verdicts["output"] = screen.verdict
        return screen.verdict.text.strip() if screen.blocked and screen.verdict else screen.shown.strip()

    def _finish(self, answer: Answer) -> None:
        self.answer = answer
        if self.on_done is not None:
            self.on_done(answer)

    def collect(self) -> Answer:
        for _ in self:
            pass
        assert self.answer is not None
        return self.answer


class RagPipeline:
    """Question answering over one collection, with citations."""

    def __init__(
        self,
        retriever: Retriever,
        model: ChatModel,
        *,
        settings: RagSettings | None = None,
        params: GenerationParams | None = None,
        template: Prompt | PromptTemplate | None = None,
        guards: GuardPipeline | None = None,
        rewriter: QueryRewriter | None = None,
    ) -> None:
        """``rewriter``: rewrites the question (with the chat history) before retrieval, by its ``mode``."""
        if template is None:  # the registry's built-in; Kit passes the project's ([prompts] rag)
            from llmkit.prompts.registry import builtin

            template = builtin("rag-answer")
        if not {"context", "question"} <= template.inputs:
            raise InputError(f"prompt {template.name!r} must use {{context}} and {{question}}")
        self.retriever = retriever
        self.model = model
        self.settings = settings or RagSettings()
        self.params = params or GenerationParams()
        self.template = template
        self.guards = guards if guards is not None and guards.enabled else None
        self.rewriter = rewriter

    def retrieve(
        self,
        collection: str,
        question: str,
        *,
        k: int | None = None,
        filter: Filter | None = None,
        mode: Mode | None = None,
        queries: Sequence[str] = (),
    ) -> list[Hit]:
        """The hits for ``question``, explained; ``mode`` (hybrid, dense, lexical) replaces the configured one,
        ``queries`` are other phrasings whose results are fused with the question's."""
        return self.retriever.search(collection, question, k=k, mode=mode, filter=filter, explain=True, queries=queries)

    def search_queries(
        self, question: str, history: Sequence[Message] = (), rewrite: str | None = None
    ) -> tuple[str, ...]:
        """What to search for ``question``: itself, or the rewriter's queries (``rewrite`` replaces its mode)."""
        if self.rewriter is None:
            if rewrite not in (None, "none"):
                raise InputError(f"rewrite = {rewrite!r} needs a query rewriter", hint="construct it with rewriter=")
            return (question,)
        return self.rewriter.queries(question, history, mode=rewrite)

    def is_relevant(self, hits: Sequence[Hit]) -> bool:
        """False when nothing was found, or when the best dense similarity is below ``min_relevance``."""
        dense = [h.explain.dense_score for h in hits if h.explain and h.explain.dense_score is not None]
        if not hits:
            return False
        return not dense or max(dense) >= self.settings.min_relevance

    def build_messages(
        self, question: str, hits: Sequence[Hit], history: Sequence[Message] = (), max_out: int | None = None
    ) -> tuple[list[Message], list[Hit]]:
        """The messages to send and the hits whose passages fit the model's context window, leaving room for
        ``max_out`` answer tokens (default: this pipeline's ``max_tokens``)."""
        max_out = (self.params.max_tokens or 0) if max_out is None else max_out
        bare = self.template.render(context="", question=question)
        base = self.model.count_message_tokens(bare)
        window = self.model.context_window
        room = window - max_out - base - _MARGIN_TOKENS  # for passages and history together
        if room <= 0:
            raise ContextLengthExceeded(base + max_out + _MARGIN_TOKENS, window)
        # The passages are what the answer rests on: they keep a reserve (context_tokens, else half the room,
        # or less when they need less) and the oldest turns go first to make it.
        used = 0
        if history:
            reserve = min(room, self.settings.context_tokens or room // 2)
            context, kept = pack_passages(hits, reserve, self.model.count_tokens)
            need = self.model.count_tokens(context) + 2 * len(kept)  # as pack_passages counts them
            history, used = self._fit_history(bare, history, base, room - min(reserve, need))
        budget = min(room - used, self.settings.context_tokens or room)
        context, kept = pack_passages(hits, budget, self.model.count_tokens)
        rendered = self.template.render(context=context, question=question)
        return [*rendered[:-1], *history, rendered[-1]], kept

    def _fit_history(
        self, bare: Sequence[Message], history: Sequence[Message], base: int, allowed: int
    ) -> tuple[Sequence[Message], int]:
        """The newest turns of ``history`` that fit in ``allowed`` tokens, and the tokens they take: whole turns
        (two messages) are dropped, oldest first, as few as will do (found by bisection: O(log n) counts)."""
        costs: dict[int, int] = {}

        def cost(drop: int) -> int:  # tokens the history takes with its ``drop`` oldest turns left out
            if drop not in costs:
                rest = history[2 * drop :]
                costs[drop] = self.model.count_message_tokens([*bare[:-1], *rest, bare[-1]]) - base if rest else 0
            return costs[drop]

        lo, hi = 0, (len(history) + 1) // 2  # dropping every turn always fits
        while lo < hi:
            mid = (lo + hi) // 2
            if cost(mid) <= allowed:
                hi = mid
            else:
                lo = mid + 1
        return history[2 * lo :], cost(lo)

    def stream(
        self,
        collection: str,
        question: str,
        *,
        history: Sequence[Message] = (),
        k: int | None = None,
        filter: Filter | None = None,
        params: GenerationParams | None = None,
        mode: Mode | None = None,
        rewrite: str | None = None,
    ) -> AnswerStream:
        """The answer to ``question`` as it is generated; ``params``, the retrieval ``mode`` and the query
        ``rewrite`` (none, condense, multi) replace this pipeline's for this call."""
        params = params or self.params
        if not question.strip():
            raise InputError("the question is empty")
        verdicts: dict[str, Verdict] = {}
        if self.guards is not None:  # the whole conversation: the history holds PII our answers restored
            screened, v = self.guards.check_conversation([*history, Message.user(question)])
            if v is not None:
                verdicts["input"] = v
                if v.blocked:
                    answer = Answer(self.guards.blocked_message, (), (), Usage(0, 0), found=False)
                    return AnswerStream((), question, answer=answer, verdicts=verdicts)
                history, question = screened[:-1], screened[-1].content or ""
        queries = self.search_queries(question, history, rewrite)  # the model sees the question as asked
        hits = self.retrieve(collection, queries[0], k=k, filter=filter, mode=mode, queries=queries[1:])
        placeholders = dict(verdicts["input"].placeholders) if "input" in verdicts else {}
        if self.guards is not None and self.guards.passages:
            hits = self._guard_passages(hits, verdicts, placeholders)
        if not self.is_relevant(hits):
            searched = {"search_queries": list(queries)} if queries != (question,) else None
            return AnswerStream(tuple(hits), question, attributes=searched, verdicts=verdicts)
        messages, kept = self.build_messages(question, hits, history, params.max_tokens or 0)
        attrs = {
            "kind": "rag",
            "collection": collection,
            "question": question,
            "prompt": self.template.ref,
            "prompt_version": self.template.version,
            "chunks": [h.chunk.id for h in kept],
        }
        if queries != (question,):  # rewritten: what retrieval searched for
            attrs["search_queries"] = list(queries)
        if verdicts:
            attrs["guards"] = {stage: v.to_dict() for stage, v in verdicts.items()}
        stream = AnswerStream(tuple(kept), question, citations_for(kept), self.model, messages, params, attrs)
        stream.guards, stream.verdicts = self.guards, verdicts
        stream.placeholders = placeholders
        return stream

    def _guard_passages(
        self, hits: Sequence[Hit], verdicts: dict[str, Verdict], placeholders: dict[str, str]
    ) -> list[Hit]:
        """Drop the passages a guard blocks (indirect injection); pass redacted text on in the others. The
        placeholders they get join ``placeholders`` (one value, one placeholder, question and passages alike)."""
        assert self.guards is not None
        kept = []
        for n, hit in enumerate(hits, 1):
            v = self.guards.check_input(hit.chunk.text, kind="passage", placeholders=placeholders)
            placeholders.update(v.placeholders)
            if v.action != "allow":
                verdicts[f"passage:{n}"] = v
            if not v.blocked:
                kept.append(
                    hit
                    if v.text == hit.chunk.text
                    else dataclasses.replace(hit, chunk=dataclasses.replace(hit.chunk, text=v.text))
                )
        return kept

    def ask(
        self,
        collection: str,
        question: str,
        *,
        history: Sequence[Message] = (),
        k: int | None = None,
        filter: Filter | None = None,
        mode: Mode | None = None,
        rewrite: str | None = None,
    ) -> Answer:
        return self.stream(
            collection, question, history=history, k=k, filter=filter, mode=mode, rewrite=rewrite
        ).collect()
