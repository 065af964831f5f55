"""What an email may say. The notifier writes only what it can vouch for:
register identifiers, rule ids, dates, and sentences from its own templates
and the area profile. Free text from upstream (an update's text, a rating's
rationale, a C(E)TR action's description or owner, a rejection's message) is
never repeated: people type names, dates of birth and NHS numbers into it."""

from __future__ import annotations

import re

from dsr_shared.rules.area import AreaProfile

_RULE_ID = re.compile(r"^R-[A-Z]+-\d{1,2}[a-z]?$")
_REASON_CODE = re.compile(r"^(R-[A-Z]+-\d{1,2}[a-z]?|[a-z_]{1,40})(\.[a-z_]{1,40})?$")
_FIELD_PATH = re.compile(r"^[a-z_]{1,40}(\.[a-z_]{1,40}){0,4}$")

_KIND_TITLES = {"cetr_action": "An action recommended at a C(E)TR (the record says what)"}


def rule_id(value: str) -> str | None:
    return value if _RULE_ID.match(value or "") else None


def obligation_title(rule: str, kind: str, area: AreaProfile) -> str:
    """The rule's title from the area profile, not the event's title: an
    R-OB-15 action's title is the free text of the C(E)TR's recommendation."""
    found = next((r for r in area.obligation_rules if r.id == rule), None)
    if found is not None:
        return found.title
    return _KIND_TITLES.get(kind, "An obligation on the register")


# The referral service's rejection codes, in the notifier's own words.
_REASONS = {
    "R-ELIG-1.unconfirmed": "The diagnosis of learning disability and/or autism must be confirmed.",
    "R-ELIG-1.no_evidence": "Evidence of the diagnosis must be attached.",
    "R-ELIG-2.no_consent": "Consent (with its date) or a best-interest decision (with its date) is required.",
    "R-ID-2.invalid_nhs_number": "The NHS number is not a valid 10-digit NHS number.",
    "date_in_future": "A date on the referral is in the future.",
    "R-ELIG-3.out_of_area": "The person has no qualifying connection to {area}: where they live, their GP practice, "
    "their local authority, or a placement funded by the area.",
}
_RULES = {
    "R-ELIG-1": "A confirmed diagnosis of learning disability and/or autism, with evidence, is required.",
    "R-ELIG-2": "Consent or a documented best-interest decision, with its date, is required.",
    "R-ELIG-3": "The person must have a qualifying connection to {area}.",
    "R-ID-2": "The NHS number must be a valid 10-digit NHS number.",
}


def rejection_reason(code: str, field: str | None, area: AreaProfile) -> dict[str, str | None]:
    """A rejection reason by its code; the message that came with it is not used."""
    code = code if _REASON_CODE.match(code or "") else ""
    rule = code.split(".")[0]
    sentence = (
        _REASONS.get(code)
        or _RULES.get(rule)
        or "A rule for referrals was not met; the referral service's answer gives the details."
    )
    return {
        "code": code or None,
        "text": sentence.format(area=area.name),
        "field": field if field and _FIELD_PATH.match(field) else None,
    }
