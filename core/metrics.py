"""What ``GET /metrics`` shows (ivr/metrics.py): one small registry.

Two kinds of metric, neither with a person in it (no number, name or id in
any label: label values come from fixed vocabularies):

- live counters and histograms, changed where things happen (a webhook
  answered, a member's key on the whisper). Under gunicorn each worker
  process keeps its own; with ``PROMETHEUS_MULTIPROC_DIR`` set (our
  gunicorn.conf.py sets it) they are written to files there and summed at
  scrape time, so a scrape sees every process, not just the one it hit;
- gauges read at scrape time from the system of record (queue, outbox,
  ...). Add one with :func:`scraped_gauge`; its reader gets the services
  and returns ``{label value: number}`` (one series per label value).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from core.services import Services

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

INBOUND_CALLS = Counter(
    "safety_inbound_calls",
    "Calls to the pool's numbers, by how the app answered them (callflows InboundOutcome)",
    ["outcome"],
)
SCREEN_CHOICES = Counter("safety_screen_choices", "Members' answers on the screening whisper", ["choice"])
# Twilio gives up on a webhook after 15 s: the top buckets show how close we come.
WEBHOOK_SECONDS = Histogram(
    "safety_webhook_duration_seconds",
    "Time to answer a Twilio webhook, by endpoint",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0),
)

Reader = Callable[[Services], Mapping[str, float]]


@dataclass(frozen=True)
class ScrapedGauge:
    name: str
    help: str
    label: str
    read: Reader


SCRAPED: list[ScrapedGauge] = []


def scraped_gauge(name: str, help: str, label: str = "state") -> Callable[[Reader], Reader]:
    """Register a gauge read at scrape time: ``@scraped_gauge("safety_x", "…")``."""

    def register(read: Reader) -> Reader:
        SCRAPED.append(ScrapedGauge(name, help, label, read))
        return read

    return register


class _Scraped(Collector):
    """The registered gauges, read now; one that cannot be read is left out
    (a scrape with Redis down still shows the database's gauges)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for gauge in SCRAPED:
            try:
                values = gauge.read(self.services)
            except Exception as exc:
                log.warning("metrics: %s not read (%s)", gauge.name, type(exc).__name__)
                continue
            family = GaugeMetricFamily(gauge.name, gauge.help, labels=[gauge.label])
            for label_value, value in sorted(values.items()):
                family.add_metric([label_value], value)
            yield family


def _live_registry() -> CollectorRegistry:
    """This process's counters, or every process's when they share a directory."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def exposition(services: Services) -> bytes:
    """The whole text exposition: live metrics, then the scraped gauges."""
    scraped = CollectorRegistry(auto_describe=False)
    scraped.register(_Scraped(services))
    return generate_latest(_live_registry()) + generate_latest(scraped)
