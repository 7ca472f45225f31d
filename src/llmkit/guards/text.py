"""The text the guards match against: invisible characters dropped, compatibility forms folded, and the
way back to the original's offsets.

One value can be written many ways: a card number with no-break spaces (French style), an email with a
zero-width space inside, a denied keyword in fullwidth letters (``ＡＫＩＡ``), an injection with soft
hyphens. Each reads the same to a person and to a model, but not to a regular expression. So the pattern
guards match on a *scan view* of the text: format characters (Unicode category Cf: zero-width spaces and
joiners, soft hyphens, bidi marks, the BOM) are dropped and every other character is put in its NFKC form
(fullwidth letters and digits become ASCII, ligatures are split, odd spaces become a space). A span found
in the view maps back to the original text, so a redaction covers the characters as written.

Look-alike letters of other scripts (Cyrillic ``о`` for Latin ``o``) are not folded: that needs Unicode's
confusables table, and folding them would also change honest Cyrillic and Greek text.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ScanView:
    """``text`` as the guards scan it; ``where[i]`` is the original offset of its character ``i`` (and
    ``where[len(text)]`` the original's length); None when the view is the original."""

    text: str
    where: tuple[int, ...] | None = None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original offsets of the view's ``text[start:end]`` (``end > start``).

        >>> v = scan_view("card\\u00a04111\\u200b1111")
        >>> v.text, v.span(5, 13)
        ('card 41111111', (5, 14))
        """
        if self.where is None:
            return start, end
        return self.where[start], self.where[end - 1] + 1


def scan_view(text: str) -> ScanView:
    """The scan view of ``text`` (see the module's docstring); ASCII text is its own view.

    >>> scan_view("Ｉｇｎｏｒｅ all\\u00ad previous").text
    'Ignore all previous'
    """
    if text.isascii():
        return ScanView(text)
    chars: list[str] = []
    where: list[int] = []
    for i, c in enumerate(text):
        if c.isascii():
            chars.append(c)
            where.append(i)
        elif unicodedata.category(c) != "Cf":
            folded = unicodedata.normalize("NFKC", c)
            chars.append(folded)
            where.extend([i] * len(folded))
    where.append(len(text))
    view = "".join(chars)
    return ScanView(view) if len(view) == len(text) and view == text else ScanView(view, tuple(where))
