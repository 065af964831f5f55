"""The notifier's fixture: the service as its own process with its own SMTP
server (dsr_testing.notifier has the handle the tests drive it by)."""

from __future__ import annotations

import pytest

from dsr_testing.notifier import FAST_RETRIES, NotifierService, area_profile_file


@pytest.fixture
async def notifier_service(service_harness, tmp_path):
    """Start the notifier on a test area profile, with its own SMTP sink
    (aiosmtpd, in its own process) unless `smtp_port` names another server."""
    from dsr_devstack import SmtpSink, free_port

    sinks: list[SmtpSink] = []

    async def start(smtp_port: int | None = None, **env: str) -> NotifierService:
        sink = None
        if smtp_port is None:
            sink = SmtpSink(tmp_path / "smtp", free_port())
            sink.start()
            sinks.append(sink)
            smtp_port = sink.port
        profile = env.pop("DSR_AREA_PROFILE", None) or str(area_profile_file(tmp_path))
        env = {"DSR_SMTP_HOST": "127.0.0.1", "DSR_SMTP_PORT": str(smtp_port), **FAST_RETRIES, **env}
        service = await service_harness.start(NotifierService, "notifier", profile=profile, **env)
        service.smtp = sink
        return service

    yield start
    for sink in sinks:
        sink.stop()
