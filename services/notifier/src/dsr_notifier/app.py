"""Composition root of the notifier service."""

from __future__ import annotations

from fastapi import FastAPI

from dsr_shared.contract.topics import Topic
from dsr_shared.platform.clock import Clock, every
from dsr_shared.platform.consuming import subscribe
from dsr_shared.platform.http import create_app
from dsr_shared.platform.runtime import Runtime
from dsr_notifier.adapters.mailer import SmtpMailer
from dsr_notifier.adapters.notifications import NotificationStore
from dsr_notifier.adapters.projection import Projection
from dsr_notifier.adapters.rendering import Renderer
from dsr_notifier.api import notification_router
from dsr_notifier.handlers import obligation_handlers, rating_handlers, referral_handlers
from dsr_notifier.service import Courier, NotifierService
from dsr_notifier.settings import NotifierSettings

TOPICS = [Topic.REFERRALS, Topic.RATINGS, Topic.OBLIGATIONS, Topic.NOTIFICATIONS]


def build_app(settings: NotifierSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or NotifierSettings()
    runtime = Runtime.build(settings, clock)
    store = NotificationStore(runtime.db)
    projection = Projection(runtime.db)
    service = NotifierService(settings, runtime.clock, runtime.uow, store, projection)
    courier = Courier(service, runtime.outgoing, Renderer(settings.area, settings.mail_from), SmtpMailer(settings))
    subscribe(
        runtime.broker,
        settings,
        {
            Topic.REFERRALS: referral_handlers(service),
            Topic.RATINGS: rating_handlers(service),
            Topic.OBLIGATIONS: obligation_handlers(service),
        },
        batches=runtime.uow,
    )

    async def indexes(_: Runtime) -> None:
        await store.ensure_indexes()
        await projection.ensure_indexes()

    async def digest_sweeper(_: Runtime) -> None:
        await every(
            runtime.clock,
            settings.sweep_every_seconds,
            service.make_digests,
            "tracking meeting digests",
        )

    return create_app(
        runtime,
        title="DSR notifier service",
        topics=TOPICS,
        routers=[notification_router(runtime, service, projection.contacts)],
        on_startup=[indexes],
        background=[courier.run, digest_sweeper],
    )
