"""Composition root of the hospital gateway."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from dsr_shared.contract.topics import Topic
from dsr_shared.platform.clock import Clock, every
from dsr_shared.platform.http import create_app
from dsr_shared.platform.runtime import Runtime
from dsr_hospital_gateway.adapters import mllp
from dsr_hospital_gateway.adapters.stores import ControlIds, Quarantine
from dsr_hospital_gateway.api import fhir_router, quarantine_router
from dsr_hospital_gateway.service import Gateway
from dsr_hospital_gateway.settings import GatewaySettings

TOPICS = [Topic.ADMISSIONS, Topic.DISCHARGES]
RETENTION_SWEEP_SECONDS = 3600


def build_app(settings: GatewaySettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    runtime = Runtime.build(settings, clock)
    control_ids = ControlIds(runtime.db, timedelta(days=settings.control_id_retention_days))
    quarantine = Quarantine(runtime.db, timedelta(days=settings.quarantine_retention_days))
    gateway = Gateway(runtime, settings, control_ids, quarantine)
    listener = {}

    async def start(_: Runtime) -> None:
        await control_ids.ensure_indexes()
        await quarantine.ensure_indexes()
        listener["server"] = await mllp.listen(gateway.hl7, settings)

    async def serve_mllp(_: Runtime) -> None:
        await mllp.serve(listener["server"], settings)

    async def retention(_: Runtime) -> None:
        await every(runtime.clock, RETENTION_SWEEP_SECONDS, gateway.expire, "retention")

    return create_app(
        runtime,
        title="DSR hospital gateway",
        topics=TOPICS,
        routers=[fhir_router(gateway), quarantine_router(quarantine, gateway)],
        on_startup=[start],
        background=[serve_mllp, retention],
    )
