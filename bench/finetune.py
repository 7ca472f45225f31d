"""LoRA step time through llmkit against a plain TRL script; before/after loss; size, load time, decode
speed and perplexity of each GGUF quantisation level. Prints one table.

    .venv/bin/python bench/finetune.py                             # SmolLM2 from the catalog, both parts
    .venv/bin/python bench/finetune.py --part lora --steps 8 --rounds 3
    .venv/bin/python bench/finetune.py --base /models/SmolLM2-135M-Instruct --reference-gguf smollm2.gguf

``--base``: a catalog name, a ``.gguf`` file or a Hugging Face model folder (on a GPU machine without
llmkit's catalog); the device is CUDA when torch sees one. Data: the alpaca-1k rows as chat JSONL (rows
0..N-1 train, 800..831 validation, 850..899 held-back text for perplexity).

Step time: each round builds a trainer, runs ``warmup + steps`` optimizer steps and keeps the median
time of the steps after the warm-up (a callback times ``on_step_begin`` -> ``on_step_end``). Rounds
alternate llmkit / TRL so background load hits both alike; the medians over all rounds are compared
(goal llmkit <= 1.05x TRL). Both get the same model, tokenizer and chat template (llmkit's training
variant of it, so TRL can mask the assistant tokens too), data, LoRA and optimizer settings.

Quantisation: the tuned model (after ``--train-steps`` more steps) is merged, written as F16 GGUF and
quantised; each level is loaded by llama.cpp and timed (load, 64 greedy tokens), and its perplexity on
the held-back text is compared with F16 (goals: Q8_0 within 1 %, Q4_K_M within 5 %); Q4_K_M is written
twice, with and without an importance matrix from ``--calibration`` training rows. The adapter is
also written as a GGUF LoRA and measured unmerged on top of the base GGUF ("LoRA on base": its MB are
the adapter file's), the way ``[model] lora`` serves it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alpaca-1k" / "alpaca_data_1k.jsonl"
LEVELS = ("F16", "Q8_0", "Q4_K_M")


def alpaca_chat(rows: list[dict[str, Any]]) -> list[list[dict[str, str]]]:
    """Alpaca records as user/assistant conversations."""
    out = []
    for r in rows:
        prompt = r["instruction"] + (f"\n\n{r['input']}" if r.get("input") else "")
        out.append([{"role": "user", "content": prompt}, {"role": "assistant", "content": r["output"]}])
    return out


def write_data(folder: Path, n_train: int) -> tuple[Path, Path, list[str]]:
    rows = [json.loads(line) for line in DATA.read_text("utf-8").splitlines() if line.strip()]
    conv = alpaca_chat(rows)
    for name, part in (("train.jsonl", conv[:n_train]), ("val.jsonl", conv[800:832])):
        (folder / name).write_text("".join(json.dumps({"messages": c}) + "\n" for c in part), "utf-8")
    held = ["\n\n".join(m["content"] for m in c) for c in conv[850:900]]
    return folder / "train.jsonl", folder / "val.jsonl", held


class StepTimer:
    """A ``TrainerCallback`` that keeps each optimizer step's wall time and this process's CPU time.

    CPU time barely moves with other processes' load (wall time does), so the two sides can be compared
    on a busy machine too; with ``--threads 1`` no OpenMP thread spins while it waits.
    """

    def __init__(self) -> None:
        self.times: list[float] = []
        self.cpu: list[float] = []
        self._t0 = self._c0 = 0.0

    def __getattr__(self, name: str) -> Any:  # the other callback events: do nothing
        if name.startswith("on_"):
            return lambda *a, **k: None
        raise AttributeError(name)

    def on_step_begin(self, *args: Any, **kwargs: Any) -> None:
        self._t0, self._c0 = time.perf_counter(), time.process_time()

    def on_step_end(self, *args: Any, **kwargs: Any) -> None:
        self.times.append(time.perf_counter() - self._t0)
        self.cpu.append(time.process_time() - self._c0)


def llmkit_trainer(cfg: Any, base: Any) -> Any:
    from llmkit.finetune.lora import LoraTrainer

    lt = LoraTrainer(cfg, models_dir=Path(tempfile.gettempdir()))
    train, val = lt.read_data()
    return lt.build_trainer(base, train, val, progress=False)[0]


def trl_trainer(cfg: Any, base: Any, template: str | None) -> Any:
    """The plain TRL script: what a user writes by hand with the same settings."""
    import torch
    from datasets import load_dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, PrinterCallback
    from trl import SFTConfig, SFTTrainer

    from llmkit.finetune.lora import checkpointing_arg

    tok = AutoTokenizer.from_pretrained(base.hf_dir)
    tok.chat_template = template or tok.chat_template
    cuda = torch.cuda.is_available()
    bf16 = cuda and torch.cuda.is_bf16_supported()
    model = AutoModelForCausalLM.from_pretrained(base.hf_dir, dtype=torch.bfloat16 if bf16 else torch.float32)
    data = load_dataset("json", data_files={"train": cfg.train, "val": cfg.val})
    args = SFTConfig(
        output_dir=cfg.output + "-trl", max_steps=cfg.max_steps, per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate, lr_scheduler_type=cfg.scheduler, seed=cfg.seed, max_length=cfg.max_length,
        logging_steps=cfg.logging_steps, save_strategy="no", report_to="none", use_cpu=not cuda, bf16=bf16,
        disable_tqdm=True, eval_strategy="no", assistant_only_loss=template is not None, completion_only_loss=False,
        **checkpointing_arg(SFTConfig, cfg.gradient_checkpointing),  # TRL's default is on; same setting both sides
    )  # fmt: skip
    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules="all-linear", task_type="CAUSAL_LM")  # fmt: skip
    trainer = SFTTrainer(model=model, args=args, train_dataset=data["train"], processing_class=tok, peft_config=lora)
    trainer.remove_callback(PrinterCallback)  # llmkit's quiet mode does the same: the table owns stdout
    return trainer


def step_times(trainer: Any, warmup: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each step after the first ``warmup``."""
    timer = StepTimer()
    trainer.add_callback(timer)
    trainer.train()
    return timer.times[warmup:], timer.cpu[warmup:]


def lora_part(a: argparse.Namespace, work: Path, base: Any, cfg: Any) -> tuple[list[list[str]], Any]:
    from llmkit.finetune.chat_data import training_template
    from llmkit.finetune.hf import import_transformers

    template = training_template(import_transformers().AutoTokenizer.from_pretrained(base.hf_dir))
    timed = cfg.model_copy(update={"max_steps": a.warmup + a.steps, "save_steps": 10_000, "eval_steps": None})
    runs: dict[str, list[float]] = {"llmkit": [], "trl": []}
    cpu: dict[str, list[float]] = {"llmkit": [], "trl": []}
    for r in range(a.rounds):
        for who in ("llmkit", "trl") if r % 2 == 0 else ("trl", "llmkit"):
            trainer = llmkit_trainer(timed, base) if who == "llmkit" else trl_trainer(timed, base, template)
            wall, used = step_times(trainer, a.warmup)
            runs[who] += wall
            cpu[who] += used
            print(f"  round {r + 1} {who}: median {statistics.median(runs[who]):.3f} s/step", file=sys.stderr)
    med = {k: statistics.median(v) for k, v in runs.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    rows = [["LoRA s/step llmkit (wall / CPU)", f"{med['llmkit']:.3f} / {med_cpu['llmkit']:.3f}",
             f"n={len(runs['llmkit'])}"],
            ["LoRA s/step TRL (wall / CPU)", f"{med['trl']:.3f} / {med_cpu['trl']:.3f}", f"n={len(runs['trl'])}"],
            ["llmkit / TRL (wall / CPU)", f"{med['llmkit'] / med['trl']:.3f} / "
             f"{med_cpu['llmkit'] / med_cpu['trl']:.3f}", "goal <= 1.05"]]  # fmt: skip
    quality = cfg.model_copy(update={"max_steps": a.train_steps, "save_steps": 10_000})
    trainer = llmkit_trainer(quality, base)
    before = trainer.evaluate()["eval_loss"]
    trainer.train()
    after = trainer.evaluate()["eval_loss"]
    trainer.model.save_pretrained(work / "adapter")
    rows.append([f"val loss before -> after {a.train_steps} steps", f"{before:.4f} -> {after:.4f}", "alpaca val 32"])
    return rows, trainer.model


def quant_part(a: argparse.Namespace, work: Path, base: Any, peft_model: Any, held: list[str]) -> list[list[str]]:
    from llmkit.finetune.export import IMATRIX_LEVELS
    from llmkit.finetune.gguf_export import write_gguf
    from llmkit.finetune.perplexity import gguf_perplexity
    from llmkit.finetune.quantize import quantize

    template = Path(a.reference_gguf) if a.reference_gguf else base.gguf
    if template is None:
        return [["quantisation", "skipped", "a HF-folder base needs --reference-gguf"]]
    if peft_model is None:
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(base.hf_dir, dtype="float32")
    else:
        model = peft_model.merge_and_unload()
    f16 = write_gguf({k: v.float() for k, v in model.state_dict().items()}, model.config, template, work / "m-f16.gguf")
    imatrix = calibration_imatrix(model, base, work / "train.jsonl", a.calibration)
    paths = {"F16": f16}
    for lv in LEVELS[1:]:  # as `finetune export` does: an importance matrix from the training data for Q4-Q6
        if lv in IMATRIX_LEVELS and imatrix:
            paths[f"{lv} (imatrix)"] = quantize(f16, work / f"m-{lv.lower()}-imat.gguf", lv, imatrix=imatrix)
        paths[lv] = quantize(f16, work / f"m-{lv.lower()}.gguf", lv)
    if peft_model is not None and base.gguf is not None:  # the adapter unmerged, applied by llama.cpp at load
        from llmkit.finetune.gguf_lora import write_lora_gguf

        paths["LoRA on base"] = write_lora_gguf(work / "adapter", model.config, work / "m-lora.gguf")
    rows, ref = [], None
    for level, path in paths.items():
        model_path, lora = (base.gguf, path) if level == "LoRA on base" else (path, None)
        load_s, tok_s = load_and_decode(model_path, a.threads, lora)
        ppl = gguf_perplexity(model_path, held, threads=a.threads, lora=lora)
        ref = ref or ppl
        rows.append([f"{level}: MB / load s / tok/s / ppl (vs F16)",
                     f"{path.stat().st_size / 1e6:.1f} / {load_s:.2f} / {tok_s:.1f} / {ppl:.3f}",
                     f"{(ppl / ref - 1) * 100:+.2f} %"])  # fmt: skip
    return rows


def calibration_imatrix(model: Any, base: Any, train: Path, n: int) -> dict[str, Any] | None:
    """The importance matrix over the first ``n`` training conversations (``finetune.imatrix``)."""
    if n <= 0:
        return None
    from transformers import AutoTokenizer

    from llmkit.finetune.chat_data import read_chat_jsonl
    from llmkit.finetune.imatrix import importance_matrix

    tok = AutoTokenizer.from_pretrained(base.hf_dir)
    texts = [tok.apply_chat_template(conv, tokenize=False) for conv in read_chat_jsonl(train, limit=n)]
    return importance_matrix(model.eval(), tok, texts)


def load_and_decode(path: Path, threads: int | None, lora: Path | None = None) -> tuple[float, float]:
    from llama_cpp import Llama

    t0 = time.perf_counter()
    adapter = {"lora_path": str(lora)} if lora else {}
    llm = Llama(model_path=str(path), n_ctx=512, verbose=False, n_threads=threads or os.cpu_count(), **adapter)
    load = time.perf_counter() - t0
    tokens = llm.tokenize(b"Write a short story about a dragon who learns to cook.", add_bos=True)
    n, first = 0, 0.0
    for _ in llm.generate(tokens, temp=0.0):  # decode speed: from the first new token to the 64th
        n += 1
        if n == 1:
            first = time.perf_counter()
        if n >= 64:
            break
    speed = (n - 1) / (time.perf_counter() - first)
    llm.close()
    return load, speed


def random_init(folder: Path, out: Path) -> Path:
    """A copy of ``folder``'s config and tokenizer with random weights: a step costs the same as trained ones."""
    import shutil

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder)).save_pretrained(out)
    for f in folder.iterdir():
        if f.name.startswith(("tokenizer", "special_tokens", "chat_template", "vocab", "merges")):
            shutil.copy(f, out / f.name)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base", default="smollm2-135m-instruct")
    p.add_argument("--part", choices=("lora", "quant", "all"), default="all")
    p.add_argument("--rows", type=int, default=256, help="training conversations")
    p.add_argument("--steps", type=int, default=6, help="timed steps per round")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--rounds", type=int, default=2, help="rounds per side, alternating")
    p.add_argument("--train-steps", type=int, default=30, help="steps for the before/after score")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--held", type=int, default=50, help="held-back alpaca rows for perplexity (850..)")
    p.add_argument("--calibration", type=int, default=128, help="training rows for the imatrix (0: none)")
    p.add_argument("--reference-gguf", default=None, help="GGUF with the base's tokenizer (for a HF-folder base)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--random-init", action="store_true",
                   help="HF-folder base with config + tokenizer only: random weights (step time only)")  # fmt: skip
    a = p.parse_args()

    from llmkit.config import load_settings
    from llmkit.finetune.base_model import resolve_base
    from llmkit.finetune.train_config import load_train_config

    settings = load_settings()
    with tempfile.TemporaryDirectory(prefix="llmkit-bench-ft-") as tmp:
        work = Path(tmp)
        if a.random_init:
            a.base = str(random_init(Path(a.base), work / "random-base"))
        base = resolve_base(a.base, settings.models_dir, settings.models_dir.parent / "cache")
        train, val, held = write_data(work, a.rows)
        held = held[: a.held]
        cfg = load_train_config(None, {"base": a.base, "train": str(train), "val": str(val), "batch_size": a.batch,
                                       "output": str(work / "out"), "max_length": a.max_length, "logging_steps": 5,
                                       "learning_rate": 2e-4, "seed": 0, "threads": a.threads})  # fmt: skip
        rows: list[list[str]] = []
        model = None
        if a.part in ("lora", "all"):
            lora_rows, model = lora_part(a, work, base, cfg)
            rows += lora_rows
        if a.part in ("quant", "all"):
            rows += quant_part(a, work, base, model, held)
    import torch

    device = "cuda" if torch.cuda.is_available() else f"cpu x{torch.get_num_threads()}"
    print(f"\nbase {base.name} ({base.hf_dir}), device {device}, batch {a.batch}, max_length {a.max_length}\n")
    print("| measure | value | note |\n| --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
