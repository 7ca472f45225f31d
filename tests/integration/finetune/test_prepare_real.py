"""`finetune prepare` with real tokenizers: SmolLM2's GGUF vocabulary and template, a Hugging Face folder,
the shared Alpaca sample, and traces written by the real model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_runner import run_cli
from llmkit.finetune.tokens import GgufTokenCounter, HfTokenCounter
from llmkit.types import Message
from shared_data import SHARED_DATA, shared_data_missing

ALPACA = SHARED_DATA / "alpaca-1k" / "alpaca_data_1k.jsonl"
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def smollm2(real_models: None) -> GgufTokenCounter:
    from llmkit.config import load_settings
    from llmkit.models.catalog import Catalog

    return GgufTokenCounter(Catalog(load_settings().models_dir).path("smollm2-135m-instruct"), "smollm2-135m-instruct")


def test_gguf_counts_the_conversation_as_the_template_renders_it(smollm2: GgufTokenCounter) -> None:
    conv = [Message.user("Hi"), Message.assistant("Hello!")]
    llm = smollm2._load()
    text = smollm2._formatter(messages=[m.to_dict() for m in conv]).prompt
    assert text.endswith("<|im_start|>assistant\nHello!<|im_end|>\n")  # the whole turn, no generation prompt
    assert smollm2.count_message_tokens(conv) == len(llm.tokenize(text.encode(), False, True))
    longer = [*conv, Message.user("And again?"), Message.assistant("Hello again!")]
    assert smollm2.count_message_tokens(longer) > smollm2.count_message_tokens(conv) + 8
    assert smollm2.context_window == 8192


@pytest.mark.slow
@pytest.mark.skipif(shared_data_missing(ALPACA), reason="shared data not present")
def test_alpaca_sample_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], real_models: None) -> None:
    args = ("-C", str(tmp_path), "finetune", "prepare", str(ALPACA), "--base", "smollm2-135m-instruct", "--json")
    code, out, err = run_cli(capsys, *args, "--out", str(tmp_path / "a"))
    assert code == 0, err
    card = json.loads(out)
    assert card["records_in"] == 900 and card["base"] == "smollm2-135m-instruct"
    assert card["kept"] + card["rejected"] == 900 and card["kept"] > 850
    assert card["val"] == round(card["kept"] * 0.1) and len(card["base_sha256"]) == 64
    tok = card["tokens"]
    assert tok["count"] == card["kept"] and 20 < tok["min"] <= tok["p50"] <= tok["p95"] <= tok["max"] < 8192
    assert card["sources"][0]["sha256"] == __import__("hashlib").sha256(ALPACA.read_bytes()).hexdigest()
    first = json.loads((tmp_path / "a" / "train.jsonl").read_text("utf-8").splitlines()[0])
    assert [m["role"] for m in first["messages"]] == ["user", "assistant"]
    code, out, _ = run_cli(capsys, *args[:-1], "--out", str(tmp_path / "c"), "--max-tokens", "64")
    assert code == 0 and "too_long" in out and "p95" in out  # the Rich tables
    again = json.loads((tmp_path / "c" / "card.json").read_text("utf-8"))
    assert again["kept"] < card["kept"] and again["sha256"] != card["sha256"]


def test_the_project_trace_store_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], smollm2: GgufTokenCounter
) -> None:
    """`prepare traces` reads the project's .llmkit/traces.db (written here by TracedModel; generating with
    the real model would only add minutes) and measures the records with SmolLM2's tokenizer."""
    from llmkit.observe.traces import TracedModel, TraceStore
    from llmkit.testing import FakeChatModel

    store = TraceStore(tmp_path / ".llmkit" / "traces.db")
    model = TracedModel(FakeChatModel(lambda m: f"You asked: {m[-1].content}"), store)
    questions = ["What is the capital of France?", "Name a primary colour.", "What is two plus two?"]
    for q in questions:
        model.chat([Message.system("Be brief."), Message.user(q)])
    store.close()
    out_dir = str(tmp_path / "ds")
    code, out, err = run_cli(
        capsys, "-C", str(tmp_path), "finetune", "prepare", "traces", "--out", out_dir, "--since", "1h", "--json"
    )
    assert code == 0, err
    card = json.loads(out)
    assert (card["records_in"], card["kept"], card["train"], card["val"]) == (3, 3, 2, 1)
    assert card["base"] == "smollm2-135m-instruct" and card["sources"][0]["path"].startswith("traces:")
    convs = [[Message.system("Be brief."), Message.user(q), Message.assistant(f"You asked: {q}")] for q in questions]
    assert card["tokens"]["total"] == sum(smollm2.count_message_tokens(c) for c in convs)


@pytest.mark.slow
def test_a_hugging_face_folder_as_base(tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = ["<|im_start|>", "<|im_end|>", "[UNK]", "user", "assistant", "hi", "hello", "there", "\n"]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    folder = tmp_path / "tiny-hf"
    folder.mkdir()
    tok.save(str(folder / "tokenizer.json"))
    template = "{% for m in messages %}<|im_start|> {{ m['role'] }} {{ m['content'] }} <|im_end|> {% endfor %}"
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "chat_template": template, "unk_token": "[UNK]"}
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    (folder / "config.json").write_text(json.dumps({"max_position_embeddings": 16}), encoding="utf-8")
    counter = HfTokenCounter(folder)
    assert counter.context_window == 16
    assert counter.count_message_tokens([Message.user("hi there"), Message.assistant("hello")]) == 9

    from llmkit.finetune.data import prepare_dataset

    data = tmp_path / "d.jsonl"
    rows = [{"instruction": "hi", "output": "hello"}, {"instruction": "hi there " * 5, "output": "hello"}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    ds = prepare_dataset([data], base=str(folder), out_dir=tmp_path / "ds")
    assert ds.card.base == "tiny-hf" and ds.card.max_tokens == 16 and ds.card.kept == 1
    assert ds.card.rejected_by_reason == {"too_long": 1} and ds.card.base_sha256 is None
