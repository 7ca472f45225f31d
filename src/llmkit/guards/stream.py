"""Output guards over a stream: the answer is released a sentence at a time, checked, placeholders restored.

Without this, a streamed answer would either skip the output guards or arrive in one piece at the end.
Guards see the answer up to its last sentence boundary. Every built-in guard judges spans or
sentences, so a checked sentence stays as it was when more text follows; if a later check does change
text already shown, nothing more is shown until the final check. A placeholder split across chunks is
held back until it is whole. Once a check blocks, nothing more is released. Only the final check over
the whole answer is counted and traced, like the check of a whole reply.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from llmkit.guards.pii import restore
from llmkit.types import ChatChunk

if TYPE_CHECKING:
    from llmkit.guards.base import Verdict
    from llmkit.guards.pipeline import GuardPipeline

_BOUNDARY = re.compile(r"[.!?…](?=\s)|\n")
_OPEN_PLACEHOLDER = re.compile(r"<[A-Z0-9_]*$")


class StreamScreen:
    """What of a growing answer may be shown. ``feed`` each piece, then ``finish``; each returns new text.

    >>> from llmkit.guards.pipeline import GuardPipeline
    >>> s = StreamScreen(GuardPipeline(), {"<EMAIL_ADDRESS_1>": "jo@example.com"})
    >>> s.feed("Mail <EMAIL_"), s.feed("ADDRESS_1> now."), s.finish()
    ('Mail ', 'jo@example.com now.', '')
    """

    def __init__(
        self,
        guards: GuardPipeline,
        placeholders: Mapping[str, str] | None = None,
        *,
        passages: Sequence[str] = (),
        system_prompt: str | None = None,
    ) -> None:
        self.guards, self.placeholders = guards, dict(placeholders or {})
        self.passages, self.system_prompt = tuple(passages), system_prompt
        self.text = ""  # everything the model wrote
        self.shown = ""  # what has been released
        self.verdict: Verdict | None = None  # the final check's, or the one that blocked
        self.blocked = self.finished = False
        self._boundary = 0  # end of the last sentence boundary found in ``text``
        self._scanned = 0  # where the next search for boundaries starts
        self._judged = 0  # end of the text the output guards last checked

    def feed(self, piece: str) -> str:
        self.text += piece
        return self._release(self._ready(), final=False)

    def finish(self) -> str:
        """The rest, after the final check (once: later calls return nothing)."""
        if self.finished:
            return ""
        self.finished = True
        return self._release(len(self.text), final=True)

    def _ready(self) -> int:
        """How much of the text can be judged now."""
        if self.guards.output:  # only new text is scanned (its first character may end the last sentence)
            for m in _BOUNDARY.finditer(self.text, self._scanned):
                self._boundary = m.end()
            self._scanned = max(len(self.text) - 1, self._boundary)
            return self._boundary
        partial = _OPEN_PLACEHOLDER.search(self.text)
        return partial.start() if partial else len(self.text)

    def _release(self, upto: int, *, final: bool) -> str:
        if self.blocked or (upto == 0 and not final):
            return ""
        if self.guards.output:
            if upto <= self._judged and not final:  # no new sentence since the last check
                return ""
            self._judged = upto
            v = self._check(upto, record=final)
            if v.blocked and not final:
                v = self._check(upto, record=True)  # a block is counted and traced like a final verdict
            self.verdict = v if final or v.blocked else None
            self.blocked = v.blocked
            out = "" if v.blocked else v.text
        else:
            out = restore(self.text[:upto], self.placeholders)
        if self.blocked or not out.startswith(self.shown):
            return ""
        new, self.shown = out[len(self.shown) :], out
        return new

    def _check(self, upto: int, *, record: bool) -> Verdict:
        return self.guards.check_output(
            self.text[:upto], passages=self.passages, system_prompt=self.system_prompt,
            placeholders=self.placeholders, record=record,
        )  # fmt: skip


def screen_chunks(
    chunks: Iterator[ChatChunk], guards: GuardPipeline, placeholders: Mapping[str, str] | None = None
) -> Iterator[ChatChunk]:
    """``chunks`` through a ``StreamScreen``; a block ends the stream (and its generation) with
    ``finish_reason="content_filter"``."""
    if not guards.output and not placeholders:
        yield from chunks
        return
    screen = StreamScreen(guards, placeholders)
    try:
        for chunk in chunks:
            text = screen.feed(chunk.text) if chunk.text else ""
            if chunk.finish_reason is not None:
                text += screen.finish()
            if screen.blocked:
                yield ChatChunk(text, "content_filter", chunk.usage)
                return
            if text or chunk.finish_reason or chunk.usage or chunk.tool_calls:
                yield dataclasses.replace(chunk, text=text)
        if rest := screen.finish():  # a stream that ended without a finishing chunk
            yield ChatChunk(rest)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
