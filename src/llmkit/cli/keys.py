"""``llmkit keys``: create, list and revoke the server's API keys (stored hashed in .llmkit/keys.db)."""

from __future__ import annotations

from typing import Annotated

import typer

from llmkit.cli._common import console, print_json

app = typer.Typer(
    help="Create, list and revoke API keys for `llmkit serve`.", no_args_is_help=True, rich_markup_mode=None
)


def _store(ctx: typer.Context):  # type: ignore[no-untyped-def]
    from llmkit.config import load_settings
    from llmkit.server.keys import KeyStore

    project = (ctx.find_root().obj or {}).get("project")
    return KeyStore(load_settings(project).data_dir / "keys.db")


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Who or what uses the key.")],
    scope: Annotated[
        list[str], typer.Option("--scope", "-s", help="chat, embeddings, query, ingest or admin (repeatable).")
    ],
    collection: Annotated[
        list[str] | None, typer.Option("--collection", "-c", help="Limit to these collections (repeatable).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create a key. Its secret is printed once and never stored: keep it."""
    token, key = _store(ctx).create(name, tuple(scope), tuple(collection or ("*",)))
    if as_json:
        print_json({"secret": token, "key": key})
        return
    console().print(f"secret (shown once): {token}", soft_wrap=True, markup=False)  # first: it is not stored
    scopes, where = ",".join(key.scopes), ",".join(key.collections)
    console().print(f"key {key.id} ({key.name}) scopes={scopes} collections={where}", markup=False)


@app.command("list")
def list_(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Keys with their scopes and collections (never their secrets)."""
    keys = _store(ctx).list()
    if as_json:
        print_json(keys)
        return
    from rich.table import Table
    from rich.text import Text

    table = Table("id", "name", "scopes", "collections", "status")
    for k in keys:  # names are the user's text, never markup
        table.add_row(
            k.id, Text(k.name), ",".join(k.scopes), Text(",".join(k.collections)), "revoked" if k.revoked else "live"
        )
    console().print(table)


@app.command("revoke")
def revoke(ctx: typer.Context, key_id: Annotated[str, typer.Argument(help="Key id (see `llmkit keys list`).")]) -> None:
    """Revoke a key: requests with it get 401 from then on."""
    key = _store(ctx).revoke(key_id)
    console().print(f"revoked {key.id} ({key.name})", markup=False)
