"""Typed settings: ``llmkit.toml`` < ``LLMKIT_*`` environment variables < CLI flags / keyword overrides.

One pydantic model per area; file keys equal field names::

    # llmkit.toml
    collection = "docs"
    [model]
    name = "smollm2-135m-instruct"     # a catalog name, a .gguf path, or a remote model id
    [retrieval]
    k = 5

The same keys as environment variables: ``LLMKIT_COLLECTION=docs``, ``LLMKIT_MODEL__NAME=...``,
``LLMKIT_RETRIEVAL__K=8`` (nested with ``__``). ``LLMKIT_HOME`` moves the per-user folder where the
model catalog keeps its files (default ``~/.local/share/llmkit``).
"""

from __future__ import annotations

import json
import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from llmkit.errors import ConfigError, NotFound

CONFIG_FILE = "llmkit.toml"
DATA_DIR = ".llmkit"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # inf is no setting, nor JSON


class ModelSettings(_Section):
    name: str = Field("smollm2-135m-instruct", description="catalog name, path to a .gguf file, or remote model id")
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint; set it to use a remote model")
    api_key: SecretStr | None = Field(None, description="key for base_url (else $OPENAI_API_KEY)")
    context_window: int | None = Field(None, ge=256, description="override the model's context window")
    threads: int | None = Field(None, ge=1, description="llama.cpp threads (default: all cores)")
    parallel: int = Field(
        1, ge=1, le=256, description="llama.cpp requests decoded together in shared batches (>1: the batched engine)"
    )
    timeout_s: float = Field(120.0, gt=0, description="remote request timeout")
    lora: str | None = Field(
        None, description="LoRA adapter applied at run time (llama.cpp): catalog name or path to a GGUF adapter"
    )
    lora_scale: float = Field(1.0, ge=-4, le=4, description="strength of the LoRA adapter (1: as trained)")
    max_tokens: int = Field(512, ge=1)
    temperature: float = Field(0.2, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    seed: int | None = None


class EmbedderSettings(_Section):
    name: str = Field(
        "all-minilm-l6-v2-q8",
        description="catalog name or remote embedding model id (default: MiniLM with int8 MatMuls, derived at pull)",
    )
    base_url: str | None = None
    api_key: SecretStr | None = None
    batch_size: int = Field(32, ge=1, le=4096)
    threads: int | None = Field(None, ge=1, description="onnxruntime intra-op threads (default: all cores)")
    timeout_s: float = Field(60.0, gt=0)


class StoreSettings(_Section):
    url: str = Field(
        f"{DATA_DIR}/store.db", description="SQLite path (relative to the project), sqlite:///path or postgresql://…"
    )
    hnsw_threshold: int = Field(20_000, ge=0, description="chunks above which dense search uses the HNSW index")


class PostgresSettings(_Section):
    """Used when ``store.url`` is a ``postgresql://`` URL (extra ``postgres``)."""

    pool_size: int = Field(8, ge=1, le=1000, description="most connections the store's pool opens")
    timeout_s: float = Field(10.0, gt=0, description="seconds to wait for a connection before failing")
    hnsw_m: int = Field(16, ge=2, le=100, description="HNSW links per node, for new collections' indexes")
    hnsw_ef_construction: int = Field(128, ge=4, le=1000, description="HNSW build-time candidate list")
    ef_search: int = Field(100, ge=1, le=1000, description="HNSW query-time candidate list (at least k is used)")
    migrate: bool = Field(True, description="bring the schema up to date on first use (else: llmkit store migrate)")


class IngestSettings(_Section):
    chunk_tokens: int = Field(200, ge=16, description="target chunk size in the embedder's tokens")
    chunk_overlap: int = Field(32, ge=0, description="tokens shared by consecutive chunks")
    include: tuple[str, ...] = ("**/*",)
    exclude: tuple[str, ...] = (".git/**", ".llmkit/**", "**/.*", "**/__pycache__/**", "**/node_modules/**")
    max_file_mb: float = Field(50.0, gt=0)
    batch_size: int = Field(64, ge=1, description="chunks embedded and written per transaction")

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap(cls, v: int, info: Any) -> int:
        size = info.data.get("chunk_tokens", 200)
        if v >= size:
            raise ValueError(f"must be smaller than chunk_tokens ({size})")
        return v


class RetrievalSettings(_Section):
    mode: Literal["hybrid", "dense", "lexical"] = "hybrid"
    k: int = Field(5, ge=1, le=1000)
    candidates: int = Field(50, ge=1, le=10_000, description="hits taken from each side before fusion")
    # 10, not the paper's 60: on SciFact's train queries hybrid nDCG@10 was 0.7218 at 10 and 0.7115 at 60
    # (3: 0.7256, 20: 0.7148; bench/README.md), so the top ranks of each side deserve more weight.
    rrf_k: int = Field(10, ge=1, description="reciprocal rank fusion constant")
    lexical_weight: float = Field(1.0, ge=0)
    dense_weight: float = Field(1.0, ge=0)
    mmr: bool = False
    mmr_lambda: float = Field(0.7, ge=0, le=1, description="1 = relevance only, 0 = diversity only")
    rewrite: Literal["none", "condense", "multi"] = Field(
        "none",
        description="query rewriting by the chat model: condense a chat follow-up with its history into a standalone"
        " question; multi: condense, then also search rewrite_queries rephrasings and fuse the results (RRF)",
    )
    rewrite_queries: int = Field(3, ge=1, le=10, description="rephrasings asked for with rewrite = multi")
    rerank: str = Field(
        "none",
        description='stage after fusion: "none", "embedding" (best sentence-window cosine), "llm" (the chat model'
        " grades each candidate), or a cross-encoder: an .onnx file or folder, or a sentence-transformers name",
    )
    rerank_top: int = Field(20, ge=1, le=1000, description="fused candidates the reranker re-scores")


class RagSettings(_Section):
    context_tokens: int | None = Field(None, ge=64, description="budget for context passages (default: what fits)")
    min_relevance: float = Field(
        0.25, ge=-1, le=1, description="best dense cosine below which, with no lexical match, nothing was found"
    )


class AgentSettings(_Section):
    tools: tuple[str, ...] = Field(
        ("calculator",), description="built-in tools: calculator retrieval sql python http files"
    )
    max_steps: int = Field(8, ge=1, description="model calls per run")
    max_tokens: int | None = Field(None, ge=1, description="prompt + completion tokens per run")
    max_seconds: float | None = Field(120.0, gt=0, description="wall time per run")
    max_cost: float | None = Field(None, gt=0, description="USD per run, priced with [prices]")
    allow: tuple[str, ...] = Field((), description="tools with side effects allowed without asking")
    allow_hosts: tuple[str, ...] = Field((), description="hosts http_get may fetch from (none: the tool is off)")
    allow_dirs: tuple[str, ...] = Field((), description="folders read_file may read")
    sql: tuple[str, ...] = Field((), description="a SQLite file or CSV files for the sql tool")
    sandbox_cpu_s: int = Field(5, ge=1, le=600)
    sandbox_memory_mb: int = Field(512, ge=64)
    sandbox_timeout_s: float = Field(10.0, gt=0, le=600)
    mcp: tuple[str, ...] = Field((), description="MCP servers: a command line (stdio) or an http(s) URL")


class PromptSettings(_Section):
    dir: str = Field("prompts", description="folder of the project's prompt files (NAME.md), relative to the project")
    rag: str = Field("rag-answer", description="the RAG answer prompt: NAME, NAME@LABEL or NAME@VERSION")


InputGuard = Literal["pii", "injection", "denylist", "topic", "length", "language"]
OutputGuard = Literal["pii", "injection", "denylist", "topic", "length", "language", "leakage", "grounded"]


class GuardSettings(_Section):
    """Guards per stage, run in the order listed (see docs/guardrails.md). Empty lists: no guards."""

    input: tuple[InputGuard, ...] = Field((), description="guards on the user's message")
    passages: tuple[InputGuard, ...] = Field((), description="guards on retrieved passages and tool output")
    output: tuple[OutputGuard, ...] = Field((), description="guards on the model's answer")
    blocked_message: str = Field("I can't help with that request.", description="answer given when a guard blocks")
    pii_entities: tuple[str, ...] | None = Field(
        None,
        description="PII types to find (default: every pattern type, and PERSON and LOCATION with ner = true)",
    )
    pii_mode: Literal["mask", "hash", "placeholder"] = "placeholder"
    pii_action: Literal["flag", "redact", "block"] = "redact"
    pii_salt: str = Field("", description="salt for pii_mode = hash")
    ner: bool = Field(False, description="add Presidio/spaCy NER for names and places (pip install 'llmkit[ner]')")
    injection_threshold: float = Field(0.5, gt=0, le=1, description="classifier probability that counts as injection")
    injection_passage_threshold: float = Field(
        0.9, gt=0, le=1, description="the same for retrieved passages and tool output (prose, not requests)"
    )
    injection_heuristics: bool = Field(True, description="also fire on the hand-written injection patterns")
    injection_model: str | None = Field(
        None, description="a model from `llmkit guard train-injection` (default: shipped)"
    )
    injection_action: Literal["flag", "block"] = "block"
    deny_keywords: tuple[str, ...] = ()
    deny_patterns: tuple[str, ...] = Field((), description="regular expressions (case-insensitive)")
    deny_topics: tuple[str, ...] = Field((), description="topic descriptions compared by embedding")
    topic_threshold: float = Field(0.5, ge=-1, le=1)
    content_action: Literal["flag", "block"] = Field("block", description="for denylist, topic and length")
    max_input_chars: int = Field(8000, ge=1)
    max_output_chars: int = Field(20000, ge=1)
    languages: tuple[str, ...] = Field(("en",), description="allowed languages (ISO 639-1) for the language guard")
    language_action: Literal["flag", "block"] = "flag"
    leakage_min_words: int = Field(8, ge=3, description="consecutive system-prompt words that count as a leak")
    grounded_threshold: float = Field(0.6, ge=-1, le=1, description="cosine below which a sentence is unsupported")
    grounded_action: Literal["flag", "block"] = "flag"
    grounded_judge: bool = Field(
        False, description="ask the project's chat model about each sentence the word checks do not settle"
    )

    @field_validator("pii_entities")
    @classmethod
    def _known_pii_types(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if v is None:
            return v
        from llmkit.guards.pii import SUPPORTED  # here, not at the top: ``import llmkit`` stays light

        valid = (*SUPPORTED, "PERSON", "LOCATION")
        unknown = [t for t in v if t not in valid]
        if unknown:
            raise ValueError(f"unknown PII types {unknown}; valid: {', '.join(valid)}")
        return v

    @model_validator(mode="after")
    def _ner_types(self) -> GuardSettings:
        needs = [t for t in self.pii_entities or () if t in ("PERSON", "LOCATION")]
        if needs and not self.ner:
            raise ValueError(f"pii_entities {needs} are found by NER: set ner = true (pip install 'llmkit[ner]')")
        return self


class PriceSettings(_Section):
    """US dollars per million tokens, for one model (``[prices."model-id"]``)."""

    input: float = Field(0.0, ge=0, description="USD per 1M prompt tokens")
    output: float = Field(0.0, ge=0, description="USD per 1M completion tokens")


class ServerSettings(_Section):
    host: str = Field("127.0.0.1", description="address to bind; anything but loopback needs API keys")
    port: int = Field(8000, ge=0, le=65535)
    auth: Literal["keys", "none"] = Field("keys", description='"none" serves without keys, on loopback only')
    max_body_mb: float = Field(25.0, gt=0, description="largest request body (uploads included)")
    max_request_tokens: int = Field(8192, ge=16, description="prompt plus max_tokens allowed in one request")
    requests_per_minute: int = Field(600, ge=1, description="per key")
    tokens_per_minute: int = Field(200_000, ge=1, description="per key, prompt plus completion")
    concurrency: int | None = Field(
        None, ge=1, le=1024, description="requests a model runs at once (default: model.parallel, 1 for llama.cpp)"
    )
    queue_size: int = Field(64, ge=0, description="requests that may wait for a model; more get 429")
    queue_timeout_s: float = Field(60.0, gt=0, description="longest wait for a model before 503")
    cache: bool = Field(True, description="exact response cache for deterministic requests")
    cache_entries: int = Field(1024, ge=1)
    semantic_cache_threshold: float | None = Field(
        None, gt=0, le=1, description="cosine above which a cached answer to a similar question is reused"
    )
    otlp_endpoint: str | None = Field(None, description="OTLP/HTTP traces endpoint; spans are exported only if set")
    log_json: bool = Field(True, description="one JSON line per request on stderr")


class Settings(BaseSettings):
    """Everything llmkit reads from the environment. Construct with ``load_settings``."""

    model_config = SettingsConfigDict(
        env_prefix="LLMKIT_", env_nested_delimiter="__", extra="forbid", frozen=True, validate_default=True
    )

    project_dir: Path = Field(Path("."), description="folder holding llmkit.toml and .llmkit/")
    home: Path = Field(default_factory=lambda: _default_home(), description="per-user folder (models)")
    collection: str = Field("default", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    traces: bool = Field(True, description="record every model call in .llmkit/traces.db")
    model: ModelSettings = ModelSettings()
    embedder: EmbedderSettings = EmbedderSettings()
    store: Annotated[StoreSettings, NoDecode] = StoreSettings()  # NoDecode: LLMKIT_STORE may be a bare URL
    postgres: PostgresSettings = PostgresSettings()
    ingest: IngestSettings = IngestSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    rag: RagSettings = RagSettings()
    agent: AgentSettings = AgentSettings()
    prompts: PromptSettings = PromptSettings()
    guards: GuardSettings = GuardSettings()
    server: ServerSettings = ServerSettings()
    prices: dict[str, PriceSettings] = Field(default_factory=dict, description="per model id; extends built-ins")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = InitSettingsSource(settings_cls, init_kwargs=_TOML.get() or {})
        return (init_settings, env_settings, toml)

    @field_validator("store", mode="before")
    @classmethod
    def _store_url(cls, v: Any) -> Any:
        """``store = "postgresql://..."`` (or ``LLMKIT_STORE``) is short for ``[store] url = ...``."""
        if isinstance(v, str):
            return json.loads(v) if v.lstrip().startswith("{") else {"url": v}
        return v

    # ------------------------------------------------------------------ derived paths

    @property
    def data_dir(self) -> Path:
        return self.project_dir / DATA_DIR

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def traces_path(self) -> Path:
        return self.data_dir / "traces.db"

    def resolve(self, path: str | Path) -> Path:
        """A path from the config, relative to the project folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.project_dir / p


_TOML: ContextVar[dict[str, Any] | None] = ContextVar("llmkit_toml", default=None)


def _default_home() -> Path:
    env = os.environ.get("LLMKIT_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "llmkit"


def find_config(start: str | Path = ".") -> Path | None:
    """The nearest ``llmkit.toml`` at or above ``start``."""
    here = Path(start).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            return candidate
    return None


def load_settings(project: str | Path | None = None, **overrides: Any) -> Settings:
    """Settings for the project at ``project`` (default: the nearest llmkit.toml above the cwd).

    ``overrides`` win over environment variables, which win over the file. Nested sections may be
    given as dicts (``model={"name": "x"}``); only the keys given are overridden.
    """
    if project is not None and not Path(project).exists():
        raise NotFound(f"no project at {project}", hint="give the folder holding llmkit.toml, or run `llmkit init`")
    config = find_config(project or ".") if project is None or Path(project).is_dir() else Path(project)
    data: dict[str, Any] = {}
    if config is not None:
        data = _read_toml(config)
        if "project_dir" in data:  # the project is where its llmkit.toml is: .llmkit/ may not be moved elsewhere
            raise ConfigError(f"{config}: project_dir: unknown key", hint="the project is the folder of llmkit.toml")
        project_dir = config.parent
    else:
        project_dir = Path(project or ".")
    if isinstance(data.get("home"), str):  # relative to the project, not to wherever the command ran
        data["home"] = str((project_dir / data["home"]).expanduser())
    token = _TOML.set(data)
    try:  # the project folder as given (-C, llmkit.open) wins over any LLMKIT_PROJECT_DIR
        given = {k: v for k, v in overrides.items() if v is not None}
        settings = Settings(**{**given, "project_dir": project_dir.resolve()})
    except ValidationError as e:
        raise ConfigError(_describe(e, config), hint="fix the value or see `llmkit init` for an example") from None
    except SettingsError as e:  # a section variable that is not JSON (LLMKIT_MODEL=x)
        raise ConfigError(f"invalid settings in the environment: {e}", hint="LLMKIT_<SECTION> takes JSON") from None
    finally:
        _TOML.reset(token)
    return settings


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid TOML: not UTF-8 text") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None


def _describe(error: ValidationError, config: Path | None) -> str:
    where = str(config) if config else "settings"
    lines = [f"invalid settings ({where}, LLMKIT_* variables or flags):"]
    for err in error.errors():
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key")
        else:
            lines.append(f"  {key}: {err['msg']} (got {err.get('input')!r})")
    return "\n".join(lines)


def default_config_text() -> str:
    """The commented ``llmkit.toml`` that ``llmkit init`` writes."""
    return """# llmkit project settings. Every key can also be set as LLMKIT_<SECTION>__<KEY>.
collection = "default"

[model]
name = "smollm2-135m-instruct"    # catalog name, path to a .gguf, or a remote model id
# base_url = "http://localhost:8000/v1"   # any OpenAI-compatible server (vLLM, Ollama, OpenAI)
max_tokens = 512
temperature = 0.2

[embedder]
name = "all-minilm-l6-v2-q8"    # MiniLM with int8 matrix products ("all-minilm-l6-v2": the stock model)

[store]
url = ".llmkit/store.db"
# url = "postgresql://app@db.internal/llm"   # PostgreSQL + pgvector: pip install 'llmkit[postgres]'

[ingest]
chunk_tokens = 200
chunk_overlap = 32

[retrieval]
mode = "hybrid"    # hybrid | dense | lexical
k = 5

[rag]
min_relevance = 0.25
"""
