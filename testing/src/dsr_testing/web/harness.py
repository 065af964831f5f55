"""The web tests' handles: one instance of the whole system with the web in
front (the four services, the SMTP sink and the web as separate processes on
the session's Kafka and database); Chromium with axe-core checks and a
screenshot of each page; signing a browser in as a persona."""

from __future__ import annotations

import asyncio
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from axe_playwright_python.async_playwright import Axe

from dsr_devstack import WEB_CLIENT_ID, ServiceProcess, SmtpSink, free_port
from dsr_testing import support
from dsr_testing.stack import SERVICES, register_processes

CHROMIUM = "/usr/bin/chromium"
SESSION_SECRET = "web-tests-session-secret-0123456789abcdef"
START_TIMEOUT = 180.0


@dataclass
class RegisterInstance:
    smtp: SmtpSink
    services: dict[str, ServiceProcess]
    profile: str
    isolation: str
    kafka_bootstrap: str
    provider_url: str

    @property
    def area_code(self) -> str:
        from dsr_shared.rules.area import load_profile

        return load_profile(self.profile).code

    @property
    def web(self) -> str:
        return self.services["web"].url

    def url(self, service: str) -> str:
        return self.services[service].url


def start_instance(infra, identity, root: Path, profile: str, isolation: str | None = None) -> RegisterInstance:
    """The four services start side by side (then the web): a loaded machine
    starts them in the time of the slowest, not of all four."""
    isolation = isolation or f"w{uuid.uuid4().hex[:10]}"
    smtp = SmtpSink(root / "smtp", free_port())
    smtp.start()
    started: dict[str, ServiceProcess] = {}
    instance = RegisterInstance(smtp, started, profile, isolation, infra.kafka_bootstrap, identity.provider.url)
    started.update(
        register_processes(infra, identity, isolation, root, smtp.port, profile=profile, start_timeout=START_TIMEOUT)
    )
    port = free_port()
    env = {
        "DSR_HTTP_PORT": str(port),
        "DSR_AREA_PROFILE": profile,
        "DSR_SESSION_SECRET": SESSION_SECRET,
        "DSR_COOKIE_SECURE": "false",
        "DSR_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "DSR_IDENTITY_URL": identity.service.url,
        "DSR_OIDC_ISSUER": identity.provider.issuer,
        "DSR_OIDC_CLIENT_ID": WEB_CLIENT_ID,
        "DSR_OIDC_CLIENT_SECRET": "web-client-secret",
        **{f"DSR_{name.upper()}_URL": started[name].url for name in SERVICES},
    }
    web = ServiceProcess("web", "dsr_web", port, env, root / "web.log", start_timeout=START_TIMEOUT)
    try:
        with ThreadPoolExecutor(len(SERVICES)) as pool:
            for future in [pool.submit(process.start) for process in started.values()]:
                future.result()
        started["web"] = web
        web.start()
    except BaseException:
        stop_instance(instance)
        raise
    return instance


def stop_instance(instance: RegisterInstance) -> None:
    for process in reversed(list(instance.services.values())):
        process.stop()
    instance.smtp.stop()


_axe = Axe()


@dataclass
class PageChecks:
    """What every page must be: no axe-core violation, one h1, a skip link,
    no personal data in its address or title; kept as a screenshot."""

    shots: Path
    personal: list[str] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)

    async def check(self, page, name: str) -> None:
        results = await _axe.run(page)
        assert results.violations_count == 0, f"{name}: {results.generate_report()}"
        assert await page.locator("h1").count() == 1, f"{name}: not one h1"
        assert await page.locator("a.nhsuk-skip-link[href='#maincontent']").count() == 1, f"{name}: no skip link"
        title = await page.title()
        for value in self.personal:
            assert value.lower() not in page.url.lower(), f"{name}: {value!r} in the address"
            assert value.lower() not in title.lower(), f"{name}: {value!r} in the title"
        self.shots.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        await page.screenshot(path=str(self.shots / f"{len(self.seen) + 1:02d}-{slug}.png"), full_page=True)
        self.seen.append(name)


async def sign_in(browser, instance: RegisterInstance, subject: str, roles: tuple[str, ...], **claims: str):
    """A browser signed in as `subject` the way a person signs in: at the
    provider's sign-in form, through the web's authorization code flow. The
    directory gives `subject` exactly `roles` first (a bootstrap administrator
    through the identity service's API)."""
    client = support.identity()
    if claims:
        await asyncio.to_thread(client.id_token, subject, **claims)
    await asyncio.to_thread(client.token, roles, subject)
    context = await browser.new_context(base_url=instance.web)
    page = await context.new_page()
    await page.goto("/sign-in")
    await page.fill("input[name=sub]", subject)
    await page.locator("form button, form input[type=submit]").first.click()
    await page.wait_for_url(f"{instance.web}/**")
    return context, page
