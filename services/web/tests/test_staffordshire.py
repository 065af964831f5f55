"""The other area profile: Staffordshire holds a Thursday tracking meeting.
The DSR team refers someone from Stoke (the intake's geography is the
area's), finds their record, and prints the agenda; axe-core on every page."""

from __future__ import annotations

import pytest

from dsr_testing.support import NHS_NUMBERS
from dsr_testing.web.harness import PageChecks, sign_in
from dsr_testing.web.keys import activate
from dsr_testing.web.referral import refer

pytestmark = [pytest.mark.stack, pytest.mark.timeout(900)]


async def test_staffordshire_refers_and_prints_the_tracking_meeting(staffordshire, browser, tmp_path):
    checks = PageChecks(tmp_path / "screenshots", personal=["Webbtest", NHS_NUMBERS[3]])
    team = "team.staffs@example.org"
    context, page = await sign_in(browser, staffordshire, team, ("dsr_team", "dsr_admin"))
    await checks.check(page, "work queue")
    register_id = await refer(page, checks, NHS_NUMBERS[3], team, postcode="ST4 1AA")
    await activate(page, f"a[href='/people/{register_id}']")
    await checks.check(page, "record")

    await page.goto("/tracking-meeting")
    lede = await page.locator(".nhsuk-lede-text").inner_text()
    assert lede.startswith("Agenda for the meeting on Thu"), lede
    await checks.check(page, "tracking meeting")
    await page.emulate_media(media="print")
    assert not await page.locator("header.nhsuk-header").is_visible()
    await page.emulate_media(media="screen")

    await page.goto("/users")
    assert team in await page.locator("main").inner_text()
    await checks.check(page, "users")
    await page.goto("/notifications")
    await checks.check(page, "notifications")
    await context.close()
