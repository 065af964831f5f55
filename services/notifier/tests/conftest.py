"""The notifier's fixture: the service as its own process with its own SMTP
server (notifier_harness.py has the handle the tests drive it by)."""

from __future__ import annotations

import pytest
from pymongo import AsyncMongoClient

from dsr_testing.notifier import FAST_RETRIES, NotifierService, area_profile_file
from dsr_testing.support import EventFeed, TopicReader


@pytest.fixture
async def notifier_service(service_process, infra, isolation, tmp_path):
    """Start the notifier on a test area profile, with its own SMTP sink
    (aiosmtpd, in its own process) unless `smtp_port` names another server."""
    from dsr_devstack import SmtpSink, free_port

    started: list[NotifierService] = []

    async def start(smtp_port: int | None = None, **env: str) -> NotifierService:
        sink = None
        if smtp_port is None:
            sink = SmtpSink(tmp_path / "smtp", free_port())
            sink.start()
            smtp_port = sink.port
        if "DSR_AREA_PROFILE" not in env:
            env["DSR_AREA_PROFILE"] = str(area_profile_file(tmp_path))
        env = {"DSR_SMTP_HOST": "127.0.0.1", "DSR_SMTP_PORT": str(smtp_port), **FAST_RETRIES, **env}
        process = service_process("notifier", **env)
        feed = await EventFeed(infra.kafka_bootstrap, f"{isolation}.", NotifierService.area).start()
        reader = TopicReader(infra.kafka_bootstrap, f"{isolation}.dsr.notifications")
        await reader.__aenter__()
        service = NotifierService(process, sink, feed, reader, AsyncMongoClient(infra.mongo_uri, tz_aware=True),
                                  f"{isolation}.", f"{isolation}_notifier")
        started.append(service)
        return service

    yield start
    for service in started:
        await service.reader.__aexit__(None, None, None)
        await service.feed.stop()
        await service.http.aclose()
        await service.mongo.close()
        if service.smtp:
            service.smtp.stop()
