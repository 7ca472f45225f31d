"""Ingestion: sources -> loaders -> splitter -> embed -> store, incremental and transactional."""

from llmkit.ingest.loaders import load
from llmkit.ingest.pipeline import Ingestor, IngestProgress
from llmkit.ingest.sources import SourceItem, expand
from llmkit.ingest.splitter import ChunkDraft, split, to_chunks

__all__ = ["ChunkDraft", "IngestProgress", "Ingestor", "SourceItem", "expand", "load", "split", "to_chunks"]
