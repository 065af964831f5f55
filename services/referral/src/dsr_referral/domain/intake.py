"""Where an eligible referral goes, and what it carries on (docs/RULES.md,
docs/REGISTER.md "Further referrals"). Pure: plain facts about the person as
the register knows them in, a decision out."""

from __future__ import annotations

from datetime import date
from typing import Literal

from dsr_shared.contract.events import ReferralSubmitted

# enter: a new person on the register; return: a removed person comes back;
# complete: the DSR team completes an automatic record; further: kept and sent to the DSR team.
Route = Literal["enter", "return", "complete", "further"]


def route(*, known: bool, removed: bool, by_dsr_team: bool, has_details: bool) -> Route:
    """R-ID-1: one identifier per person, so a known person is never entered
    again; R-RAG-6: a new referral is what brings a removed person back (under
    their identifier). For someone on the register nothing is dropped: the DSR
    team's full referral completes a record made automatically on discharge
    (R-ELIG-4: no details yet); any other referral is a further referral."""
    if not known:
        return "enter"
    if removed:
        return "return"
    if by_dsr_team and not has_details:
        return "complete"
    return "further"


def consent_date(referral: ReferralSubmitted) -> date | None:
    """R-OB-13: renewal is due a year from the consent, or from the best-interest decision."""
    if referral.consent:
        return referral.consent.given_on
    return referral.best_interest_decision.decided_on if referral.best_interest_decision else None
