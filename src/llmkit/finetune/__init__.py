"""Adapting models to a domain: training data, LoRA for the generator, contrastive tuning of the embedder."""
