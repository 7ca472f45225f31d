"""``sql``: read-only SQL over a SQLite file or CSV files.

SQLite files open with a ``mode=ro`` URI *and* an authorizer that allows only reading (so ``ATTACH``,
``PRAGMA`` writes, temp tables and every write are refused even if the file were writable); CSV files
load into an in-memory database (one table per file) guarded by the same authorizer. A progress
handler stops queries that run too long, and results are cut at ``max_rows``.
"""

from __future__ import annotations

import csv
import re
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

from llmkit.agents.tools import Tool
from llmkit.errors import InputError, NotFound

_READ_ONLY = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
MAX_CSV_ROWS = 200_000


def _authorizer(action: int, *_: object) -> int:
    return sqlite3.SQLITE_OK if action in _READ_ONLY else sqlite3.SQLITE_DENY


def table_name(path: Path) -> str:
    """A CSV file's table name: its stem with non-word characters as ``_``.

    >>> table_name(Path("data/sales 2024.csv"))
    'sales_2024'
    """
    name = re.sub(r"\W+", "_", path.stem).strip("_") or "data"
    return name if not name[0].isdigit() else f"t_{name}"


def connect(sources: Sequence[str | Path]) -> sqlite3.Connection:
    """A read-only connection: one ``.db``/``.sqlite`` file, or any number of ``.csv`` files."""
    paths = [Path(s).expanduser().resolve() for s in sources]
    if not paths:
        raise InputError("the sql tool needs a SQLite file or CSV files", hint="--sql data.db or --sql a.csv")
    for p in paths:
        if not p.is_file():
            raise NotFound(f"no file {str(p)!r} for the sql tool")
    csvs = [p for p in paths if p.suffix.lower() in (".csv", ".tsv")]
    if (csvs and len(csvs) != len(paths)) or (not csvs and len(paths) != 1):
        raise InputError("give one SQLite file, or only CSV files")
    if csvs:
        conn = sqlite3.connect(":memory:", check_same_thread=False)
        for p in csvs:
            _load_csv(conn, p)
    else:
        conn = sqlite3.connect(f"{paths[0].as_uri()}?mode=ro", uri=True, check_same_thread=False)
    conn.set_authorizer(_authorizer)
    return conn


def _load_csv(conn: sqlite3.Connection, path: Path) -> None:
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as f:
        dialect = csv.excel_tab if path.suffix.lower() == ".tsv" else csv.excel
        rows = csv.reader(f, dialect)
        header = next(rows, None)
        if not header:
            raise InputError(f"{path.name}: the CSV file is empty")
        columns = [re.sub(r"\W+", "_", h).strip("_") or f"c{i}" for i, h in enumerate(header)]
        cols = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" * len(columns))
        conn.execute(f'CREATE TABLE "{table_name(path)}" ({cols})')
        batch = [_typed(r, len(columns)) for _, r in zip(range(MAX_CSV_ROWS), rows, strict=False)]
        conn.executemany(f'INSERT INTO "{table_name(path)}" VALUES ({marks})', batch)


def _typed(row: list[str], width: int) -> list[object]:
    out: list[object] = []
    for v in (row + [""] * width)[:width]:
        try:
            out.append(int(v))
        except ValueError:
            try:
                out.append(float(v))
            except ValueError:
                out.append(v)
    return out


def schema_text(conn: sqlite3.Connection) -> str:
    """``table(col, col)`` lines: what the tool's description shows the model."""
    conn.set_authorizer(None)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")]
        lines = []
        for t in tables:
            columns = [c[1] for c in conn.execute("SELECT * FROM pragma_table_info(?)", (t,))]
            lines.append(f"{t}({', '.join(columns)})")
    finally:
        conn.set_authorizer(_authorizer)
    return "; ".join(lines)


def sql(sources: Sequence[str | Path], *, max_rows: int = 50, timeout_s: float = 5.0) -> Tool:
    """The ``sql`` tool over ``sources``."""
    conn = connect(sources)

    def sql(query: str) -> str:
        """Run one read-only SQL SELECT query and get the rows back as CSV."""
        if not query.strip():
            raise InputError("the query is empty")
        deadline = time.monotonic() + timeout_s
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            cursor = conn.execute(query)
            rows = cursor.fetchmany(max_rows + 1)
        except sqlite3.DatabaseError as e:
            raise InputError(f"query refused or failed: {e} (only read-only SELECT queries are allowed)") from None
        finally:
            conn.set_progress_handler(None, 0)
        return _as_csv([d[0] for d in cursor.description or ()], rows, max_rows)

    return Tool.from_function(sql, description=f"Run a read-only SQL query. Tables: {schema_text(conn)}")


def _as_csv(header: list[str], rows: list[tuple[object, ...]], max_rows: int) -> str:
    lines = [",".join(header)] + [",".join("" if v is None else str(v) for v in r) for r in rows[:max_rows]]
    if len(rows) > max_rows:
        lines.append(f"... more rows (showing the first {max_rows}); add LIMIT or aggregate")
    return "\n".join(lines) if header else "(no rows)"
