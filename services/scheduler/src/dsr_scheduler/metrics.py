"""The scheduler's own metrics, on the shared registry (/metrics)."""

from __future__ import annotations

from prometheus_client import Gauge

from dsr_shared.platform.metrics import REGISTRY

OBLIGATIONS = Gauge("dsr_obligations", "Obligations by state (scheduler)", ["state"], registry=REGISTRY)
