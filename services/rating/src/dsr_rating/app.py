"""Composition root of the rating service."""

from __future__ import annotations

from fastapi import FastAPI

from dsr_shared.clock import Clock
from dsr_shared.http import create_app
from dsr_shared.messaging import subscribe
from dsr_shared.runtime import Runtime
from dsr_shared.settings import ServiceSettings
from dsr_shared.topics import Topic
from dsr_rating.adapters.people import PeopleStore
from dsr_rating.api import register_router
from dsr_rating.handlers import referral_handlers

TOPICS = [Topic.REFERRALS, Topic.RATINGS, Topic.ADMISSIONS, Topic.DISCHARGES]


def build_app(settings: ServiceSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or ServiceSettings(service_name="rating")
    runtime = Runtime.build(settings, clock)
    people = PeopleStore(runtime.db)
    subscribe(runtime.broker, settings, Topic.REFERRALS, referral_handlers(runtime, people))

    async def indexes(_: Runtime) -> None:
        await people.ensure_indexes()

    return create_app(
        runtime, title="DSR rating service", topics=TOPICS, routers=[register_router(runtime, people)], on_startup=[indexes]
    )
