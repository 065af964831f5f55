"""The referral form, filled in with the keyboard alone, as a journey's first step."""

from __future__ import annotations

import re

from dsr_testing.web.harness import PageChecks
from dsr_testing.web.keys import activate, choose, fill_date, focus, tick, type_into

PERSON = {"given": "Jordan", "family": "Webbtest"}


async def next_page(page) -> None:
    await activate(page, "main form button.nhsuk-button")


async def refer(page, checks: PageChecks, nhs_number: str, referrer: str, postcode: str = "DE1 1AA") -> str:
    """The referral form with the keyboard: a page error and an intake refusal fixed on the way."""
    await activate(page, "a[href='/referral']")
    await checks.check(page, "referral start")
    await activate(page, "a[href='/referral/person']")
    await type_into(page, "#person-given-name", PERSON["given"])
    await type_into(page, "#person-family-name", PERSON["family"])
    await fill_date(page, "person-date-of-birth", 12, 4, 1990)
    await type_into(page, "#person-nhs-number", "1234567890")
    await next_page(page)
    # The page's own check: the error summary links to the field.
    assert "NHS number must be a valid" in await page.locator(".nhsuk-error-summary").inner_text()
    assert (await page.title()).startswith("Error:")
    await checks.check(page, "referral person with an error")
    await type_into(page, "#person-nhs-number", nhs_number)
    await next_page(page)

    await type_into(page, "#person-address-line1", "1 Example Street")
    await type_into(page, "#person-address-town", "Elsewhere")
    await type_into(page, "#person-address-postcode", "ZZ1 1ZZ")  # outside the area: the intake refuses it
    await checks.check(page, "referral address")
    await next_page(page)

    await choose(page, "diagnosis-condition", "autism")
    await choose(page, "diagnosis-confirmed", "yes")
    await type_into(page, "#diagnosis-evidence-reference", "Diagnostic report, March 2024")
    await checks.check(page, "referral diagnosis")
    await next_page(page)

    await choose(page, "basis", "consent")
    await type_into(page, "#consent-given-by", "the person")
    await fill_date(page, "consent-given-on", 5, 1, 2026)
    await checks.check(page, "referral consent")
    await next_page(page)

    # About you: filled in from the sign-in.
    assert await page.input_value("#referrer-email") == referrer
    await type_into(page, "#referrer-role", "Community nurse")
    await type_into(page, "#referrer-organisation", "Community trust")
    await checks.check(page, "referral referrer")
    await next_page(page)

    await type_into(page, "#professionals-0-name", "Pat Social")
    await type_into(page, "#professionals-0-role", "Social worker")
    await type_into(page, "#professionals-0-email", "pat.social@example.org")
    await tick(page, "#professionals-0-case-holder")
    await checks.check(page, "referral professionals")
    await next_page(page)

    await type_into(page, "#current-situation", "Placement breaking down.")
    await type_into(page, "#risks", "Risk of admission within weeks.")
    await checks.check(page, "referral situation")
    await next_page(page)

    await choose(page, "proposed-rating", "amber")
    await type_into(page, "#rating-rationale", "Wellbeing deteriorating after a change of placement.")
    await choose(page, "inpatient-now", "no")
    await checks.check(page, "referral rating")
    await next_page(page)

    await checks.check(page, "check your answers")
    await activate(page, "form[action='/referral/submit'] button")
    # The intake's reason, on its answer.
    summary = page.locator(".nhsuk-error-summary")
    assert "no qualifying connection" in await summary.inner_text()
    await checks.check(page, "check your answers with the intake's reason")
    await focus(page, ".nhsuk-error-summary a[href='#answer-person-address-postcode']")
    await activate(page, "button[name=change][value=address]")
    assert "no qualifying connection" in await page.locator("#person-address-postcode-error").inner_text()
    await type_into(page, "#person-address-postcode", postcode)
    await next_page(page)
    await activate(page, "form[action='/referral/submit'] button")

    panel = page.locator(".nhsuk-panel")
    assert "Referral accepted" in await panel.inner_text()
    register_id = (await page.locator(".dsr-register-id").inner_text()).strip()
    assert re.fullmatch(r"[A-Z0-9]+-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]", register_id)
    await checks.check(page, "referral accepted")
    return register_id
