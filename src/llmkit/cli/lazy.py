"""A root command group that builds its command groups only when one is used.

Typer turns every command's signature into Click parameters before it can print even the root
``--help``; with a dozen groups that took ~100 ms of a ~330 ms ``llmkit --help``. ``LazyGroup`` lists
the groups from their Typer apps' own help text and converts a group only when it is run or asked
for its own help.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command

#: Command groups built on first use: name -> module whose ``app`` is the group's Typer app.
GROUPS = {
    "mcp": "llmkit.cli.mcp",
    "collections": "llmkit.cli.collections",
    "models": "llmkit.cli.models",
    "traces": "llmkit.cli.traces",
    "guard": "llmkit.cli.guard",
    "keys": "llmkit.cli.keys",
    "store": "llmkit.cli.store",
    "eval": "llmkit.cli.evals",
    "prompts": "llmkit.cli.prompts",
    "finetune": "llmkit.cli.finetune",
}


def group_app(name: str) -> typer.Typer:
    """The Typer app of the group ``name``, named for its place under ``llmkit``."""
    app: typer.Typer = importlib.import_module(GROUPS[name]).app
    app.info.name = name
    return app


class LazyGroup(TyperGroup):
    """The root group: its own commands as usual, then ``GROUPS``, each converted on first use."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(g for g in GROUPS if g not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in GROUPS and cmd_name not in self.commands:
            self.commands[cmd_name] = get_command(group_app(cmd_name))
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        names = [n for n in self.list_commands(ctx) if n in GROUPS or not self.commands[n].hidden]
        limit = formatter.width - 6 - max(map(len, names))
        rows = [(n, self._short_help(n, limit)) for n in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def _short_help(self, name: str, limit: int) -> str:
        command = self.commands.get(name) or TyperCommand(name, help=group_app(name).info.help)
        return command.get_short_help_str(limit)
