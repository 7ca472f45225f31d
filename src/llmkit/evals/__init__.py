"""Evaluation: datasets, metrics, judges, the suite runner, bootstrap statistics, comparisons and reports."""

from llmkit.evals.dataset import EvalItem, load_beir, load_dataset, load_squad
from llmkit.evals.runner import Runner, RunResult, runner_for_kit
from llmkit.evals.stats import Comparison, Estimate, bootstrap_ci, paired_bootstrap
from llmkit.evals.store import EvalStore, Row, Run
from llmkit.evals.suite import Suite, load_suite

__all__ = [
    "Comparison", "Estimate", "EvalItem", "EvalStore", "Row", "Run", "RunResult", "Runner", "Suite",
    "bootstrap_ci", "load_beir", "load_dataset", "load_squad", "load_suite", "paired_bootstrap", "runner_for_kit",
]  # fmt: skip
