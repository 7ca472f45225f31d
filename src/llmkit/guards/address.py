"""Postal addresses: a street line (house number and street, in US or European order) plus what follows it.

A street line alone is too loose to trust (``Windows 11``, ``Chapter 3``), so a candidate must carry a
cue: a street word (``Road``, ``St``, ``Rue``, ``ul.``, a suffix such as ``-straße``, ``-vej``, ``-katu``),
a house number in front of a name-and-number street (``450 Præstevænget 15``), a unit after it
(``Apt. 12``, ``Suite 501``), or an address word shortly before it (``address``, ``lives on``,
``located at``); a numbered street with a street word before its name (``2 Rue Saint-Jean``) needs
address words before it or a postcode and city after it (``, 69005 Lyon``). A found street line is then
extended over its unit, city, region, country and postcode lines while they look like parts of an address
(capitalised words, short codes, postcodes). US military
addresses (``PSC 1234, Box 5678 APO AE 09876``, ``USS Name FPO AA 12345``), PO boxes and street corners
(``the corner of X and Y``) are recognised too.

No library fits: ``usaddress`` parses a string already known to be a US address and ``pyap`` finds
only US, Canadian and British ones; both miss European street order.
"""

from __future__ import annotations

import bisect
import re

_L = r"[^\W\d_]"  # a letter, any script
_NAME = rf"{_L}(?:{_L}|['’.\-])*"  # a word of letters (with apostrophes, dots, hyphens)
#: a word starting upper case (or non-ASCII), perhaps after an elided article (d'Ouchy, l'Aquila, dell'Orso)
_CAP = rf"(?:(?:d|l|dell|dall|nell|sull|all)['’])?(?:[A-ZÀ-ÞĀ-Ž]|[^\W\d_a-z])(?:{_L}|['’.\-])*"
#: lower-case words inside a street or place name (Rue de la Paix, Jiřího z Poděbrad, Ústí nad Labem)
_JOIN = (
    r"(?:de|del|della|dei|degli|delle|di|do|da|dos|das|der|den|von|van|des|du|la|le|los|las|y|i|e|u\.?|v|ve|z|ze|"
    r"na|nad|pod|am|an)(?!\w)"
)
_NUM = r"\d{1,5}(?:-\d{1,5})?[A-Z]?\b"  # a house number: 12, 12B, 3-5 (not 70s)
_SP = r"[ \t]+"
_SUFFIX = (
    r"street|st|avenue|ave|av|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|place|pl|square|sq|terrace|"
    r"ter|way|parkway|pkwy|highway|hwy|circle|cir|trail|trl|alley|crescent|cres|close|grove|gardens|gdns|"
    r"parade|row|walk|mews|hill|park|parks|points?|union|crossing|xing|loop|pike|plaza|ridge|run|view|"
    r"estates?|heights|meadows?|path|green|wharf|quay|forges?|str|u|út|utca|gasse|weg|platz|allee|vej|gade|"
    r"gata|gatan|vägen|väg|veien|vegen|katu|kuja|tie|tee|straat|laan|plein|ulica|ul|ulice|cesta|ulitsa"
)
#: Street words that come before the name (Rue de la Paix 4, ul. Grochowa 80, Via Roma 1).
_PREFIX = (
    r"rue|avenue|av|avda|avenida|boulevard|bd|calle|carrer|camino|via|viale|piazza|piazzale|piazzetta|corso|"
    r"largo|strada|rua|rúa|praça|travessa|estrada|rodovia|ul|ulica|aleja|al|plac|náměstí|nám|chemin|route|"
    r"allée|impasse|quai|place|platz|postbox|p\.?\s?o\.?\s+box|calea|bulevardul|odos|leoforos|πλατεία|οδός"
)
#: Suffixes glued to the street name in Germanic, Nordic and Finnic languages (Hauptstraße, Søndergade).
_GLUED = (
    r"(?:stra(?:ss|ß)e|gasse|weg|platz|allee|vej|vænget|gade|gata|gatan|vägen|veien|vegen|katu|kuja|tie|"
    r"straat|laan)"
)
_UNIT = (
    r"(?i:apt|apartment|suite|ste|unit|flat|room|rm|floor|fl|bldg|building)\.?[ \t]*#?[ \t]*[\w-]{1,6}\b"
    r"|#[ \t]?\d{1,5}\b"
)

#: 221 Baker Street; 0896 69 Farnell Street West
_US_STREET = (
    rf"{_NUM}(?:{_SP}\d{{1,5}})?{_SP}(?:{_CAP}{_SP}){{1,4}}(?i:{_SUFFIX})\.?(?!\w)"
    rf"(?:{_SP}(?:North|South|East|West|[NSEW]{{1,2}})\b)?(?![.]?[ \t]+\d)"
)
#: Søndergade 52; 4844 Søndergade 52; ul. Północna 73; Rue de Piétrain 371; avenue de Provence
_PREFIXED = rf"(?i:{_PREFIX})\.?{_SP}(?:{_JOIN}{_SP})*"  # Rue de, ul., Avenida
_STREET_WORD = rf"(?:{_PREFIXED})?"
_NAME_WORDS = rf"{_CAP}(?:{_SP}(?:{_CAP}|{_JOIN})){{0,3}}"  # Augusta, Pavlou Drandaki, Jiřího z Poděbrad
_EU_NAME = rf"{_STREET_WORD}{_CAP}(?:{_SP}(?:{_CAP}|{_JOIN}|(?i:{_SUFFIX})\.?)){{0,3}}"
#: after the name: 52, 52A, 43-45, 104/122, 12 B 5 (a staircase and a flat)
_EU_NUMBER = r"\d{1,5}(?:[-/]\d{1,5})?(?:[ \t]?[A-Z])?\b"
_EU_STREET = rf"(?:{_NUM}{_SP})?{_EU_NAME}{_SP}{_EU_NUMBER}(?:{_SP}\d{{1,4}}\b)?\.?"
#: Calle de Alcalá, 42; Rua Augusta, 1500: a comma before the number, only after a capitalised street word
#: (not "via Zoom, 3 times")
_EU_COMMA = rf"(?=[A-ZÀ-ÞĀ-ŽΑ-Ω]){_PREFIXED}{_NAME_WORDS},[ \t]*{_EU_NUMBER}"
#: 9816 214 Pavlou Drandaki (a building and a house number before a street name): needs address context
_NUMBERED = rf"{_NUM}{_SP}(?:\d{{1,5}}{_SP})?{_STREET_WORD}{_NAME_WORDS}"
_MILITARY = (
    r"\b(?i:(?:PSC|Unit|CMR)\s+\d{3,5},?\s+Box\s+\d{3,5}|(?:USS|USNS|USNV|USCGC)\s+[^\W\d_][\w'’-]*)"
    r"\s*,?\s+(?i:[ADF]PO\s+A[AEP])\s+\d{5}\b"
)
_PO_BOX = r"(?:\b\d{1,5}[ \t]+)?\b(?i:P\.?\s?O\.?\s+Box|Postbox)\s+\d+"

STREET = re.compile(rf"(?<![\w.])(?=[^\n\d]{{0,60}}\d)(?:{_US_STREET}|{_EU_STREET}|{_EU_COMMA})")
NUMBERED = re.compile(rf"(?<![\w.])(?=\d){_NUMBERED}")
MILITARY = re.compile(rf"{_MILITARY}|{_PO_BOX}")
HAS_BOX = re.compile(r"(?i)box|[ADF]PO\b")
UNIT = re.compile(rf"[ \t]*,?[ \t]*(?:\n[ \t>]*)?(?:{_UNIT})")
#: One address line after the street: a city, region or country in capitalised words, or a postcode.
_PLACE = rf"(?:{_CAP}|[A-Z]{{2,3}})(?:[ \t]+(?:{_CAP}|{_JOIN}|\([^()\n]{{1,30}}\)))*"
_POSTCODE = (
    r"\d{5}-\d{3,4}|\d{4,6}|\d{3}[ \t]\d{2}|\d{2}-\d{3}"  # 02139-4307, 01304-001, 10117, 110 00, 00-017
    r"|[A-Z]\d[A-Z][ \t]?\d[A-Z]\d|[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2}"  # Canada M5H 2N2, UK SW1A 2AA
)
#: A district's number after its name, before a comma or the line's end (District 1, Praha 10, Dublin 8).
_DISTRICT = r"\d{1,2}(?=[ \t]*(?:,|\n|$))"
#: A region given as a number (a département, a province code), only when a postcode follows.
_REGION_NUMBER = rf"\d{{1,3}}(?=[ \t]*(?:\n[ \t>]*)?(?:{_POSTCODE})(?!\w))"
TAIL = re.compile(
    rf"(?:[ \t]*,[ \t]*|[ \t]*\n[ \t>]*,?[ \t]*|[ \t]+)"
    rf"(?:{_PLACE}(?:[ \t]+(?:{_POSTCODE}|{_DISTRICT}))?|{_POSTCODE}|{_REGION_NUMBER})(?!\w)"
)
#: A postcode and a city right after a street line (``, 69005 Lyon``): a cue, like a unit or address words.
POSTAL_CITY = re.compile(rf"[ \t]*,[ \t]*(?:{_POSTCODE})[ \t]+{_CAP}")
#: A last line after a blank one, only when it ends in a postcode ("Denmark 35018").
LAST = re.compile(rf"[ \t]*\n[ \t]*\n[ \t>]*(?:{_PLACE}[ \t]+)?(?:{_POSTCODE})(?!\w)")
CORNER = re.compile(rf"(?:\b(?i:the corner of)\s+)?(?:{_CAP}\s+and\s+)?$")
CORNER_AFTER = re.compile(rf"{_SP}and{_SP}(?:{_CAP}{_SP}){{0,2}}{_CAP}")
_WORDS = re.compile(r"\w+")
_DIGIT = re.compile(r"\d")
_ANCHOR = r"(?:\d[ \t.,]+[^\W\d_]|[^\W\d_][ \t.,]+\d)"
ANCHORS = re.compile(rf"{_ANCHOR}(?:.{{0,200}}?{_ANCHOR})*", re.DOTALL)  # a chain of anchors, each near the last
HOUSE_FIRST = re.compile(rf"{_NUM}{_SP}\S.*\s\d")
_MONTH = (
    r"january|february|march|april|may|june|july|august|september|october|november|december|"
    r"jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec"
)
#: Dates and the like look like "number name number": a street line has none of these words.
NOT_STREET_WORDS = frozenset(
    f"{_MONTH}|monday|tuesday|wednesday|thursday|friday|saturday|sunday|chapter|section|page|article|verse|"
    "version|level|grade|class|season|episode|vol|volume|no|number|top|age|aged|in|during|since|until|by|from|"
    "of|or|and|to|for|with|at|is|are|was|were|than|ad|bc|spring|summer|autumn|fall|winter|census".split("|")
)
#: A highway number, a verse (``John 3 16``, ``1 Kings 3``: a book with a number after it; ``John Street`` is a
#: street), "U.S.", arithmetic (a slash between digits is a house number's: ``104/122``).
NOT_STREET = re.compile(
    r"(?i:\b(?:highway|route|interstate|freeway|corinthians|thessalonians|kings|samuel|chronicles|peter|john|"
    r"timothy)\s+\d)|\bU\.S\.|[×*+=]|(?<!\d)/|/(?!\d)"
)
CUE_WORDS = frozenset(w.rstrip("?") for w in f"{_SUFFIX}|{_PREFIX}".split("|")) | {"point", "estate", "meadow"}
PREFIX_WORDS = frozenset(w for w in _PREFIX.split("|") if w.isalpha())
GLUED = tuple(_GLUED[3:-1].replace("stra(?:ss|ß)e", "strasse|straße").split("|"))
CONTEXT_HINT = re.compile(r"(?i)address|liv|located|move|ship|sen[dt]|deliver|office|restaurant|taxi|arrived|meet")
CONTEXT = re.compile(
    r"(?i:\b(?:address(?:es)?|lives?|lived|living|located|moved|move|ship|sent|send|deliver(?:ed)?|"
    r"office|restaurant|taxi|arrived|meet)\b[^.\n]{0,30}\b(?:at|on|to|in|is|:)\s*(?:[\w'’ -]{0,30},\s*)?"
    r"(?:the corner of\s+)?$)"
)
_FULL_STOP = re.compile(r"(?<!\w)([^\W\d_]{2,})\.(?=[ \t]+[A-Z]|$)")  # "Cáceres." at a sentence's end
#: Words whose dot abbreviates them, so does not end a sentence (``St. Ann St``, ``Mt. Pleasant Road``); a full
#: street word's dot does (``90 Whitchurch Road.``).
ABBREVIATIONS = frozenset(
    "st|ave|av|avda|rd|blvd|bd|ln|dr|ct|pl|sq|ter|pkwy|hwy|cir|trl|cres|gdns|xing|str|u|ul|al|nám|"
    "mt|ft|pt|jr|sr|ste|apt|bldg".split("|")
)
#: Words that start a sentence or a sign-off, not a city line (``…London NW1 6XE\nThanks for the order``).
_STOP_TAIL = re.compile(
    r"^(?:I|We|He|She|It|They|You|The|This|That|Please|Mobile|Phone|Desk|Fax|E-?mail|Website|"
    r"Thanks|Thank|Regards|Best|Cheers|Sincerely|Yours|Kind|Hi|Hello|Dear|See|Call|Let|Hope|Looking)\b"
)


def find_addresses(text: str) -> list[tuple[int, int]]:
    """Character spans of the postal addresses in ``text``.

    >>> t = "Send it to 221 Baker Street, Apt 2, London NW1 6XE. Or to PSC 1234, Box 5678 APO AE 09876."
    >>> [t[s:e] for s, e in find_addresses(t)]
    ['221 Baker Street, Apt 2, London NW1 6XE', 'PSC 1234, Box 5678 APO AE 09876']
    >>> [t for t in ("Windows 11 is out", "See chapter 3 of 10", "In 1999 Acme Corp grew") if find_addresses(t)]
    []
    """
    if not _DIGIT.search(text):
        return []
    if text == text.lower():  # a lower-cased text: treat each word as capitalised
        text = _capitalise(text)
    boxes = [(m.start(), _extend(text, m.end())) for m in MILITARY.finditer(text)] if HAS_BOX.search(text) else []
    spans = list(boxes)
    for start, end in _streets(text):
        if not any(s < end and start < e for s, e in boxes):
            spans.append((_corner_start(text, start), _extend(text, end)))
    return [(s, _without_full_stop(text, s, e)) for s, e in _merge(sorted(spans))]


def _capitalise(text: str) -> str:
    """Upper-case each word's first letter where that keeps the length (so spans stay valid).

    >>> _capitalise("47 rue de la paix, paris")
    '47 Rue De La Paix, Paris'
    """
    chars = list(text)
    for i, c in enumerate(chars):
        if (i == 0 or not chars[i - 1].isalnum()) and len(c.upper()) == 1:
            chars[i] = c.upper()
    return "".join(chars)


def _streets(text: str) -> list[tuple[int, int]]:
    """Street lines with a cue; every start position is tried (a rejected match does not hide a later one)."""
    out: list[tuple[int, int]] = []
    for lo, hi in _regions(text):
        pos = lo
        while m := STREET.search(text, pos, hi):
            pos = _accept(text, m, out)
    ends = [e for _, e in out]  # in text order, not overlapping
    for m in NUMBERED.finditer(text):
        i = bisect.bisect_right(ends, m.start())
        if (i < len(out) and out[i][0] <= m.start()) or _not_street(m.group()):
            continue
        if _in_context(text, m.start()) or _postal(text, m):
            out.append(m.span())
    return out


def _regions(text: str, before: int = 80, after: int = 160) -> list[tuple[int, int]]:
    """Where a street line can be: around numbers that touch a word (``12 Main``, ``Main 12``), chained.

    >>> _regions("x" * 500 + " Main 12 " + "y" * 500)
    [(424, 670)]
    """
    out: list[tuple[int, int]] = []
    for m in ANCHORS.finditer(text):
        lo, hi = max(0, m.start() - before), min(len(text), m.end() + after)
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def _accept(text: str, m: re.Match[str], out: list[tuple[int, int]]) -> int:
    """Keep the street line ``m`` (or the numbered street at its start) if it has a cue; the next position."""
    if _has_cue(text, m):
        out.append(m.span())
        return m.end()
    n = NUMBERED.match(text, m.start())
    if n and (_in_context(text, m.start()) or _postal(text, n)) and not _not_street(n.group()):
        out.append(n.span())
        return n.end()
    return m.start() + 1


def _has_cue(text: str, m: re.Match[str]) -> bool:
    """A street-like match counts when it names a street word, has a house number, a unit, or address context."""
    street = m.group()
    words = set(_WORDS.findall(street.lower()))
    if not NOT_STREET_WORDS.isdisjoint(words) or NOT_STREET.search(street):
        return False
    if not CUE_WORDS.isdisjoint(words) or HOUSE_FIRST.match(street) or any(w.endswith(GLUED) for w in words):
        return True
    return bool(UNIT.match(text, m.end())) or _in_context(text, m.start())


def _in_context(text: str, start: int) -> bool:
    window = text[max(0, start - 60) : start]
    return bool(CONTEXT_HINT.search(window) and CONTEXT.search(window))


def _postal(text: str, m: re.Match[str]) -> bool:
    """A numbered street with a street word before its name, then a postcode and a city: ``2 Rue Saint-Jean,
    69005 Lyon`` (``10 Tips, 2023 Edition`` has no street word)."""
    return bool(POSTAL_CITY.match(text, m.end())) and not PREFIX_WORDS.isdisjoint(_WORDS.findall(m.group().lower()))


def _not_street(street: str) -> bool:
    """A date, a verse, a year after a preposition, a highway: not a street line."""
    return bool(NOT_STREET_WORDS.intersection(_WORDS.findall(street.lower())) or NOT_STREET.search(street))


def _corner_start(text: str, start: int) -> int:
    """Move ``start`` back over ``the corner of`` and ``Name and`` (street corners)."""
    window = text[max(0, start - 60) : start]
    if " and " not in window and "corner" not in window.lower():
        return start
    before = CORNER.search(text, max(0, start - 60), start)
    return before.start() if before and before.group() else start


def _extend(text: str, end: int) -> int:
    """Move ``end`` over an intersecting street, then city, region, country and postcode lines, each
    perhaps after a unit (``Suite 501``)."""
    if m := CORNER_AFTER.match(text, end):
        end = m.end()
    for _ in range(4):
        while m := UNIT.match(text, end):  # also after more of the street's name ("Kishiev Squares\n Suite 3")
            end = m.end()
        m = TAIL.match(text, end)
        if not m or _STOP_TAIL.match(m.group().strip(" \t\n,>")):
            break
        end = m.end()
    if m := LAST.match(text, end):
        end = m.end()
    return end


def _without_full_stop(text: str, start: int, end: int) -> int:
    """``end`` moved before the first full stop that ends a sentence inside the span: a word's dot followed
    by a capital or by the span's end (``Cáceres. It``). An abbreviation keeps its dot (``Baker St.``,
    ``Király u.``, ``Mt. Pleasant``), as do a number (``Rákóczi út 13.``) and an initial.

    >>> t = ("12 Calle Mayor 3, Cáceres.", "221 Baker St.", "Király u. 15.", "3 Rua Nova 3 OULU NO. I", "1 St. Ann St")
    >>> [x[: _without_full_stop(x, 0, len(x))] for x in t]
    ['12 Calle Mayor 3, Cáceres', '221 Baker St.', 'Király u. 15.', '3 Rua Nova 3 OULU NO', '1 St. Ann St']
    """
    for m in _FULL_STOP.finditer(text, start, end):
        if m.group(1).lower() not in ABBREVIATIONS:
            return m.start() + len(m.group(1))
    return end


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in spans:
        if out and s < out[-1][1]:
            out[-1] = (out[-1][0], max(e, out[-1][1]))
        else:
            out.append((s, e))
    return out
