"""Composition root of the referral service."""

from __future__ import annotations

from fastapi import FastAPI

from dsr_shared.contract.events import ProfessionalsChanged, ReferralAccepted
from dsr_shared.contract.topics import Topic
from dsr_shared.platform.clock import Clock, every
from dsr_shared.platform.consuming import subscribe
from dsr_shared.platform.contacts import ContactsProjection, contacts_handlers
from dsr_shared.platform.http import create_app
from dsr_shared.platform.runtime import Runtime
from dsr_shared.platform.settings import ServiceSettings
from dsr_referral.adapters.referrals import ReferralStore
from dsr_referral.api import demographics_router, people_router, referral_router
from dsr_referral.handlers import discharge_handlers, referral_handlers, register_handlers
from dsr_referral.service import AgeBands, Discharges, Intake, People, Ports

TOPICS = [Topic.REFERRALS_SUBMITTED, Topic.REFERRALS, Topic.DISCHARGES, Topic.RATINGS]


def build_app(settings: ServiceSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or ServiceSettings(service_name="referral")
    runtime = Runtime.build(settings, clock)
    store = ReferralStore(runtime.db)
    contacts = ContactsProjection(runtime.db)
    ports = Ports.of(runtime, store, contacts)
    intake, people = Intake(ports), People(ports)
    # Who may see whom: its own ReferralAccepted, and the register's ProfessionalsChanged.
    contact_events = contacts_handlers(contacts, runtime.uow.run_once)
    subscribe(
        runtime.broker,
        settings,
        {
            Topic.REFERRALS_SUBMITTED: referral_handlers(intake),
            Topic.REFERRALS: {ReferralAccepted.EVENT_TYPE: contact_events[ReferralAccepted.EVENT_TYPE]},
            Topic.DISCHARGES: discharge_handlers(Discharges(ports)),
            Topic.RATINGS: {
                **register_handlers(people),
                ProfessionalsChanged.EVENT_TYPE: contact_events[ProfessionalsChanged.EVENT_TYPE],
            },
        },
        batches=runtime.uow,
    )

    async def indexes(_: Runtime) -> None:
        await store.ensure_indexes()
        await contacts.ensure_indexes()

    age_bands = AgeBands(ports)

    async def age_band_sweeper(_: Runtime) -> None:
        await every(runtime.clock, settings.sweep_every_seconds, age_bands.announce, "age bands")

    return create_app(
        runtime,
        title="DSR referral service",
        topics=TOPICS,
        routers=[
            referral_router(intake, runtime.audit),
            people_router(people, runtime.audit),
            demographics_router(people, runtime.audit),
        ],
        on_startup=[indexes],
        background=[age_band_sweeper],
    )
