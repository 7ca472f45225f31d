"""Built-in tools: calculator, retrieval, read-only SQL, Python sandbox, allow-listed HTTP GET, file reading."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from llmkit.agents.tools import Tool
from llmkit.errors import InputError

if TYPE_CHECKING:
    from llmkit.config import AgentSettings
    from llmkit.kit import Kit

#: Names accepted by ``build_tools`` (and ``llmkit agent --tools``).
BUILTINS = ("calculator", "retrieval", "sql", "python", "http", "files")


def build_tools(
    names: Sequence[str],
    settings: AgentSettings,
    kit: Kit | None = None,
    *,
    may_search: Callable[[str], bool] | None = None,
) -> list[Tool]:
    """The built-in tools named in ``names``, configured from ``settings`` (the ``[agent]`` section).

    ``may_search(collection)``, when given, is asked by the retrieval tool before each search.
    """
    tools = []
    for name in dict.fromkeys(n.strip() for n in names if n.strip()):
        if name not in BUILTINS:
            raise InputError(f"no built-in tool {name!r}", hint=f"choose from {', '.join(BUILTINS)}")
        tools.append(_build(name, settings, kit, may_search))
    return tools


def _build(name: str, s: AgentSettings, kit: Kit | None, may_search: Callable[[str], bool] | None = None) -> Tool:
    if name == "calculator":
        from llmkit.agents.builtins.calculator import calculator

        return calculator()
    if name == "retrieval":
        from llmkit.agents.builtins.retrieval import retrieval

        if kit is None:
            raise InputError("the retrieval tool needs a project (Kit)")
        return retrieval(kit, allowed=may_search)
    if name == "sql":
        from llmkit.agents.builtins.sql import sql

        return sql([kit.settings.resolve(p) if kit else p for p in s.sql])
    if name == "python":
        from llmkit.agents.builtins.sandbox import python_sandbox

        scratch = kit.settings.data_dir / "sandbox" if kit else None
        return python_sandbox(
            scratch, cpu_s=s.sandbox_cpu_s, memory_mb=s.sandbox_memory_mb, timeout_s=s.sandbox_timeout_s
        )
    if name == "http":
        from llmkit.agents.builtins.http import http_get

        return http_get(s.allow_hosts)
    from llmkit.agents.builtins.files import read_file

    return read_file([kit.settings.resolve(p) if kit else p for p in s.allow_dirs])
