"""Who may see a person's record in this service: the DSR team, or a referrer
whose referral put the person on the register. Decided with what this service
knows: it does not follow the professionals named on the record in the rating
service, so a professional who did not refer the person is not shown their
register identifier here (they find the person in the register, if named)."""

from __future__ import annotations

from dataclasses import dataclass

from dsr_shared.auth import Principal, Role
from dsr_referral.adapters.referrals import ReferralStore


@dataclass(frozen=True)
class Submitter:
    """Who sent a referral: a token's subject, or `system:<area>` on the topic
    door (which carries no identity of its own). Idempotency keys are theirs."""

    subject: str
    dsr_team: bool = False

    @classmethod
    def of(cls, principal: Principal) -> "Submitter":
        return cls(principal.subject, principal.has(Role.DSR_TEAM))


async def may_see(store: ReferralStore, register_id: str, who: Submitter) -> bool:
    return who.dsr_team or await store.accepted_referral_by(register_id, who.subject) is not None
