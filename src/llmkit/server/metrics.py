"""Prometheus metrics, one registry per app (so two apps in one process never share counters)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric

    from llmkit.guards.pipeline import GuardPipeline

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    """The server's counters, histograms and gauges; ``render()`` is the ``/metrics`` body."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry: CollectorRegistry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("llmkit_requests", "HTTP requests", ["route", "method", "status"], registry=r)
        self.latency = Histogram(
            "llmkit_request_seconds", "request latency", ["route"], buckets=_LATENCY_BUCKETS, registry=r
        )
        self.ttft = Histogram(
            "llmkit_time_to_first_token_seconds", "time to first token", ["model"], buckets=_LATENCY_BUCKETS, registry=r
        )
        self.tokens = Counter("llmkit_tokens", "tokens processed", ["model", "direction"], registry=r)
        self.cost = Counter("llmkit_cost_usd", "cost of model calls in USD", ["model"], registry=r)
        self.queue = Gauge("llmkit_queue_depth", "requests waiting for a model", ["model"], registry=r)
        self.running = Gauge("llmkit_running_requests", "requests a model is running", ["model"], registry=r)
        self.cache = Counter("llmkit_cache", "response cache lookups", ["kind", "result"], registry=r)
        self.errors = Counter("llmkit_errors", "error responses", ["type", "code"], registry=r)
        self._per_request: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one request and its latency. The labelled children are kept (``labels()`` takes a lock and
        builds a key on every call); their number is bounded by routes x methods x statuses, as in the registry."""
        key = (route, method, status)
        pair = self._per_request.get(key)
        if pair is None:
            pair = self._per_request[key] = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route),
            )
        pair[0].inc()
        pair[1].observe(seconds)

    def watch_guards(self, pipeline: Callable[[], GuardPipeline | None]) -> None:
        """Export the guard pipeline's tallies at each scrape (``pipeline()``; None: not built yet): verdicts by
        stage, guard and action, and the checks' count and total time per stage and guard."""
        self.registry.register(_GuardCollector(pipeline))

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def count_tokens(self, model: str, prompt: int | None, completion: int | None, cost: float | None) -> None:
        if prompt:
            self.tokens.labels(model, "in").inc(prompt)
        if completion:
            self.tokens.labels(model, "out").inc(completion)
        if cost:
            self.cost.labels(model).inc(cost)


class _GuardCollector:
    """Reads a ``GuardPipeline``'s counters when Prometheus scrapes, so guards pay nothing per check for it."""

    def __init__(self, pipeline: Callable[[], GuardPipeline | None]) -> None:
        self.pipeline = pipeline

    def describe(self) -> list[Metric]:
        return []  # the families are only known at scrape time

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, SummaryMetricFamily

        verdicts = CounterMetricFamily("llmkit_guard_verdicts", "guard verdicts", labels=["stage", "guard", "action"])
        seconds = SummaryMetricFamily("llmkit_guard_seconds", "time spent in guard checks", labels=["stage", "guard"])
        pipeline = self.pipeline()
        if pipeline is not None:
            # dict() copies in one step under the GIL: worker threads add keys while this runs
            counts, checks, spent = dict(pipeline.counts), dict(pipeline.checks), dict(pipeline.seconds)
            for key, n in sorted(counts.items()):
                verdicts.add_metric(list(key), n)
            for key, n in sorted(checks.items()):
                seconds.add_metric(list(key), count_value=n, sum_value=spent.get(key, 0.0))
        yield verdicts
        yield seconds
