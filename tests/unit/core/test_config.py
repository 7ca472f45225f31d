from __future__ import annotations

from pathlib import Path

import pytest

from llmkit.config import EmbedderSettings, default_config_text, find_config, load_settings
from llmkit.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_config(tmp_path: Path) -> None:
    s = load_settings(tmp_path)
    assert s.project_dir == tmp_path.resolve()
    assert s.retrieval.mode == "hybrid" and s.retrieval.k == 5
    assert s.data_dir == tmp_path.resolve() / ".llmkit"


def test_precedence_file_then_env_then_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "llmkit.toml", 'collection = "docs"\n[retrieval]\nk = 3\nmode = "dense"\n')
    assert load_settings(tmp_path).retrieval.k == 3
    monkeypatch.setenv("LLMKIT_RETRIEVAL__K", "7")
    s = load_settings(tmp_path)
    assert (s.retrieval.k, s.retrieval.mode, s.collection) == (7, "dense", "docs")  # env wins per key only
    s = load_settings(tmp_path, retrieval={"k": 9})
    assert (s.retrieval.k, s.retrieval.mode) == (9, "dense")


def test_nearest_config_is_found_from_a_subfolder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "llmkit.toml", 'collection = "up"\n')
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    assert find_config(sub) == tmp_path / "llmkit.toml"
    monkeypatch.chdir(sub)
    s = load_settings()
    assert s.collection == "up" and s.project_dir == tmp_path.resolve()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[retrieval]\nk = 0\n", "retrieval.k"),
        ("[retrieval]\nkk = 3\n", "retrieval.kk: unknown key"),
        ('[retrieval]\nmode = "fuzzy"\n', "retrieval.mode"),
        ("[ingest]\nchunk_tokens = 64\nchunk_overlap = 64\n", "chunk_overlap"),
        ('collection = "../etc"\n', "collection"),
        ("this is = not toml [", "not valid TOML"),
        ('[guards]\npii_entities = ["EMAIL", "CREDITCARD"]\n', "unknown PII types ['EMAIL', 'CREDITCARD']; valid: "),
        ('project_dir = "/etc"\n', "project_dir: unknown key"),  # .llmkit/ is where llmkit.toml is
        ("[retrieval]\nlexical_weight = inf\n", "finite number"),  # and JSON has no Infinity
    ],
)
def test_bad_settings_give_clear_errors(tmp_path: Path, text: str, needle: str) -> None:
    write(tmp_path / "llmkit.toml", text)
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path)
    assert needle in str(err.value)


def test_bad_env_var_names_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMKIT_MODEL__TEMPERATURE", "hot")
    with pytest.raises(ConfigError, match=r"model\.temperature"):
        load_settings(tmp_path)


def test_llmkit_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMKIT_HOME", str(tmp_path / "home"))
    s = load_settings(tmp_path)
    assert s.models_dir == tmp_path / "home" / "models"


def test_pii_entities_accept_every_supported_type(tmp_path: Path) -> None:
    from llmkit.guards.pii import SUPPORTED

    write(tmp_path / "llmkit.toml", f"[guards]\nner = true\npii_entities = {[*SUPPORTED, 'PERSON', 'LOCATION']}\n")
    assert load_settings(tmp_path).guards.pii_entities == (*SUPPORTED, "PERSON", "LOCATION")
    write(tmp_path / "llmkit.toml", '[guards]\npii_entities = ["CREDITCARD"]\n')
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path)
    assert err.value.exit_code == 78 and "CREDIT_CARD" in str(err.value)


def test_init_text_loads_as_the_defaults(tmp_path: Path) -> None:
    write(tmp_path / "llmkit.toml", default_config_text())
    assert load_settings(tmp_path).embedder.name == EmbedderSettings().name == "all-minilm-l6-v2-q8"


def test_the_project_folder_and_its_files_are_read_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "llmkit.toml").write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(tmp_path)
    write(tmp_path / "llmkit.toml", 'home = "models-home"\n')
    monkeypatch.setenv("LLMKIT_PROJECT_DIR", "/elsewhere")
    monkeypatch.chdir(tmp_path.parent)
    s = load_settings(tmp_path)
    assert s.project_dir == tmp_path.resolve()  # the folder given wins over LLMKIT_PROJECT_DIR
    assert s.home == tmp_path / "models-home"  # relative to the project, not to the current folder
    monkeypatch.setenv("LLMKIT_MODEL", "notjson")
    with pytest.raises(ConfigError, match="LLMKIT_<SECTION> takes JSON"):
        load_settings(tmp_path)


def test_a_missing_project_folder_is_not_found(tmp_path: Path) -> None:
    from llmkit.errors import NotFound

    with pytest.raises(NotFound, match="no project"):
        load_settings(tmp_path / "missing")
