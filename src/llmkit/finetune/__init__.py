"""Fine-tuning: prepare chat datasets, tune the generator (LoRA) and the embedder, export and measure."""
