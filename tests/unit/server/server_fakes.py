"""Helpers for the server's unit tests (a module, not conftest, so its name is unique on sys.path)."""

from __future__ import annotations

from typing import Any

FAQ = (
    "# Warranty\n\nThe Acme Widget has a three year warranty from the date of purchase.\n\n"
    "# Shipping\n\nShipping takes five days.\n"
)


def upload(client: Any, collection: str = "docs", name: str = "faq.md", text: str = FAQ) -> Any:
    return client.post(
        f"/v1/collections/{collection}/documents", files={"files": (name, text.encode(), "text/markdown")}
    )
