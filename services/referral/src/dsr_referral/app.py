"""Composition root of the referral service."""

from __future__ import annotations

from fastapi import FastAPI

from dsr_shared.clock import Clock, every
from dsr_shared.contacts import ContactsProjection, contacts_handlers
from dsr_shared.events import ProfessionalsChanged, ReferralAccepted
from dsr_shared.http import create_app
from dsr_shared.messaging import subscribe
from dsr_shared.runtime import Runtime
from dsr_shared.settings import ServiceSettings
from dsr_shared.topics import Topic
from dsr_referral.adapters.referrals import PeopleDirectory, ReferralStore
from dsr_referral.api import people_router, referral_router
from dsr_referral.demographics_api import demographics_router
from dsr_referral.handlers import discharge_handlers, referral_handlers, removal_handlers
from dsr_referral.intake import Intake
from dsr_referral.people import People
from dsr_referral.sweeper import announce_age_bands

TOPICS = [Topic.REFERRALS_SUBMITTED, Topic.REFERRALS, Topic.DISCHARGES, Topic.RATINGS]


def build_app(settings: ServiceSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or ServiceSettings(service_name="referral")
    runtime = Runtime.build(settings, clock)
    store = ReferralStore(runtime.db)
    intake = Intake(runtime, store)
    contacts = ContactsProjection(runtime.db)
    people = People(runtime, store, contacts)
    # Who may see whom: its own ReferralAccepted, and the register's ProfessionalsChanged.
    contact_events = contacts_handlers(contacts, runtime.uow.run_once)
    subscribe(
        runtime.broker,
        settings,
        {
            Topic.REFERRALS_SUBMITTED: referral_handlers(intake),
            Topic.REFERRALS: {ReferralAccepted.EVENT_TYPE: contact_events[ReferralAccepted.EVENT_TYPE]},
            Topic.DISCHARGES: discharge_handlers(intake),
            Topic.RATINGS: {
                **removal_handlers(people),
                ProfessionalsChanged.EVENT_TYPE: contact_events[ProfessionalsChanged.EVENT_TYPE],
            },
        },
    )

    async def indexes(_: Runtime) -> None:
        await store.ensure_indexes()
        await contacts.ensure_indexes()

    async def age_band_sweeper(_: Runtime) -> None:
        await every(runtime.clock, settings.sweep_every_seconds, lambda: announce_age_bands(runtime, store), "age bands")

    return create_app(
        runtime,
        title="DSR referral service",
        topics=TOPICS,
        routers=[referral_router(intake), people_router(people), demographics_router(people, PeopleDirectory(store))],
        on_startup=[indexes],
        background=[age_band_sweeper],
    )
