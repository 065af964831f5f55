"""Composition root of the rating service."""

from __future__ import annotations

from fastapi import FastAPI

from dsr_shared.contract.topics import Topic
from dsr_shared.platform.clock import Clock, every
from dsr_shared.platform.consuming import subscribe
from dsr_shared.platform.http import create_app
from dsr_shared.platform.runtime import Runtime
from dsr_shared.platform.settings import ServiceSettings
from dsr_rating.adapters.people import PeopleStore
from dsr_rating.api import hospital_merges_router, register_router
from dsr_rating.handlers import hospital_handlers, own_log_handlers, referral_handlers
from dsr_rating.service import RatingService
from dsr_rating.worklists import worklist_router

TOPICS = [Topic.REFERRALS, Topic.RATINGS, Topic.ADMISSIONS, Topic.DISCHARGES]


def build_app(settings: ServiceSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or ServiceSettings(service_name="rating")
    runtime = Runtime.build(settings, clock)
    people = PeopleStore(runtime.db)
    service = RatingService(
        runtime.uow,
        people,
        runtime.audit,
        runtime.clock,
        settings.area,
        runtime.outgoing,
        settings.nhs_hash_key.get_secret_value(),
    )
    hospital = hospital_handlers(service)
    subscribe(
        runtime.broker,
        settings,
        {
            Topic.REFERRALS: referral_handlers(service),
            Topic.ADMISSIONS: hospital,
            Topic.DISCHARGES: hospital,
            Topic.RATINGS: own_log_handlers(service),
        },
        batches=runtime.uow,
        prepare=service.prepare_batch,
    )

    async def indexes(_: Runtime) -> None:
        await people.ensure_indexes()

    async def green_month_sweeper(_: Runtime) -> None:
        await every(runtime.clock, settings.sweep_every_seconds, service.end_green_months, "green months")

    return create_app(
        runtime,
        title="DSR rating service",
        topics=TOPICS,
        routers=[register_router(service), worklist_router(service), hospital_merges_router(service)],
        on_startup=[indexes],
        background=[green_month_sweeper],
    )
