"""Rerankers: re-score a query's retrieval candidates (bi-encoder sentence windows, an LLM judge, a cross-encoder)."""

from llmkit.rerank.base import RERANKERS, Reranker, load_reranker

__all__ = ["RERANKERS", "Reranker", "load_reranker"]
