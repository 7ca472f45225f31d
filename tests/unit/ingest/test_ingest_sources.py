"""Sources: files, folders, globs and stdin; filters, limits, unreadable paths and symlinks."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from llmkit.config import IngestSettings
from llmkit.errors import LoaderError
from llmkit.ingest.sources import SourceItem, _matches, expand


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "docs"
    for rel in ["b.md", "a.txt", "sub/c.html", "sub/deep/d.csv", ".hidden.md", ".git/config", "node_modules/x/y.md"]:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"content of {rel}")
    return root


def names(exp) -> list[str]:
    return [i.name for i in exp.items]


def test_folder_is_walked_sorted_with_default_excludes(tree: Path) -> None:
    exp = expand(["docs"], IngestSettings())
    assert names(exp) == ["docs/a.txt", "docs/b.md", "docs/sub/c.html", "docs/sub/deep/d.csv"]
    assert exp.problems == []


def test_include_and_exclude(tree: Path) -> None:
    settings = IngestSettings(include=("**/*.md", "**/*.csv"), exclude=("sub/deep/**",))
    # the exclude list given replaces the defaults, so hidden files and node_modules come back
    assert names(expand(["docs/"], settings)) == ["docs/.hidden.md", "docs/b.md", "docs/node_modules/x/y.md"]


def test_explicit_file_is_taken_even_if_excluded(tree: Path) -> None:
    assert names(expand(["docs/.hidden.md", "./docs/a.txt"], IngestSettings())) == ["docs/.hidden.md", "docs/a.txt"]


def test_glob_patterns(tree: Path) -> None:
    assert names(expand(["docs/**/*.c*"], IngestSettings())) == ["docs/sub/deep/d.csv"]
    exp = expand(["docs/*.nothing"], IngestSettings())
    assert exp.items == [] and exp.problems == [("docs/*.nothing", "no file matches this pattern")]


def test_duplicates_are_taken_once(tree: Path) -> None:
    assert names(expand(["docs/a.txt", "docs", "docs/*.txt"], IngestSettings())) == [
        "docs/a.txt", "docs/b.md", "docs/sub/c.html", "docs/sub/deep/d.csv",
    ]  # fmt: skip


def test_stdin() -> None:
    exp = expand(["-"], IngestSettings(), stdin=io.BytesIO(b"piped text"))
    assert exp.items == [SourceItem("stdin-77f821ae7ce8", b"piped text")] and exp.items[0].read() == b"piped text"


def test_missing_path_is_reported_not_fatal(tree: Path) -> None:
    exp = expand(["nope.md", "docs/a.txt"], IngestSettings())
    assert names(exp) == ["docs/a.txt"] and exp.problems == [("nope.md", "no such file or directory")]


def test_too_big_is_skipped_with_reason(tree: Path) -> None:
    (tree / "big.txt").write_bytes(b"x" * 2_000_000)
    exp = expand(["docs"], IngestSettings(max_file_mb=1))
    assert "docs/big.txt" not in names(exp)
    assert exp.problems == [("docs/big.txt", "skipped: 2.0 MB is over the 1 MB limit (ingest.max_file_mb)")]
    exp = expand(["-"], IngestSettings(max_file_mb=1), stdin=io.BytesIO(b"x" * 2_000_000))
    assert exp.items == [] and exp.problems[0][0].startswith("stdin-")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read a chmod 000 file")
def test_unreadable_file(tree: Path) -> None:
    (tree / "a.txt").chmod(0)
    exp = expand(["docs"], IngestSettings())
    assert ("docs/a.txt", "cannot read: permission denied") in exp.problems


def test_unreadable_at_read_time_is_a_loader_error(tree: Path) -> None:
    item = SourceItem("docs/sub", tree / "sub")  # a directory where a file was expected
    with pytest.raises(LoaderError, match="is a directory"):
        item.read()
    gone = SourceItem("docs/gone.md", tree / "gone.md")
    with pytest.raises(LoaderError, match="cannot read"):
        gone.read()


def test_directory_named_like_a_file_is_walked(tree: Path) -> None:
    (tree / "notes.md").mkdir()
    (tree / "notes.md" / "inner.txt").write_text("hi")
    assert "docs/notes.md/inner.txt" in names(expand(["docs"], IngestSettings()))


def test_symlinks_outside_the_root_are_not_followed(tree: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "passwords.txt").write_text("hunter2")
    (tree / "escape.txt").symlink_to(secret / "passwords.txt")
    (tree / "escape_dir").symlink_to(secret, target_is_directory=True)
    (tree / "inside.txt").symlink_to(tree / "b.md")  # inside the root: fine (but b.md is taken once)
    (tree / "loop").symlink_to(tree, target_is_directory=True)
    exp = expand(["docs"], IngestSettings())
    assert not any("passwords" in n or "escape" in n for n in names(exp))
    reasons = dict(exp.problems)
    assert "outside" in reasons["docs/escape.txt"] and "outside" in reasons["docs/escape_dir"]
    assert names(exp).count("docs/b.md") + names(exp).count("docs/inside.txt") == 1
    assert not any(n.startswith("docs/loop/") for n in names(exp))


def test_glob_does_not_escape_through_symlinks(tree: Path, tmp_path: Path) -> None:
    (tmp_path / "outside.md").write_text("x")
    (tree / "link.md").symlink_to(tmp_path / "outside.md")
    exp = expand(["docs/*.md"], IngestSettings())
    assert "docs/link.md" not in names(exp) and "docs/link.md" in dict(exp.problems)


@pytest.mark.parametrize(
    ("path", "pattern", "expected"),
    [
        ("a.md", "**/*.md", True),
        ("x/y/a.md", "**/*.md", True),
        ("x/a.md", "*.md", False),
        ("a.md", "*.md", True),
        ("node_modules/p/i.js", "**/node_modules/**", True),
        ("src/node_modules/p/i.js", "**/node_modules/**", True),
        ("a.txt", "[!a]*", False),
        ("b.txt", "[!a]*", True),
        ("a?b", "a?b", True),
        ("a/b", "a?b", False),
    ],
)
def test_glob_matcher(path: str, pattern: str, expected: bool) -> None:
    assert _matches(path, [pattern]) is expected
