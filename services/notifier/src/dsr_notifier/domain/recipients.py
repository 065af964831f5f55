"""Who to tell about whom. The notifier keeps its own projection of each
person's contacts (the referrer and the professionals, from the register's
events); the DSR team mailbox, escalation contacts and the optional
commissioner and keyworking-service mailboxes come from the area profile."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import EmailStr, TypeAdapter, ValidationError

from dsr_shared.rules.area import AreaProfile

_EMAIL = TypeAdapter(EmailStr)


def as_email(value: str | None) -> str | None:
    """The address, normalised, if `value` is one; None otherwise."""
    if not value:
        return None
    try:
        return _EMAIL.validate_python(value.strip()).lower()
    except ValidationError:
        return None


@dataclass(frozen=True)
class Contacts:
    """A person's contacts as the notifier knows them: work emails only."""

    referrer_email: str | None = None
    case_holders: tuple[str, ...] = ()

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> "Contacts":
        if not doc:
            return cls()
        return cls(doc.get("referrer_email"), tuple(doc.get("case_holders") or ()))


RESPONSIBLE_LABELS = {
    "dsr_team": "the DSR team",
    "case_holder": "the case holder",
    "commissioner": "the commissioner",
    "keyworking_service": "the keyworking service",
}


def responsible_label(responsible: str) -> str:
    """Who is responsible, in words; never the free text of an action's owner."""
    return RESPONSIBLE_LABELS.get(responsible, "the owner named on the action")


def resolve(responsible: str, contacts: Contacts, area: AreaProfile) -> list[str]:
    """The addresses for an obligation's `responsible`:
    dsr_team → the DSR team mailbox; case_holder → the case holders, else the
    referrer, else the DSR team; commissioner and keyworking_service → their
    mailbox if the area has one, else the DSR team; an email address (the owner
    of a C(E)TR action, R-OB-15) → that address; anything else → the DSR team."""
    team = area.dsr_team_mailbox.lower()
    if responsible == "dsr_team":
        return [team]
    if responsible == "case_holder":
        if contacts.case_holders:
            return list(contacts.case_holders)
        return [contacts.referrer_email or team]
    if responsible == "commissioner":
        return [(area.commissioner_mailbox or team).lower()]
    if responsible == "keyworking_service":
        return [(area.keyworking_service_mailbox or team).lower()]
    return [as_email(responsible) or team]
