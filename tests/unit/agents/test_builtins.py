from __future__ import annotations

import csv
import http.server
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmkit.agents.builtins import BUILTINS, build_tools
from llmkit.agents.builtins.calculator import calculator, evaluate
from llmkit.agents.builtins.files import read_file
from llmkit.agents.builtins.http import http_get
from llmkit.agents.builtins.sandbox import network_isolation, python_sandbox
from llmkit.agents.builtins.sql import sql
from llmkit.config import AgentSettings
from llmkit.errors import InputError
from llmkit.types import ToolCall


def run(tool, **args) -> tuple[str, bool]:
    import json

    result = tool.invoke(ToolCall("1", tool.name, json.dumps(args)))
    return result.content, result.is_error


# ----------------------------------------------------------------------------- calculator


@pytest.mark.parametrize(
    ("expression", "expected"),
    [("2 + 3 * 4", "14"), ("48/2 + 48", "72"), ("(1+2)^2", "9"), ("10 / 4", "2.5"), ("1,234 + 1", "1235"),
     ("sqrt(2) ** 2", "2"), ("min(3, 4) + max(1, 2)", "5"), ("$12 * 3", "36"), ("-2 ** 2", "-4")],
)  # fmt: skip
def test_calculator_computes(expression: str, expected: str) -> None:
    assert run(calculator(), expression=expression) == (expected, False)


@pytest.mark.parametrize(
    "hostile",
    ["__import__('os').system('id')", "().__class__.__bases__", "open('/etc/passwd')", "9 ** 9 ** 9",
     "factorial(10**6)", "x + 1", "lambda: 1", "[1] * 10", "'a' * 10", "1 / 0", "", "1" * 600, "2 +"],
)  # fmt: skip
def test_calculator_refuses_everything_but_arithmetic(hostile: str) -> None:
    out, is_error = run(calculator(), expression=hostile)
    assert is_error and out.startswith("error")


def test_calculator_refuses_a_huge_power_before_computing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import ast

    from llmkit.agents.builtins import calculator as module

    powers: list[tuple[object, object]] = []
    monkeypatch.setitem(module._BINARY, ast.Pow, lambda a, b: powers.append((a, b)) or a**b)
    with pytest.raises(InputError, match="too large"):
        evaluate("(factorial(500) ** 3) ** 1000")
    assert [b for _, b in powers] == [3]  # the outer power (seconds of work) never ran
    assert evaluate("2 ** 1000") == 2**1000


@pytest.mark.parametrize("expression", ["(-8) ** 0.5", "(-1) ** (1 / 3)"])
def test_calculator_refuses_complex_results(expression: str) -> None:
    assert run(calculator(), expression=expression) == (
        "error: calculator failed: InputError: the result is not a real number",
        True,
    )


def test_evaluate_never_uses_eval(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    monkeypatch.setattr(builtins, "eval", lambda *a: pytest.fail("eval was called"))
    assert evaluate("6 * 7") == 42


# ----------------------------------------------------------------------------- sql


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE items (name TEXT, price REAL)")
        conn.executemany("INSERT INTO items VALUES (?, ?)", [("widget", 9.5), ("gadget", 12.0)])
    return path


def test_sql_reads_sqlite_and_describes_tables(db: Path) -> None:
    tool = sql([db])
    assert "items(name, price)" in tool.description
    assert run(tool, query="SELECT name FROM items WHERE price > 10") == ("name\ngadget", False)


@pytest.mark.parametrize(
    "write",
    ["DELETE FROM items", "INSERT INTO items VALUES ('x', 1)", "DROP TABLE items", "UPDATE items SET price = 0",
     "CREATE TABLE t (x)", "ATTACH DATABASE 'other.db' AS o", "PRAGMA writable_schema = 1", "CREATE TEMP TABLE t (x)"],
)  # fmt: skip
def test_sql_refuses_writes(db: Path, write: str) -> None:
    out, is_error = run(sql([db]), query=write)
    assert is_error and "refused" in out
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 2


def test_sql_over_csv_files_and_row_cap(tmp_path: Path) -> None:
    path = tmp_path / "sales 2024.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["region", "amount"])
        w.writerows([["north", 10], ["south", 5], ["north", 7]] * 30)
    tool = sql([path], max_rows=5)
    out, _ = run(tool, query="SELECT region, sum(amount) AS total FROM sales_2024 GROUP BY region ORDER BY region")
    assert out == "region,total\nnorth,510\nsouth,150"
    many, _ = run(tool, query="SELECT * FROM sales_2024")
    assert "more rows" in many and len(many.splitlines()) == 7
    assert run(tool, query="DELETE FROM sales_2024")[1]


def test_sql_stops_long_queries(db: Path) -> None:
    tool = sql([db], timeout_s=0.2)
    forever = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    out, is_error = run(tool, query=forever)
    assert is_error and "interrupted" in out


def test_sql_bad_sources(tmp_path: Path, db: Path) -> None:
    with pytest.raises(InputError):
        sql([])
    with pytest.raises(InputError):
        sql([db, db])
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match="empty"):
        sql([tmp_path / "empty.csv"])


# ----------------------------------------------------------------------------- files


def test_read_file_stays_inside_allowed_folders(tmp_path: Path) -> None:
    root = tmp_path / "allowed"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.txt").write_text("hello")
    (tmp_path / "secret.txt").write_text("secret")
    (root / "link").symlink_to(tmp_path / "secret.txt")
    (root / "dirlink").symlink_to(tmp_path)
    tool = read_file([root])
    assert run(tool, path="sub/a.txt") == ("hello", False)
    assert run(tool, path=str(root / "sub" / "a.txt")) == ("hello", False)
    assert "a.txt" in run(tool, path="sub")[0]
    for escape in ("../secret.txt", str(tmp_path / "secret.txt"), "link", "dirlink/secret.txt", "/etc/passwd"):
        out, is_error = run(tool, path=escape)
        assert is_error and "outside the allowed folders" in out, escape
    assert "no file" in run(tool, path="missing.txt")[0]
    (root / "bin").write_bytes(b"\x00\x01\x02")
    assert "binary" in run(tool, path="bin")[0]
    with pytest.raises(InputError):
        read_file([])


# ----------------------------------------------------------------------------- http


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/away":
            self.send_response(302)
            self.send_header("Location", "http://localhost.invalid/steal")
            self.end_headers()
            return
        body = b"x" * 5000 if self.path == "/big" else b"hello from loopback"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_http_get_only_allowed_hosts(server: str) -> None:
    with pytest.raises(InputError, match="off"):
        http_get([])
    tool = http_get(["127.0.0.1"], max_bytes=1000)
    assert run(tool, url=server + "/") == ("HTTP 200\nhello from loopback", False)
    assert "cut at 1000" in run(tool, url=server + "/big")[0]
    out, is_error = run(tool, url=server + "/away")  # a redirect to another host is refused
    assert is_error and "not on an allowed host" in out
    for bad in ("http://localhost/", "file:///etc/passwd", "http://user:pw@127.0.0.1/", "ftp://127.0.0.1/"):
        assert run(tool, url=bad)[1], bad


# ----------------------------------------------------------------------------- sandbox


@pytest.mark.slow
def test_python_sandbox_runs_code_and_holds_its_limits(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    tool = python_sandbox(scratch, cpu_s=2, memory_mb=256, timeout_s=4)
    assert tool.side_effects
    assert run(tool, code="import math\nprint(math.comb(10, 3))") == ("120\n", False)
    assert run(tool, code="open('out.txt', 'w').write('hi')\nprint(open('out.txt').read())")[0] == "hi\n"
    assert (scratch / "out.txt").read_text() == "hi"
    checks = {
        "import socket; socket.create_connection(('127.0.0.1', 9), timeout=1)": "not allowed",
        "import subprocess; subprocess.run(['id'])": "not allowed",
        "import os; os.system('id')": "not allowed",
        f"open({str(tmp_path / 'evil.txt')!r}, 'w').write('x')": "outside the scratch folder",
        "print(open('/etc/hostname').read())": "outside the scratch folder",
        "import ctypes; ctypes.CDLL(None)": "not allowed",
        "x = bytearray(1024 ** 3)": "MemoryError",
        "while True: pass": "killed",
    }
    for code, needle in checks.items():
        out, _ = run(tool, code=code)
        assert needle in out, (code, out)
    assert not (tmp_path / "evil.txt").exists()


@pytest.mark.slow
@pytest.mark.skipif(not network_isolation(), reason="this kernel does not allow network namespaces")
def test_python_sandbox_has_no_network_even_without_the_audit_hook(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 22), 1)\nexcept OSError as e:\n    print(e)"
    command = [*network_isolation(), sys.executable, "-c", code]
    out = subprocess.run(command, capture_output=True, text=True, timeout=20)
    assert "unreachable" in out.stdout or "refused" in out.stdout


def test_build_tools_by_name(tmp_path: Path) -> None:
    settings = AgentSettings(allow_dirs=(str(tmp_path),), allow_hosts=("example.com",))
    tools = build_tools(["calculator", "files", "http", "calculator"], settings)
    assert [t.name for t in tools] == ["calculator", "read_file", "http_get"]
    with pytest.raises(InputError, match="choose from"):
        build_tools(["rm"], settings)
    with pytest.raises(InputError, match="off"):
        build_tools(["http"], AgentSettings())
    assert set(BUILTINS) == {"calculator", "retrieval", "sql", "python", "http", "files"}
