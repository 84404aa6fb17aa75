"""Prometheus metrics of the reward server, in a registry of its own (one per server).

Exposed at ``GET /metrics`` in the Prometheus text format:

``codeeval_requests_total{endpoint, code}``          requests answered, by HTTP status
``codeeval_request_seconds{endpoint}``               request latency (histogram)
``codeeval_items_total{verdict}``                    items scored, by verdict (SE: infra)
``codeeval_item_errors_total{kind}``                 items answered with an error, by kind
``codeeval_item_seconds{phase}``                     per item: ``queued`` and ``run`` time
``codeeval_queue_depth``                             items admitted and waiting for a worker
``codeeval_items_running``                           items a worker is scoring now
``codeeval_queue_capacity``                          items admitted at most (workers + queue)
``codeeval_rejected_total``                          requests refused with 429 (queue full)
``codeeval_sandbox_pool{state}``                     the backend's pool (see ``pool_state``)
``codeeval_problems{state}``                         problems ``ready`` / ``failed`` to load
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0,
                    60.0)


class _Snapshot(Collector):
    """Gauges read when scraped, from a function returning ``{label value: number}``."""

    def __init__(self, name: str, doc: str, label: str,
                 read: Callable[[], Mapping[str, float]]) -> None:
        self._name, self._doc, self._label, self._read = name, doc, label, read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(self._name, self._doc, labels=[self._label])
        try:
            values = self._read()
        except Exception:  # a scrape must never fail because a backend is mid-change
            values = {}
        for key, value in sorted(values.items()):
            family.add_metric([key], float(value))
        yield family


class Metrics:
    """The server's metric objects."""

    def __init__(self) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created: noise
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("codeeval_requests", "Requests answered, by HTTP status.",
                                ["endpoint", "code"], registry=r)
        self.request_seconds = Histogram("codeeval_request_seconds", "Request latency.",
                                         ["endpoint"], buckets=_LATENCY_BUCKETS, registry=r)
        self.items = Counter("codeeval_items", "Items scored, by verdict (SE: infra error).",
                             ["verdict"], registry=r)
        self.item_errors = Counter("codeeval_item_errors",
                                   "Items answered with an error, by kind.", ["kind"],
                                   registry=r)
        self.item_seconds = Histogram("codeeval_item_seconds",
                                      "Time per item waiting for a worker and running.",
                                      ["phase"], buckets=_LATENCY_BUCKETS, registry=r)
        self.queue_depth = Gauge("codeeval_queue_depth",
                                 "Items admitted and waiting for a worker.", registry=r)
        self.running = Gauge("codeeval_items_running", "Items being scored now.", registry=r)
        self.long_runs = Counter("codeeval_long_runs", "Runs that outlived the engine's "
                                 "long_run_s and gave their worker's place to the next item.",
                                 registry=r)
        self.capacity = Gauge("codeeval_queue_capacity",
                              "Items admitted at most (workers plus queue).", registry=r)
        self.rejected = Counter("codeeval_rejected", "Requests refused because the queue "
                                "was full (HTTP 429).", registry=r)

    def watch(self, name: str, doc: str, label: str,
              read: Callable[[], Mapping[str, float]]) -> None:
        """Expose ``read()`` as gauges ``name{label=key}``, read at every scrape."""
        self.registry.register(_Snapshot(name, doc, label, read))

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
