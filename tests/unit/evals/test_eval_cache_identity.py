"""The reply cache tells models apart by their cache identity; URLs in errors and identities hide credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmkit.errors import BackendUnavailable
from llmkit.evals.cache import CachedModel
from llmkit.evals.runner import Runner
from llmkit.evals.store import EvalStore
from llmkit.evals.suite import suite_from_dict
from llmkit.models.base import cache_identity
from llmkit.models.llama_cpp import LlamaCppModel
from llmkit.models.llama_lora import LoraAdapter
from llmkit.models.openai_compat import OpenAIChatModel, translate_error
from llmkit.models.openai_http import Upstream, UpstreamStatus, redact_url
from llmkit.prompts import builtin
from llmkit.testing import FakeChatModel
from llmkit.types import GenerationParams, Message

MSGS, PARAMS = [Message.user("hi")], GenerationParams()


class Served(FakeChatModel):
    """A fake that, like a remote model, is told apart by the server it is asked on."""

    def __init__(self, reply: str, url: str) -> None:
        super().__init__([reply], name="llama3")
        self.url = url

    @property
    def cache_identity(self) -> str:
        return f"{self.name}@{self.url}"


def test_same_name_on_two_servers_does_not_share_replies(tmp_path: Path) -> None:
    store = EvalStore(tmp_path / "e.db")
    first = CachedModel(Served("Paris", "http://a/v1"), store)
    assert first.chat(MSGS, PARAMS).text == "Paris"
    first.flush()
    second = CachedModel(Served("Lyon", "http://b/v1"), store)
    assert second.chat(MSGS, PARAMS).text == "Lyon" and second.calls == 1
    again = CachedModel(Served("other", "http://a/v1"), store)
    assert again.chat(MSGS, PARAMS).text == "Paris" and again.calls == 0


def test_backends_have_distinct_identities(tmp_path: Path) -> None:
    a = OpenAIChatModel("llama3", base_url="http://vllm.internal:8000/v1")
    b = OpenAIChatModel("llama3", base_url="http://localhost:11434/v1")
    assert cache_identity(a) != cache_identity(b) and cache_identity(a).startswith("llama3@")
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    base = LlamaCppModel(gguf, name="m")
    tuned = LlamaCppModel(gguf, name="m", lora=LoraAdapter(tmp_path / "t.gguf", "t", 1.0))
    half = LlamaCppModel(gguf, name="m", lora=LoraAdapter(tmp_path / "t.gguf", "t", 0.5))
    assert len({cache_identity(base), cache_identity(tuned), cache_identity(half)}) == 3
    assert cache_identity(base) == cache_identity(LlamaCppModel(gguf, name="m"))
    assert cache_identity(FakeChatModel(name="x")) == "x"
    from llmkit.models.llama_batch import BatchedLlamaModel

    batched = BatchedLlamaModel(gguf, name="m", lora=LoraAdapter(tmp_path / "t.gguf", "t", 1.0))
    assert cache_identity(batched) == cache_identity(tuned)  # the same file and adapter: the same replies


def test_run_records_the_identity(tmp_path: Path) -> None:
    suite = suite_from_dict({"name": "t", "dataset": {"path": "x.jsonl"}, "pipeline": {"kind": "generate"},
                             "metrics": ["f1"]})  # fmt: skip
    from llmkit.evals.dataset import EvalItem

    model = Served("yes", "http://a/v1")
    run = Runner(suite, EvalStore(tmp_path / "e.db"), model=model, prompt=builtin("qa-short"),
                 items=[EvalItem("1", "q?", ("yes",))]).run().run  # fmt: skip
    assert run.models == {"pipeline": "llama3@http://a/v1"}


def test_redact_url() -> None:
    assert redact_url("http://alice:pass@host:8000/v1") == "http://***@host:8000/v1"
    text = "cannot reach https://x/v1?api_key=s3cret&n=1 now"
    assert redact_url(text) == "cannot reach https://x/v1?api_key=***&n=1 now"
    assert redact_url("http://host/v1?model=a") == "http://host/v1?model=a"


def test_credentials_stay_out_of_error_messages() -> None:
    url = "http://alice:pass@127.0.0.1:9/v1?token=s3cret"
    model = OpenAIChatModel("m", base_url=url, api_key="k", max_retries=0, timeout_s=2)
    with pytest.raises(BackendUnavailable) as info:
        model.chat(MSGS)
    assert "pass" not in str(info.value) and "s3cret" not in str(info.value) and "127.0.0.1" in str(info.value)
    assert "pass" not in cache_identity(model) and "s3cret" not in cache_identity(model)
    assert "pass" not in str(Upstream(url, "k", 1).unavailable(OSError(f"failed for {url}")))
    refused = translate_error(UpstreamStatus(503, "down", {}), model="m", base_url=url)
    assert "pass" not in str(refused) and "s3cret" not in str(refused)


def test_credentials_stay_out_of_the_async_paths_errors() -> None:
    from llmkit.models.openai_aio import unavailable

    error = unavailable("http://alice:pass@127.0.0.1:9/v1?token=s3cret", OSError("refused"))
    assert "pass" not in str(error) and "s3cret" not in str(error) and "127.0.0.1" in str(error)
