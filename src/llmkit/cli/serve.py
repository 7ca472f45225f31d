"""``llmkit serve``: the OpenAI-compatible HTTP server (FastAPI on uvicorn)."""

from __future__ import annotations

from typing import Annotated

import typer

from llmkit.cli._common import err_console


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Address to bind (default: server.host, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(min=0, max=65535, help="Port (default: server.port, 8000).")] = None,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Serve without API keys (allowed on loopback only).")
    ] = False,
    graceful_s: Annotated[
        float, typer.Option(min=0, help="On SIGTERM/Ctrl-C, seconds to let in-flight requests finish.")
    ] = 30.0,
) -> None:
    """Serve the project over HTTP: /v1/chat/completions, /v1/embeddings, /v1/models, collections, query."""
    from llmkit.cli._common import _merge
    from llmkit.config import load_settings
    from llmkit.server.state import check_auth_mode

    opts = dict(ctx.find_root().obj or {})
    project = opts.pop("project", None)
    server = {k: v for k, v in {"host": host, "port": port, "auth": "none" if no_auth else None}.items() if v}
    settings = load_settings(project, **_merge(opts, {"server": server} if server else {}))
    check_auth_mode(settings)
    run(settings, graceful_s)


def run(settings: object, graceful_s: float = 30.0) -> None:
    """Run uvicorn in the foreground until SIGINT/SIGTERM; in-flight requests get ``graceful_s`` to finish."""
    try:
        import uvicorn

        from llmkit.server.app import create_app
    except ImportError as e:
        from llmkit.errors import MissingExtra

        raise MissingExtra(e.name or "fastapi", "serve") from None
    s = settings.server  # type: ignore[attr-defined]
    app = create_app(settings)  # type: ignore[arg-type]
    err_console().print(f"llmkit serving {settings.project_dir} on http://{s.host}:{s.port}  (auth: {s.auth})")  # type: ignore[attr-defined]
    uvicorn.run(
        app, host=s.host, port=s.port, log_level="warning", access_log=False,
        timeout_graceful_shutdown=graceful_s, proxy_headers=False,
    )  # fmt: skip
