"""Adapt the models: data preparation, LoRA training, merge, GGUF export, quantisation, embedder tuning, measurement."""
