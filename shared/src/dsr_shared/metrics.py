"""Prometheus metrics every service exposes on /metrics. One registry per
process: metrics are created once, at import."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

EVENTS_CONSUMED = Counter(
    "dsr_events_consumed",
    "Events taken from a topic, by outcome (processed, duplicate, skipped, dead_lettered, retried)",
    ["topic", "event_type", "outcome"],
    registry=REGISTRY,
)
EVENTS_PUBLISHED = Counter(
    "dsr_events_published", "Events published, by topic", ["topic", "event_type"], registry=REGISTRY
)
DEAD_LETTERED = Counter(
    "dsr_dead_lettered", "Messages sent to a .dlq, by source topic", ["topic"], registry=REGISTRY
)
HANDLER_SECONDS = Histogram(
    "dsr_handler_seconds", "Time to handle one event", ["topic", "event_type"], registry=REGISTRY
)
CONSUMER_LAG = Gauge(
    "dsr_consumer_lag", "Messages on a topic this service's consumer group has not yet handled", ["topic"], registry=REGISTRY
)
DLQ_SIZE = Gauge("dsr_dlq_size", "Messages waiting in a dead-letter topic", ["topic"], registry=REGISTRY)
OBLIGATIONS = Gauge("dsr_obligations", "Obligations by state (scheduler)", ["state"], registry=REGISTRY)
