"""Quantise a GGUF file in-process with llama.cpp's quantiser (``llama_model_quantize``).

The llama-cpp-python wheel has no ``llama-quantize`` binary, but its C API has the same function.
Tensors whose rows do not divide into a k-quant's 256-value blocks (SmolLM2's 576-wide ones) fall back
to a compatible type inside llama.cpp, as with the command-line tool.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from llmkit.errors import InputError, MissingExtra, ModelError

#: Quantisation names -> llama.cpp ``LLAMA_FTYPE_MOSTLY_*`` constant names.
LEVELS = {"F16": "F16", "Q8_0": "Q8_0", "Q6_K": "Q6_K", "Q5_K_M": "Q5_K_M", "Q4_K_M": "Q4_K_M", "Q4_0": "Q4_0"}


def check_levels(levels: list[str] | tuple[str, ...]) -> list[str]:
    """Upper-cased, known, de-duplicated levels.

    >>> check_levels(["q8_0", "Q4_K_M", "q8_0"])
    ['Q8_0', 'Q4_K_M']
    """
    out: list[str] = []
    for level in levels:
        name = level.strip().upper()
        if name not in LEVELS:
            raise InputError(f"unknown quantisation {level!r}", hint=f"choose from {', '.join(LEVELS)}")
        if name not in out:
            out.append(name)
    return out


def quantize(
    src: Path,
    dst: Path,
    level: str,
    *,
    threads: int | None = None,
    imatrix: Mapping[str, Any] | None = None,
    allow_requantize: bool = False,
) -> Path:
    """Write ``src`` (an F16/F32 GGUF) quantised to ``level`` at ``dst``.

    ``imatrix``: GGUF tensor name -> importance per input column (see ``finetune.imatrix``), used by
    llama.cpp to weigh each weight's rounding error, as ``llama-quantize --imatrix`` does.
    ``allow_requantize``: accept an already quantised ``src`` (as ``llama-quantize --allow-requantize``);
    its rounding errors add to the new ones.
    """
    try:
        import llama_cpp
    except ImportError:
        raise MissingExtra("llama-cpp-python", "local") from None
    import ctypes

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{LEVELS[check_levels([level])[0]]}")
    params.nthread = threads or os.cpu_count() or 1
    params.allow_requantize = allow_requantize
    keep = _set_imatrix(llama_cpp, params, imatrix) if imatrix else None  # alive until the call returns
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".part")
    with _quiet():  # llama.cpp logs a line per tensor on stderr
        rc = llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(), ctypes.byref(params))
    if rc != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise ModelError(f"llama.cpp could not quantise {src.name} to {level} (code {rc})")
    os.replace(tmp, dst)
    del keep
    return dst


def _set_imatrix(llama_cpp: Any, params: Any, imatrix: Mapping[str, Any]) -> list[Any]:
    """Point ``params.imatrix`` at a C array of ``{name, data, size}`` ending in a null name."""
    import ctypes

    import numpy as np

    rows = (llama_cpp.llama_model_imatrix_data * (len(imatrix) + 1))()  # zeroed: the last is the terminator
    keep: list[Any] = [rows]
    for row, (name, values) in zip(rows, imatrix.items(), strict=False):
        data, key = np.ascontiguousarray(values, dtype=np.float32), name.encode()
        keep += [data, key]
        row.name, row.size = key, data.size
        row.data = data.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
    params.imatrix = ctypes.cast(rows, type(params.imatrix))
    return keep


def _quiet() -> Any:
    """llama-cpp-python's own stderr silencer (what ``Llama(verbose=False)`` uses), if it is there."""
    try:
        from llama_cpp._utils import suppress_stdout_stderr
    except ImportError:  # a future version without it: keep the logs
        return contextlib.nullcontext()
    return suppress_stdout_stderr(disable=False)
