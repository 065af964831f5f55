"""Composition root of the scheduler service."""

from __future__ import annotations

from fastapi import FastAPI

from dsr_shared.contract.topics import Topic
from dsr_shared.platform.clock import Clock, every
from dsr_shared.platform.consuming import subscribe
from dsr_shared.platform.contacts import ContactsProjection
from dsr_shared.platform.http import create_app
from dsr_shared.platform.runtime import Runtime
from dsr_shared.platform.settings import ServiceSettings
from dsr_scheduler.adapters.obligations import ObligationStore
from dsr_scheduler.api import obligation_router
from dsr_scheduler.handlers import referral_handlers, register_handlers
from dsr_scheduler.service import Scheduler

TOPICS = [Topic.REFERRALS, Topic.RATINGS, Topic.OBLIGATIONS]


def build_app(settings: ServiceSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or ServiceSettings(service_name="scheduler")
    runtime = Runtime.build(settings, clock)
    store = ObligationStore(runtime.db)
    contacts = ContactsProjection(runtime.db)
    scheduler = Scheduler(
        area=settings.area,
        clock=runtime.clock,
        uow=runtime.uow,
        obligations=store,
        contacts=contacts,
        audit=runtime.audit,
        outgoing=runtime.outgoing,
    )
    subscribe(
        runtime.broker,
        settings,
        {Topic.REFERRALS: referral_handlers(scheduler), Topic.RATINGS: register_handlers(scheduler)},
        batches=runtime.uow,
    )

    async def indexes(_: Runtime) -> None:
        await store.ensure_indexes()
        await contacts.ensure_indexes()

    async def sweeper(_: Runtime) -> None:
        await every(runtime.clock, settings.sweep_every_seconds, scheduler.sweep, "obligation sweep")

    return create_app(
        runtime,
        title="DSR scheduler service",
        topics=TOPICS,
        routers=[obligation_router(scheduler)],
        on_startup=[indexes],
        background=[sweeper],
    )
