"""The gateway's own metrics, on the shared registry (/metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from dsr_shared.platform.metrics import REGISTRY

MESSAGES = Counter(
    "dsr_gateway_messages",
    "Hospital messages by channel (mllp, fhir), message type and outcome "
    "(published, not_in_scope, duplicate, refused, unparseable, failed)",
    ["channel", "message_type", "outcome"],
    registry=REGISTRY,
)
REFUSALS = Counter(
    "dsr_gateway_refusals",
    "Messages refused or not read, by reason code (never the content)",
    ["channel", "reason"],
    registry=REGISTRY,
)
ROUND_TRIP_SECONDS = Histogram(
    "dsr_gateway_seconds",
    "From a message read to its answer (ACK or HTTP response)",
    ["channel"],
    registry=REGISTRY,
)
