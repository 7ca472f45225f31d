"""The registry: project files over built-ins, saved versions, labels, diffs."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmkit.errors import InputError, NotFound
from llmkit.prompts import PromptRegistry


def write(folder: Path, name: str, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.md").write_text(f"---\nname: {name}\n---\n{body}\n", encoding="utf-8")


@pytest.fixture
def reg(tmp_path: Path) -> PromptRegistry:
    return PromptRegistry([tmp_path / "prompts"], tmp_path / ".llmkit" / "prompts")


def test_project_file_overrides_builtin(reg: PromptRegistry, tmp_path: Path) -> None:
    assert "rag-answer" in reg.names()
    builtin_version = reg.get("rag-answer").version
    write(tmp_path / "prompts", "rag-answer", "{{ context }} {{ question }}")
    assert reg.get("rag-answer").version != builtin_version


def test_versions_labels_and_diff(reg: PromptRegistry, tmp_path: Path) -> None:
    folder = tmp_path / "prompts"
    write(folder, "p", "one {{ x }}")
    v1 = reg.label("p", "prod").version
    write(folder, "p", "two {{ x }}")
    v2 = reg.current("p").version
    assert v1 != v2
    assert reg.get("p").version == v1  # a bare name follows the prod label
    assert reg.get("p@prod").version == v1 and reg.get(f"p@{v2[:6]}").version == v2
    assert reg.get(f"p@{v1}").render(x="y")[-1].content == "one y"  # old version still resolves
    assert reg.versions("p") == [v1, v2]
    diff = reg.diff(f"p@{v1}", f"p@{v2}")
    assert "-one {{ x }}" in diff and "+two {{ x }}" in diff
    reg.label(f"p@{v2}", "prod")
    assert reg.get("p").version == v2
    assert next(i for i in reg.list() if i.name == "p").labels == {"prod": v2}


def test_errors(reg: PromptRegistry, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no prompt 'nope'"):
        reg.get("nope")
    write(tmp_path / "prompts", "p", "hi")
    with pytest.raises(NotFound, match="no label 'staging'"):
        reg.get("p@staging")
    with pytest.raises(NotFound, match="no version"):
        reg.get("p@abcdef")
    with pytest.raises(InputError, match="label"):
        reg.label("p", "Bad Label")
    with pytest.raises(InputError, match="no name"):
        reg.get("@prod")
    (tmp_path / ".llmkit" / "prompts").mkdir(parents=True)
    (tmp_path / ".llmkit" / "prompts" / "labels.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(InputError, match="unreadable labels"):
        reg.get("p@prod")


def test_builtin_only_registry_cannot_save() -> None:
    reg = PromptRegistry()
    with pytest.raises(InputError, match="no project folder"):
        reg.label("rag-answer", "prod")
