"""Prometheus metrics every service exposes on /metrics. One registry per
process: metrics are created once, at import."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

EVENTS_CONSUMED = Counter(
    "dsr_events_consumed",
    "Events taken from a topic, by outcome (processed, duplicate, skipped, unknown, dead_lettered, retried)",
    ["topic", "event_type", "outcome"],
    registry=REGISTRY,
)
EVENTS_PUBLISHED = Counter(
    "dsr_events_published", "Events published, by topic", ["topic", "event_type"], registry=REGISTRY
)
DEAD_LETTERED = Counter("dsr_dead_lettered", "Messages sent to a .dlq, by source topic", ["topic"], registry=REGISTRY)
DEAD_LETTERED_EXCERPTS = Counter(
    "dsr_dead_lettered_excerpts",
    "Messages too large to copy whole to a .dlq: only their first bytes went, by source topic",
    ["topic"],
    registry=REGISTRY,
)
HANDLER_SECONDS = Histogram(
    "dsr_handler_seconds", "Time to handle one event", ["topic", "event_type"], registry=REGISTRY
)
CONSUMER_LAG = Gauge(
    "dsr_consumer_lag",
    "Messages on a topic this service's consumer group has not yet handled",
    ["topic"],
    registry=REGISTRY,
)
DLQ_SIZE = Gauge("dsr_dlq_size", "Messages waiting in a dead-letter topic", ["topic"], registry=REGISTRY)
STALLED_PARTITIONS = Gauge(
    "dsr_consumer_stalled_partitions",
    "Partitions with lag whose committed offset has not moved for DSR_CONSUMER_STALL_AFTER_SECONDS",
    ["topic"],
    registry=REGISTRY,
)
OUTBOX_PARKED = Gauge(
    "dsr_outbox_parked", "Outbox entries that could not be published and wait for an operator", registry=REGISTRY
)
OUTBOX_PARKINGS = Counter(
    "dsr_outbox_parkings",
    "Outbox entries parked because they could not be published, by topic",
    ["topic"],
    registry=REGISTRY,
)
PUBLISH_DEFERRED = Counter(
    "dsr_publish_deferred",
    "Commits whose events were not published within DSR_PUBLISH_WAIT_SECONDS: left to the outbox relay",
    registry=REGISTRY,
)
BATCH_SIZE = Histogram(
    "dsr_batch_events",
    "Events handled in one shared transaction (services whose consumer batches)",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200),
    registry=REGISTRY,
)
BATCHES_BROKEN = Counter(
    "dsr_batches_broken",
    "Shared transactions rolled back because an effect failed: their events were handled one at a time",
    registry=REGISTRY,
)
