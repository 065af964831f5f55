"""The web's pure parts, fast: wording, the referral form, sealed drafts,
fail-closed settings, and the NHS.UK frontend pair."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from importlib.metadata import version

import pytest
from dsr_web.assets import SERVICE_ROOT, frontend_dist
from dsr_web.domain import referral_form as rf
from dsr_web.domain.listing import (
    chunks,
    due_by_person,
    looks_like_nhs_number,
    looks_like_register_id,
    page_count,
    page_of,
    pressing_ids,
)
from dsr_web.domain.wording import obligation_words, when
from dsr_web.drafts import Drafts
from dsr_web.settings import WebSettings

# nhsuk-frontend-jinja -> the nhsuk-frontend release it is built for (its README's table).
JINJA_FOR_FRONTEND = {"0.10.2": "10.6.1"}


def test_the_frontend_assets_match_the_jinja_templates():
    wanted = JINJA_FOR_FRONTEND[version("nhsuk-frontend-jinja")]
    declared = json.loads((SERVICE_ROOT / "package.json").read_text())["dependencies"]["nhsuk-frontend"]
    installed = json.loads((SERVICE_ROOT / "node_modules" / "nhsuk-frontend" / "package.json").read_text())["version"]
    assert declared == installed == wanted
    assert f'--nhsuk-frontend-version:"{wanted}"' in (frontend_dist() / "nhsuk-frontend.min.css").read_text()


def test_deadlines_in_plain_words_in_the_area_time_zone():
    # 17:00 in London in winter is 17:00 UTC; in summer 16:00 UTC.
    winter = {"title": "Community C(E)TR", "state": "open", "due_at": "2025-12-03T17:00:00+00:00"}
    assert (
        obligation_words(winter, "Europe/London", today=date(2025, 12, 1)) == "Community C(E)TR due by Wed 3 Dec, 5pm"
    )
    summer = {"title": "Initial DSP meeting", "state": "overdue", "due_at": "2026-07-01T08:30:00+00:00"}
    assert (
        obligation_words(summer, "Europe/London", today=date(2026, 6, 1))
        == "Initial DSP meeting overdue since Wed 1 Jul, 9:30am"
    )
    assert (
        when(datetime(2027, 1, 4, 12, tzinfo=timezone.utc), "Europe/London", today=date(2026, 12, 1))
        == "Mon 4 Jan 2027, 12pm"
    )


def _answers(**changes: str) -> dict[str, str]:
    answers = {
        "person.given_name": "Ada",
        "person.family_name": "Ashdale",
        "person.date_of_birth-day": "3",
        "person.date_of_birth-month": "2",
        "person.date_of_birth-year": "2001",
        "person.nhs_number": "943 476 5919",
        "person.address.line1": "1 Road",
        "person.address.postcode": "de1 1aa",
        "diagnosis.condition": "autism",
        "diagnosis.confirmed": "yes",
        "diagnosis.evidence_reference": "Report",
        "basis": "best_interest",
        "best_interest_decision.decision_maker": "Dr Who",
        "best_interest_decision.decided_on-day": "1",
        "best_interest_decision.decided_on-month": "1",
        "best_interest_decision.decided_on-year": "2026",
        "referrer.name": "Sam",
        "referrer.role": "Nurse",
        "referrer.organisation": "Trust",
        "referrer.email": "sam@example.org",
        "professionals.0.name": "Pat",
        "professionals.0.role": "Social worker",
        "professionals.0.case_holder": "yes",
        "proposed_rating": "red",
        "rating_rationale": "Crisis",
        "inpatient_now": "no",
    }
    return {**answers, **changes}


def test_the_answers_make_the_intakes_referral():
    body = rf.referral_body(_answers(), date(2026, 2, 1), "sub-1")
    assert body["person"]["date_of_birth"] == "2001-02-03"
    assert body["person"]["nhs_number"] == "9434765919"
    assert body["person"]["address"]["postcode"] == "DE1 1AA"
    assert body["best_interest_decision"] == {"decision_maker": "Dr Who", "decided_on": "2026-01-01"}
    assert "consent" not in body
    assert body["professionals"] == [
        {
            "name": "Pat",
            "role": "Social worker",
            "organisation": None,
            "email": None,
            "phone": None,
            "case_holder": True,
        }
    ]
    assert body["proposed_rating"] == "red" and body["inpatient_now"] is False


def test_each_page_says_what_is_wrong_with_its_answers():
    today = date(2026, 2, 1)
    person = rf.STEP_BY_SLUG["person"]
    errors = rf.step_errors(
        person,
        _answers(
            **{"person.nhs_number": "1234567890", "person.date_of_birth-day": "31", "person.date_of_birth-month": "2"}
        ),
        today,
    )
    assert set(errors) == {"person.nhs_number", "person.date_of_birth"}
    consent = rf.STEP_BY_SLUG["consent"]
    assert set(rf.step_errors(consent, {"basis": "consent"}, today)) == {"consent.given_by", "consent.given_on"}
    assert rf.step_errors(
        rf.STEP_BY_SLUG["professionals"],
        _answers(**{"professionals.1.case_holder": "yes", "professionals.1.name": "Jo", "professionals.1.role": "GP"}),
        today,
    )
    assert all(not rf.step_errors(step, _answers(), today) for step in rf.STEPS)


def test_every_reason_of_the_intake_lands_on_a_question():
    assert rf.question_for("person.address.postcode").id == "person-address-postcode"
    assert rf.question_for("consent").name == "basis"
    assert rf.question_for("person.date_of_birth").link == "person-date-of-birth-day"
    assert rf.question_for("professionals.0.email").name == "professionals.0.email"
    assert rf.question_for("(body)") is None


def test_a_draft_opens_only_in_its_session_and_untouched():
    drafts = Drafts("k" * 40, lifetime_seconds=60)
    sealed = drafts.seal({"person.given_name": "Ada"}, "session-a")
    assert drafts.open(sealed, "session-a") == {"person.given_name": "Ada"}
    assert drafts.open(sealed, "session-b") == {}
    assert drafts.open(sealed[:-4] + "AAAA", "session-a") == {}
    assert "Ada" not in sealed
    assert Drafts("another key, another service" * 2, lifetime_seconds=60).open(sealed, "session-a") == {}


def test_lists_pages_and_what_is_pressing():
    obligations = [
        {"register_id": "A", "state": "overdue", "kind": "case_holder_update", "due_at": "2026-01-01T00:00:00+00:00"},
        {"register_id": "A", "state": "due", "kind": "community_cetr", "due_at": "2026-01-02T00:00:00+00:00"},
        {"register_id": "B", "state": "done", "kind": "community_cetr", "due_at": "2026-01-02T00:00:00+00:00"},
    ]
    pressing = due_by_person(obligations)
    assert pressing["A"].overdue == 1 and pressing["A"].due == 1 and pressing["A"].update_missing
    assert "B" not in pressing
    page = page_of(list(range(120)), 3, size=50)
    assert page.items == list(range(100, 120)) and page.count == 3
    assert looks_like_register_id("qj2-7kd4-x9mq-r") and not looks_like_register_id("Ashdale")
    assert looks_like_nhs_number("943 476 5919")
    assert [page_count(n, 50) for n in (0, 1, 50, 51, 5000)] == [1, 1, 1, 2, 100]
    assert pressing_ids(pressing, "overdue") == ["A"] and pressing_ids(pressing, "update_missing") == ["A"]
    assert chunks(list("abcde"), 2) == [["a", "b"], ["c", "d"], ["e"]]


def test_the_web_refuses_to_start_with_development_secrets(monkeypatch):
    monkeypatch.delenv("DSR_DEVELOPMENT_MODE", raising=False)
    with pytest.raises(ValueError, match="DSR_SESSION_SECRET"):
        WebSettings(_env_file=None)
    with pytest.raises(ValueError, match="DSR_OIDC_CLIENT_SECRET"):
        WebSettings(_env_file=None, session_secret="s" * 40, oidc_client_secret="dev-only-web-client-secret")
    assert WebSettings(_env_file=None, session_secret="s" * 40, oidc_client_secret="issued-secret").cookie_secure


def test_long_tables_are_the_nhsuk_table_component():
    """The work queue's and the register's tables, built in Python for speed,
    are the component's markup (whitespace aside)."""
    import re

    from dsr_web.rendering import environment, long_table

    params = {
        "responsive": True,
        "caption": "Due <soon>",
        "captionClasses": "nhsuk-u-visually-hidden",
        "attributes": {"id": "due"},
        "head": [{"text": "Person"}, {"text": "What"}],
        "rows": [
            [{"html": '<a href="/people/A">A</a>', "header": "Person"}, {"text": "C(E)TR & review", "header": "What"}]
        ],
    }
    component = (
        environment("Europe/London", "Derbyshire")
        .from_string('{% from "nhsuk/components/tables/macro.jinja" import table %}{{ table(params) }}')
        .render(params=params)
    )
    squeeze = lambda html: re.sub(r">\s+", ">", re.sub(r"\s+<", "<", str(html))).strip()  # noqa: E731
    assert squeeze(long_table(params)) == squeeze(component)
