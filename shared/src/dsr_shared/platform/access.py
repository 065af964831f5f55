"""Permissions per person (docs/RULES.md "Data protection"), one way for every
service. Roles decide which endpoints a user may call (auth.py); this decides
whose records. The DSR team (and, where an endpoint admits them, ops) see the
whole register; a referrer acts only on the people they referred or are named
on as a professional. Anything else answers 404 with the same body as an id
that does not exist, after the same work (one contacts lookup, one audit
entry), so an answer never tells whether someone is on the register."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from fastapi import HTTPException, status

from dsr_shared.platform.audit import AuditLog
from dsr_shared.platform.auth import Principal, Role

# The one body of every 404 about a person, an obligation, a referral or a notification.
NOT_FOUND = "not found"

# Who may see the whole register on an endpoint that admits them.
WHOLE_REGISTER: tuple[Role, ...] = (Role.DSR_TEAM,)


def not_found() -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)


def _normal(value: str | None) -> str | None:
    value = (value or "").strip().lower()
    # "system:discharge", "system:QJ2": who submitted for a system, not a person who may read.
    return value if value and not value.startswith("system:") else None


def identities(principal: Principal) -> frozenset[str]:
    """What a contact list may name a user by: their subject and their email."""
    return frozenset(n for n in (_normal(principal.subject), _normal(principal.email)) if n)


@dataclass(frozen=True)
class Contacts:
    """Who, besides the whole-register roles, may act on one person's record:
    whoever referred them, and the professionals on their current list."""

    referrers: frozenset[str] = field(default_factory=frozenset)
    professionals: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, referrers: Iterable[str | None] = (), professionals: Iterable[str | None] = ()) -> "Contacts":
        return cls(
            frozenset(n for n in map(_normal, referrers) if n), frozenset(n for n in map(_normal, professionals) if n)
        )

    def __or__(self, other: "Contacts") -> "Contacts":
        return Contacts(self.referrers | other.referrers, self.professionals | other.professionals)

    def include(self, principal: Principal) -> bool:
        return bool(identities(principal) & (self.referrers | self.professionals))


NOBODY = Contacts()


class PersonAccess:
    """The check every endpoint about one person makes, before anything else
    about that person is looked at (a 409 or 422 would tell it exists)."""

    def __init__(self, audit: AuditLog) -> None:
        self.audit = audit

    @staticmethod
    def sees_everyone(principal: Principal, everyone: Iterable[Role] = WHOLE_REGISTER) -> bool:
        return principal.has(*everyone)

    def may_act(
        self, principal: Principal, contacts: Contacts | None, everyone: Iterable[Role] = WHOLE_REGISTER
    ) -> bool:
        """`contacts` None: there is no such record."""
        return contacts is not None and (self.sees_everyone(principal, everyone) or contacts.include(principal))

    async def require(
        self,
        principal: Principal,
        action: str,
        subject_id: str,
        contacts: Contacts | None,
        everyone: Iterable[Role] = WHOLE_REGISTER,
    ) -> None:
        """Return if `principal` may act on the record; else audit the refusal
        and raise the 404 a missing record gets. The caller audits the outcome
        of what it then does."""
        if self.may_act(principal, contacts, everyone):
            return
        await self.audit.record(principal, action, subject_id, "missing" if contacts is None else "denied")
        raise not_found()
