"""Who may see a person's register identifier in this service: the DSR team,
or a referrer whose accepted referral put the person on the register (who
submitted it, or the referrer named on it), counted as the shared contacts
count referrers (dsr_shared.access). Decided with what this service knows at
once: a professional named on the record is not shown the register id of a
referral they did not make (they find the person in the register, if named;
permissions on the record itself are dsr_shared.access's, api.py)."""

from __future__ import annotations

from dataclasses import dataclass

from dsr_shared.access import Contacts
from dsr_shared.auth import Principal, Role
from dsr_referral.adapters.referrals import ReferralStore


@dataclass(frozen=True)
class Submitter:
    """Who sent a referral: a token's subject, or `system:<area>` on the topic
    door (which carries no identity of its own). Idempotency keys are theirs."""

    subject: str
    dsr_team: bool = False
    email: str | None = None

    @classmethod
    def of(cls, principal: Principal) -> "Submitter":
        return cls(principal.subject, principal.has(Role.DSR_TEAM), principal.email)


async def may_see(store: ReferralStore, register_id: str, who: Submitter) -> bool:
    if who.dsr_team:
        return True
    referrers = Contacts.of(await store.referrers_of(register_id)).referrers
    return bool(Contacts.of([who.subject, who.email]).referrers & referrers)
