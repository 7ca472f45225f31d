"""Request and response bodies (pydantic), so the OpenAPI page documents the API and bad input is a 422."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_Text = str | list[dict[str, Any]]  # content as a string or as OpenAI content parts


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")  # OpenAI clients send fields we do not use (user, logprobs ...)


class FunctionCall(_Body):
    name: str = Field(min_length=1, max_length=256)
    arguments: str = Field("{}", max_length=100_000)


class ToolCallIn(_Body):
    id: str = Field("", max_length=256)
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessageIn(_Body):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: _Text | None = None
    name: str | None = Field(None, max_length=256)
    tool_calls: list[ToolCallIn] | None = Field(None, max_length=128)
    tool_call_id: str | None = Field(None, max_length=256)


class FunctionSpec(_Body):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: str = Field("", max_length=4096)
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class ToolIn(_Body):
    type: Literal["function"] = "function"
    function: FunctionSpec


class JsonSchemaSpec(_Body):
    name: str = Field("response", max_length=64)
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")
    strict: bool | None = None


class ResponseFormat(_Body):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaSpec | None = None


class StreamOptions(_Body):
    include_usage: bool = False


class ToolChoiceFunction(_Body):
    name: str


class ToolChoiceNamed(_Body):
    type: Literal["function"] = "function"
    function: ToolChoiceFunction


class _Sampling(_Body):
    model: str = Field(min_length=1, max_length=256)
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    seed: int | None = Field(None, ge=-(2**63), le=2**63 - 1)
    n: int = Field(1, ge=1, le=8)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None


class ChatRequest(_Sampling):
    """``POST /v1/chat/completions``."""

    messages: list[ChatMessageIn] = Field(min_length=1, max_length=1024)
    max_completion_tokens: int | None = Field(None, ge=1)
    response_format: ResponseFormat | None = None
    tools: list[ToolIn] | None = Field(None, max_length=128)
    tool_choice: Literal["auto", "none", "required"] | ToolChoiceNamed | None = None


class CompletionRequest(_Sampling):
    """``POST /v1/completions`` (a single prompt string)."""

    prompt: str | list[str]  # one prompt (a list of one is accepted)


class EmbeddingRequest(_Body):
    """``POST /v1/embeddings``."""

    model: str = Field(min_length=1, max_length=256)
    input: str | list[str] = Field(min_length=1, max_length=2048)
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1)  # only the embedder's own: it cannot shorten its vectors


class CollectionIn(_Body):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class QueryRequest(_Body):
    """``POST /v1/query``: search a collection and, unless ``answer`` is false, answer with citations."""

    query: str = Field(min_length=1, max_length=20_000)
    collection: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    k: int | None = Field(None, ge=1, le=100)
    mode: Literal["hybrid", "dense", "lexical"] | None = None
    filter: dict[str, Any] | None = None
    explain: bool = False
    answer: bool = True
