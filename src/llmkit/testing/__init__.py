"""Public fakes and contract suites for tests — llmkit's own and plugin authors'.

- ``FakeChatModel``: a scripted ``ChatModel`` (replies in order, or a function of the messages).
- ``ScriptedToolModel``: a scripted ``ChatModel`` whose turns may call tools (parallel calls too).
- ``HashEmbedder``: a deterministic, dependency-light ``Embedder`` (hashed bag of words).
- ``llmkit.testing.store_contract``: the tests every ``Store`` must pass.
"""

from llmkit.testing.fakes import FakeChatModel, HashEmbedder, ScriptedToolModel

__all__ = ["FakeChatModel", "HashEmbedder", "ScriptedToolModel"]
