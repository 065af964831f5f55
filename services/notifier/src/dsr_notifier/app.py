"""Composition root of the notifier service."""

from __future__ import annotations

from fastapi import FastAPI

from dsr_shared.clock import Clock
from dsr_shared.http import create_app
from dsr_shared.messaging import subscribe
from dsr_shared.runtime import Runtime
from dsr_shared.topics import Topic
from dsr_notifier.adapters.mailer import SmtpMailer
from dsr_notifier.adapters.rendering import Renderer
from dsr_notifier.adapters.sent import SentLog
from dsr_notifier.api import notification_router
from dsr_notifier.handlers import Sender, obligation_handlers
from dsr_notifier.settings import NotifierSettings

TOPICS = [Topic.OBLIGATIONS, Topic.NOTIFICATIONS]


def build_app(settings: NotifierSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or NotifierSettings()
    runtime = Runtime.build(settings, clock)
    sent = SentLog(runtime.db, runtime.clock)
    sender = Sender(runtime, sent, Renderer(settings.area, settings.mail_from), SmtpMailer(settings))
    subscribe(runtime.broker, settings, {Topic.OBLIGATIONS: obligation_handlers(runtime, sender)})

    async def indexes(_: Runtime) -> None:
        await sent.ensure_indexes()

    return create_app(
        runtime, title="DSR notifier service", topics=TOPICS, routers=[notification_router(runtime, sent)], on_startup=[indexes]
    )
