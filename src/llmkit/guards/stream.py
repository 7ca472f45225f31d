"""Output guards over a stream: the answer is released a sentence at a time, checked, placeholders restored.

Without this, a streamed answer would either skip the output guards or arrive in one piece at the end.
Guards see the answer up to its last sentence boundary (a line break, or ``.!?…`` before a space), and
what they pass is shown but for its last piece: that one waits for the next, since an entity may run on
across the boundary (an address's next line, the name after ``Dr.``). Should a later check still change
text already shown, the final check's text goes on from where the two agree again, so nothing is lost.
A placeholder split across chunks is held back until it is whole. Once a check blocks, nothing more is
released. Checks come at most once a sentence, and less often as the answer grows (each must cover
another eighth of it), so a long answer costs a bounded number of whole checks, not one per sentence.
Only the final check over the whole answer is counted and traced, like the check of a whole reply.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from llmkit.guards.pii import restore
from llmkit.types import ChatChunk

if TYPE_CHECKING:
    from llmkit.guards.base import Verdict
    from llmkit.guards.pipeline import GuardPipeline

_BOUNDARY = re.compile(r"[.!?…](?=\s)|\n")
_OPEN_PLACEHOLDER = re.compile(r"<[ \t]*[A-Za-z0-9_]*[ \t]*$")  # as restore reads them: any case, spaces
_SHORT_LINE, _SHORT_LINES = 60, 6  # lines this short, this many, wait together (see ``_waiting``)
_TOKEN = re.compile(r"<[A-Z][A-Z0-9_]*_\d+>|\w+|\s+|[^\w\s]")  # a placeholder is one word


def _starts(tokens: list[str]) -> list[int]:
    """Where each token starts, and where the last ends."""
    out = [0]
    for t in tokens:
        out.append(out[-1] + len(t))
    return out


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
        self._boundaries: deque[int] = deque([0], maxlen=_SHORT_LINES + 2)  # ends of the last boundaries found
        self._scanned = 0  # where the next search for boundaries starts
        self._judged = 0  # end of the text the output guards last checked
        self._released = 0  # end of the text whose checked form has been shown

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
                self._boundaries.append(m.end())
            self._scanned = max(len(self.text) - 1, self._boundaries[-1])
            return self._boundaries[-1]
        tail = max(0, len(self.text) - 64)  # a placeholder is shorter: no need to search further back
        partial = _OPEN_PLACEHOLDER.search(self.text, tail)
        return partial.start() if partial else len(self.text)

    def _release(self, upto: int, *, final: bool) -> str:
        if self.blocked or (upto == 0 and not final):
            return ""
        if not self.guards.output:  # placeholders only: restored as they come, never split
            new = restore(self.text[self._released : upto], self.placeholders)
            self.shown, self._released = self.shown + new, upto
            return new
        if not final and upto - self._judged < max(1, self._judged // 8):  # too little new text to check again
            return ""
        self._judged = upto
        v = self._check(upto, record=final)
        if v.blocked and not final:
            v = self._check(upto, record=True)  # a block is counted and traced like a final verdict
        self.verdict = v if final or v.blocked else None
        self.blocked = v.blocked
        if self.blocked:
            return ""
        if final:
            return self._show(v.text, upto, final=True)
        wait = self._waiting()
        last = restore(self.text[wait:upto], self.placeholders)
        if not last or not v.text.endswith(last):
            return ""  # the text that waits was changed: an entity may run into it; wait for more
        return self._show(v.text[: len(v.text) - len(last)], wait, final=False)

    def _waiting(self) -> int:
        """Where the text that must wait for more starts: the last piece, and the short lines before it (an
        address card's lines are only an address together)."""
        ends = list(self._boundaries)
        i = len(ends) - 2
        while i > 0 and self.text[ends[i] - 1] == "\n" and ends[i] - ends[i - 1] <= _SHORT_LINE:
            i -= 1
        return ends[max(i, 0)]

    def _show(self, out: str, upto: int, *, final: bool) -> str:
        """What of ``out``, the checked text up to ``upto``, is new. Where it no longer starts with what was
        shown (a check changed text already out), nothing until the end; then what follows the shown text
        in the final one (`_resume_at`)."""
        if out.startswith(self.shown):
            new = out[len(self.shown) :]
        elif final:
            new = out[self._resume_at(out) :]
        else:
            return ""
        self.shown, self._released = self.shown + new, upto
        return new

    def _resume_at(self, out: str) -> int:
        """Where in ``out`` (the whole checked answer) the text not yet shown starts, by aligning it word by
        word with the answer as written; a change that began in text already shown is given whole."""
        written = restore(self.text, self.placeholders)
        at = len(restore(self.text[: self._released], self.placeholders))
        a, b = _TOKEN.findall(written), _TOKEN.findall(out)
        starts_a, starts_b = _starts(a), _starts(b)
        matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
        for tag, i1, i2, j1, _ in matcher.get_opcodes():
            if tag == "equal" and starts_a[i1] <= at < starts_a[i2]:
                k = next(k for k in range(i1, i2) if starts_a[k + 1] > at)  # the word holding ``at``
                return starts_b[j1 + k - i1] + at - starts_a[k]
            if tag != "equal" and (starts_a[i1] <= at < starts_a[i2] or starts_a[i1] == starts_a[i2] == at):
                return starts_b[j1]
        return len(out)

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
