"""Prometheus metrics of the web service: pages served, how long they took,
and the services that did not answer."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry()
PAGES = Counter(
    "dsr_web_pages_total", "Pages served, by route template and status", ["route", "status"], registry=REGISTRY
)
PAGE_SECONDS = Histogram(
    "dsr_web_page_seconds",
    "Time to serve a page, by route template",
    ["route"],
    registry=REGISTRY,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5),
)
UNAVAILABLE = Counter(
    "dsr_web_backend_unavailable_total", "Pages that could not be served: a service did not answer", registry=REGISTRY
)
