"""``llmkit init``: write llmkit.toml and the .llmkit/ data folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from llmkit.cli._common import console


def init(
    folder: Annotated[Path, typer.Argument(help="Project folder to set up.")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing llmkit.toml.")] = False,
) -> None:
    """Create llmkit.toml (commented defaults) and .llmkit/ in FOLDER."""
    from llmkit.config import CONFIG_FILE, DATA_DIR, default_config_text
    from llmkit.errors import InputError, StoreError

    config = folder / CONFIG_FILE
    if config.exists() and not force:
        raise InputError(f"{config} already exists", hint="use --force to overwrite it")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        config.write_text(default_config_text(), encoding="utf-8")
        (folder / DATA_DIR).mkdir(exist_ok=True)
        (folder / DATA_DIR / ".gitignore").write_text("*\n", encoding="utf-8")
    except OSError as e:  # a file where the folder should be, no permission, a read-only disk
        raise StoreError(f"cannot write the project at {folder}: {e.strerror}") from None
    console().print(f"wrote {config}; data goes in {folder / DATA_DIR}/")
    console().print("next: llmkit models pull smollm2-135m-instruct && llmkit ingest docs/ && llmkit ask '...'")
