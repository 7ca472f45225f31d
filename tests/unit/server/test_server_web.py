"""The browser page: served with its types and security headers, keyless, and calling only routes that exist."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

WEB = Path(__file__).resolve().parents[3] / "src" / "llmkit" / "server" / "web"
#: ``request("METHOD", "/path")`` or ``request("METHOD", `/path/${x}`)``: how every script calls the API
CALL = re.compile(r"""\brequest\(\s*"(GET|POST|PUT|PATCH|DELETE)",\s*(["`])(/[^"`]*)\2""")


def scripts() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(WEB.glob("*.js"))}


def api_calls() -> set[tuple[str, str]]:
    """(method, path) of every API call in the page's scripts, ``${...}`` as one path segment, no query."""
    found = set()
    for text in scripts().values():
        for method, _, path in CALL.findall(text):
            found.add((method, re.sub(r"\$\{[^}]*\}", "x", path).split("?")[0]))
    return found


def test_page_and_files_have_their_types_and_security_headers(client: Any) -> None:
    from llmkit.server.routes.web import FILES

    for path in ("/", "/ui"):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
        assert "<title>llmkit</title>" in r.text
    for name, kind in FILES.items():
        r = client.get("/" if name == "index.html" else f"/ui/{name}")
        assert r.status_code == 200, name
        assert r.headers["content-type"] == kind
        assert r.content == (WEB / name).read_bytes()
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY" and r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["cache-control"] == "no-cache"
        again = client.get("/" if name == "index.html" else f"/ui/{name}", headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304 and not again.content
        assert again.headers["content-security-policy"] == csp


def test_every_file_of_the_page_is_served_and_nothing_else(client: Any) -> None:
    from llmkit.server.routes.web import FILES

    shipped = {p.name for p in WEB.iterdir() if p.is_file() and p.suffix in (".html", ".css", ".js")}
    assert shipped == set(FILES)
    for path in ("/ui/__init__.py", "/ui/index.html", "/ui/..%2Froutes%2Fweb.py", "/ui/../app.py", "/ui/APP.JS"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert "error" in r.json()
    assert client.post("/").status_code == 405
    head = client.head("/ui/app.js")
    assert head.status_code == 200 and head.headers["x-content-type-options"] == "nosniff"


def test_the_page_holds_no_inline_script_or_style() -> None:
    """The CSP forbids inline code; the page must not need it (and every script is a same-origin module)."""
    html = (WEB / "index.html").read_text(encoding="utf-8")
    tags = re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S)
    assert tags == [""], "one external module script, no inline code"
    assert '<script type="module" src="/ui/app.js">' in html
    assert "<style" not in html and not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html), "no inline event handlers"
    for src in re.findall(r'(?:src|href)="(/[^"]*)"', html):
        assert src.startswith("/ui/"), src


def test_scripts_never_turn_text_into_html_or_leak_the_key() -> None:
    for name, text in scripts().items():
        for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                       "localStorage", 'setAttribute("style"', "srcdoc"):  # fmt: skip
            assert banned not in text, f"{name} uses {banned}"
        if name not in ("api.js", "app.js"):  # the key goes into a header in api.js, and nowhere else
            assert "apiKey" not in text, f"{name} reads the key"
    api = scripts()["api.js"]
    assert "sessionStorage" in api and "Authorization = `Bearer ${key}`" in api


def test_every_api_call_of_the_page_is_a_route_of_the_app(client: Any) -> None:
    """Checked against the OpenAPI spec, which lists every API route (the page's own are left out of it)."""
    spec = client.get("/openapi.json").json()["paths"]
    pattern = {p: re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", p) + "$") for p in spec}
    routes = [(pattern[p], {m.upper() for m in ops}) for p, ops in spec.items()]
    calls = api_calls()
    assert len(calls) >= 10, calls  # the pattern still finds the calls
    for method, path in calls:
        assert any(rx.match(path) and method in methods for rx, methods in routes), f"{method} {path}: no route"
    for needed in [("GET", "/v1/models"), ("POST", "/v1/chat/completions"), ("GET", "/v1/collections"),
                   ("POST", "/v1/collections/x/documents"), ("DELETE", "/v1/collections/x/documents/x"),
                   ("GET", "/v1/traces"), ("GET", "/v1/evals"), ("GET", "/v1/evals/x/report")]:  # fmt: skip
        assert needed in calls, needed


def test_every_module_the_page_imports_is_served() -> None:
    from llmkit.server.routes.web import FILES

    for name, text in scripts().items():
        for target in re.findall(r'from "\./([^"]+)"', text):
            assert target in FILES, f"{name} imports {target}, which is not served"


def test_the_page_needs_no_key_but_the_api_does(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from llmkit.config import load_settings
    from llmkit.server import create_app
    from llmkit.server.keys import KeyStore
    from llmkit.testing import FakeChatModel, HashEmbedder

    settings = load_settings(tmp_path, server={"log_json": False})
    assert settings.server.auth == "keys"
    secret, _ = KeyStore(settings.data_dir / "keys.db").create("app", ("chat",))
    app = create_app(settings, chat_model=FakeChatModel(), embedder=HashEmbedder())
    with TestClient(app, raise_server_exceptions=False) as client:
        for path in ("/", "/ui", "/ui/app.js", "/ui/style.css"):
            assert client.get(path).status_code == 200, path
        missing = client.get("/v1/models")
        assert missing.status_code == 401 and missing.json()["error"]["code"] == "missing_api_key"
        ok = client.get("/v1/models", headers={"Authorization": f"Bearer {secret}"})
        assert ok.status_code == 200 and ok.json()["data"]


def test_the_page_is_not_in_the_openapi_spec(client: Any) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/" not in paths and "/ui" not in paths and "/ui/{name}" not in paths
    assert "/v1/evals" in paths and "/v1/evals/{run}/report" in paths


@pytest.mark.parametrize("name", ["index.html", "app.js", "lib.js", "style.css"])
def test_the_files_are_package_data(name: str) -> None:
    """Read as the installed package reads them (importlib.resources), not from the source tree."""
    from importlib import resources

    assert resources.files("llmkit.server.web").joinpath(name).is_file()
