"""Write ``src/llmkit/store/data/int8_dot.onnx``: the graph ``llmkit.store.int8_dot`` runs on onnxruntime.

    q (1 x d, float32) -> DynamicQuantizeLinear -> MatMulInteger(q8, B, q_zero) -> y (1 x n, int32)

The quantised query (``q8``, ``q_scale``, ``q_zero``) is an output too: its rounding error bounds the scores'.
``B`` (d x n, int8) is a placeholder initializer that each ``Int8Dot`` replaces with its own rows
(``SessionOptions.add_initializer``), so onnxruntime packs them once. Needs ``onnx`` (the ``local`` extra).

    .venv/bin/python scripts/make_int8_dot.py
"""

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = Path(__file__).resolve().parents[1] / "src" / "llmkit" / "store" / "data" / "int8_dot.onnx"


def main() -> None:
    q = helper.make_tensor_value_info("q", TensorProto.FLOAT, [1, "d"])
    outputs = [
        helper.make_tensor_value_info("y", TensorProto.INT32, [1, "n"]),
        helper.make_tensor_value_info("q8", TensorProto.UINT8, [1, "d"]),
        helper.make_tensor_value_info("q_scale", TensorProto.FLOAT, []),
        helper.make_tensor_value_info("q_zero", TensorProto.UINT8, []),
    ]
    nodes = [
        helper.make_node("DynamicQuantizeLinear", ["q"], ["q8", "q_scale", "q_zero"]),
        helper.make_node("MatMulInteger", ["q8", "B", "q_zero"], ["y"]),
    ]
    placeholder = numpy_helper.from_array(np.zeros((1, 1), dtype=np.int8), "B")
    graph = helper.make_graph(nodes, "int8_dot", [q], outputs, initializer=[placeholder])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="llmkit")
    model.ir_version = 8
    onnx.checker.check_model(model)
    OUT.write_bytes(model.SerializeToString())
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
