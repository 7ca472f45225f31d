"""Retrieval: dense, lexical and hybrid search over a store, with rank fusion, MMR and explain."""

from llmkit.retrieve.fusion import mmr, normalize, weighted_rrf
from llmkit.retrieve.retriever import MODES, Retriever, clean_query

__all__ = ["MODES", "Retriever", "clean_query", "mmr", "normalize", "weighted_rrf"]
