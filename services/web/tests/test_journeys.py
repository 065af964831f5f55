"""The register in a browser, end to end on the real stack (the four
services, the web, the OpenID provider and the identity service, Kafka,
SecantusDB): a referrer refers someone, fixing a mistake on the way; the DSR
team sees them, rates them red and sees the C(E)TR due; an admission makes
them blue, a discharge amber; green; a removal request and the removal.
Done with the keyboard alone, with axe-core on every page and a screenshot
of each (under the test's output folder). What a referrer may not see is
refused by the server."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from dsr_testing.support import NHS_NUMBERS, EventFeed, eventually
from dsr_testing.web.harness import PageChecks, sign_in
from dsr_testing.web.keys import activate, choose, type_into
from dsr_testing.web.referral import PERSON, next_page, refer

# A loaded machine starts the whole system slowly; the journey itself takes a minute or two.
pytestmark = [pytest.mark.stack, pytest.mark.timeout(900)]

NHS_NUMBER = "9434765870"
REFERRER = "nurse.web@example.org"
TEAM = "team.web@example.org"
OTHER = "other.referrer@example.org"


async def open_record(page, register_id: str, expect: str, checks: PageChecks, name: str) -> None:
    """The record, reloaded until it says `expect` (the services catch up through Kafka)."""

    async def shows() -> bool:
        await page.goto(f"/people/{register_id}")
        return expect in await page.locator("main").inner_text()

    await eventually(shows, timeout=90, interval=1)
    await checks.check(page, name)


async def change_rating(page, register_id: str, rating: str, why: str) -> None:
    await activate(page, f"a[href='/people/{register_id}/rating']")
    await choose(page, "rating", rating)
    await type_into(page, "#rationale", why)
    await choose(page, "agreed_with_person", "yes")
    await next_page(page)
    assert f"Rating changed to {rating}" in await page.locator(".nhsuk-notification-banner").inner_text()


async def test_referral_to_removal_with_the_keyboard_alone(derbyshire, browser, tmp_path):
    checks = PageChecks(tmp_path / "screenshots", personal=[PERSON["given"], PERSON["family"], NHS_NUMBER])
    referrer, page = await sign_in(browser, derbyshire, REFERRER, ("referrer",))
    await checks.check(page, "my people (empty)")
    register_id = await refer(page, checks, NHS_NUMBER, REFERRER)

    # The referrer sees their person, with their details.
    await open_record(page, register_id, "Amber", checks, "record as the referrer")
    assert PERSON["family"] in await page.locator("#demographics + dl").inner_text()
    await page.goto("/my-people")
    assert register_id in await page.locator("main").inner_text()
    await checks.check(page, "my people")

    # What a referrer may not see is refused by the server, not just hidden.
    for path, status in (
        ("/register", 403),
        ("/queue", 403),
        ("/users", 403),
        ("/tracking-meeting", 403),
        ("/notifications", 403),
    ):
        response = await page.goto(path)
        assert response.status == status, path
    await checks.check(page, "refused page")

    # The DSR team: the register, the record, red and the C(E)TR due.
    team, page = await sign_in(browser, derbyshire, TEAM, ("dsr_team",))
    await checks.check(page, "work queue")
    await activate(page, "a.nhsuk-header__navigation-link[href='/register']")
    await checks.check(page, "register")
    await type_into(page, "#query", register_id)
    await activate(page, "form[action='/register/search'] button")
    assert page.url.endswith(f"/people/{register_id}")
    await checks.check(page, "record as the DSR team")
    await change_rating(page, register_id, "red", "Crisis: placement ended.")
    await open_record(page, register_id, "Community C(E)TR due by", checks, "record red with the C(E)TR due")

    # Search by NHS number: the result page, no NHS number in its address.
    await page.goto("/register")
    await type_into(page, "#query", NHS_NUMBER)
    await activate(page, "form[action='/register/search'] button")
    assert register_id in await page.locator("main").inner_text()
    await checks.check(page, "search results")

    # An admission on the hospital topic: blue. The discharge: amber.
    feed = await EventFeed(derbyshire.kafka_bootstrap, f"{derbyshire.isolation}.", derbyshire.area_code).start()
    try:
        admitted = datetime.now(timezone.utc)  # after the change to red: the newest fact wins
        await feed.publish(
            "dsr.hospital.admissions",
            "Admitted",
            {
                "nhs_number": NHS_NUMBER,
                "admitted_at": admitted.isoformat(),
                "hospital_ods_code": "RXM",
                "bed_type": "learning_disability",
                "legal_basis": "section_2",
            },
            key=NHS_NUMBER,
        )
        await open_record(
            page, register_id, "In a learning disability or mental health hospital", checks, "record blue"
        )
        await feed.publish(
            "dsr.hospital.discharges",
            "Discharged",
            {
                "nhs_number": NHS_NUMBER,
                "discharged_at": datetime.now(timezone.utc).isoformat(),
                "hospital_ods_code": "RXM",
                "destination": "home",
            },
            key=NHS_NUMBER,
        )
        await open_record(page, register_id, "Post-discharge DSP meeting due by", checks, "record after discharge")
    finally:
        await feed.stop()

    # Green, with an update.
    await change_rating(page, register_id, "green", "Settled at home.")
    await type_into(page, "#update-text", "Settled; weekly visits continue.")
    await activate(page, f"form[action='/people/{register_id}/updates'] button")
    assert "Settled; weekly visits continue." in await page.locator("#latest-update + .nhsuk-card").inner_text()
    await checks.check(page, "record green")

    # The referrer asks for removal; the DSR team sees it waiting and removes.
    page = await referrer.new_page()
    await page.goto(f"/people/{register_id}")
    await activate(page, f"a[href='/people/{register_id}/removal']")
    await checks.check(page, "ask for removal")
    await type_into(page, "#reason", "Agreed with the person and family at a review on Monday.")
    await choose(page, "best-interest-meeting", "no")
    await next_page(page)
    assert "Removal requested" in await page.locator(".nhsuk-notification-banner").inner_text()

    page = await team.new_page()
    await page.goto("/queue")
    await eventually(lambda: page.locator("#removals + ul").inner_text(), timeout=30)
    assert register_id in await page.locator("#removals + ul").inner_text()
    await activate(page, f"#removals + ul a[href='/people/{register_id}']")
    await activate(page, f"a[href='/people/{register_id}/removal']")
    await checks.check(page, "remove")
    await type_into(page, "#reason", "Removal agreed: settled for a month.")
    await next_page(page)
    await open_record(page, register_id, "Removed from the register", checks, "record removed")
    await referrer.close()
    await team.close()


async def test_a_referrer_cannot_open_someone_elses_record(derbyshire, browser, tmp_path):
    checks = PageChecks(tmp_path / "screenshots")
    first = "first.referrer@example.org"
    context, page = await sign_in(browser, derbyshire, first, ("referrer",))
    register_id = await refer(page, PageChecks(tmp_path / "referral"), NHS_NUMBERS[2], first)
    await context.close()

    other, page = await sign_in(browser, derbyshire, OTHER, ("referrer",))
    for path in (f"/people/{register_id}", f"/people/{register_id}/rating", f"/people/{register_id}/removal"):
        response = await page.goto(path)
        assert response.status == 404, path
    await checks.check(page, "not found")
    await other.close()


async def test_someone_without_a_role_is_told_how_to_ask(derbyshire, browser, tmp_path):
    checks = PageChecks(tmp_path / "screenshots")
    context, page = await sign_in(browser, derbyshire, "new.starter@example.org", ())
    assert page.url.endswith("/no-access")
    await checks.check(page, "no access")
    for path in ("/my-people", "/referral", "/register"):
        response = await page.goto(path)
        assert response.status == 403, path
    # Signing out ends the session here and at the provider.
    await page.goto("/no-access")
    await activate(page, "button.nhsuk-header__account-button")
    await page.locator("button[type=submit]").first.click()
    await page.wait_for_url(f"{derbyshire.web}/signed-out")
    await checks.check(page, "signed out")
    await page.goto("/my-people")
    assert page.url.startswith(derbyshire.provider_url), page.url  # signed out: sign in again
    await context.close()
