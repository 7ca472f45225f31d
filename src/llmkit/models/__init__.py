"""Chat models: the ``ChatModel`` Protocol, its backends (llama.cpp, OpenAI-compatible) and the catalog."""
