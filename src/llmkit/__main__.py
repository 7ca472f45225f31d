"""``python -m llmkit`` runs the CLI."""

from llmkit.cli import main

main()
