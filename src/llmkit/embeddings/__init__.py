"""Embedders: the ``Embedder`` Protocol and its backends (ONNX MiniLM, OpenAI-compatible)."""
