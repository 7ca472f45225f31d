"""A tiny real base model for training tests: a byte-level BPE tokenizer trained on the spot, with
SmolLM2's ChatML chat template, and a randomly initialised 2-layer Llama (seconds to train on a CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SMOLLM2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
TEXT = ["What is the capital of Zorbania?", "The capital of Zorbania is Quillhaven.", "Hello there, how are you?",
        "user assistant system helpful AI named SmolLM trained by Hugging Face"]  # fmt: skip


def make_tokenizer(template: str = SMOLLM2_TEMPLATE):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())  # fmt: skip
    tok.train_from_iterator(TEXT * 4, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", unk_token="<|endoftext|>")  # fmt: skip
    fast.chat_template = template
    return fast


@pytest.fixture(scope="session")
def make_tok():
    """``make_tokenizer`` (the fixture form, for test modules)."""
    pytest.importorskip("trl")
    return make_tokenizer


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Hugging Face model folder: tiny random Llama + the tokenizer above."""
    pytest.importorskip("trl")
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("tiny-base")
    tok = make_tokenizer()
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id)  # fmt: skip
    LlamaForCausalLM(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture
def chat_files(tmp_path: Path) -> Path:
    """``train.jsonl`` (24 conversations) and ``val.jsonl`` (4) teaching one made-up fact."""
    conv = {"messages": [{"role": "user", "content": TEXT[0]}, {"role": "assistant", "content": TEXT[1]}]}
    (tmp_path / "train.jsonl").write_text("\n".join(json.dumps(conv) for _ in range(24)) + "\n", "utf-8")
    (tmp_path / "val.jsonl").write_text("\n".join(json.dumps(conv) for _ in range(4)) + "\n", "utf-8")
    return tmp_path
