"""R-OB-14: before each tracking meeting, a digest to the DSR team of who is
on the register by rating, what is due or overdue by the meeting and whose
update is missing, and one to each case holder of the updates they owe. Pure.

When: `tracking_digest_before` (area profile; default one working day) before
the meeting, e.g. Wednesday 09:30 for Staffordshire's Thursday 09:30 meeting
(domain/meetings.py). A notifier that was not running then sends the latest
meeting's digest as soon as it is back, marked late if the meeting has begun;
older ones are skipped. An area with no tracking meeting (Derbyshire) gets no
digest."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from dsr_shared.rules.area import AreaProfile
from dsr_notifier.domain.messages import Notification
from dsr_notifier.domain.recipients import Contacts, resolve
from dsr_notifier.domain.wording import obligation_title, rule_id

SOURCE_TYPE = "TrackingMeetingDigest"
UPDATE_KIND = "case_holder_update"
# Digest ids are derived from the area and the meeting in this namespace.
_NAMESPACE = uuid.UUID("6f1c2a4e-2f55-4b53-9d0e-3c1f3b1d5e70")


def digest_key(area: AreaProfile, meeting_at: datetime) -> str:
    return f"{area.code}:{meeting_at.astimezone(ZoneInfo('UTC')).isoformat()}"


def digest_source_id(key: str) -> uuid.UUID:
    """The digest's stand-in for a source event id: one per area and meeting,
    so each recipient's notification id is the same however often it is made."""
    return uuid.uuid5(_NAMESPACE, key)


def _item(doc: dict[str, Any], area: AreaProfile, now: datetime) -> dict[str, Any]:
    overdue = doc["state"] == "overdue" or doc["due_at"] <= now
    return {
        "register_id": doc["register_id"],
        "title": obligation_title(doc["rule"], doc["kind"], area),
        "rule": rule_id(doc["rule"]),
        "due_at": doc["due_at"],
        "overdue": overdue,
    }


def digests(
    area: AreaProfile,
    meeting_at: datetime,
    now: datetime,
    pending: list[dict[str, Any]],
    contacts: dict[str, Contacts],
    on_register: dict[str, list[str]] | None = None,
    *,
    due_at: datetime | None = None,
) -> list[Notification]:
    """`pending`: open, due or overdue obligations due by the meeting (the
    projection's documents); `contacts`: by register id, for the case holders;
    `on_register`: register ids by rating; `due_at`: when the digest was due
    (it is late when the meeting has begun)."""
    late = {"late": meeting_at <= now, "digest_due_at": due_at or now}
    ordered = sorted(pending, key=lambda d: (d["due_at"], d["register_id"], d["rule"]))
    updates = [d for d in ordered if d["kind"] == UPDATE_KIND]
    team = area.dsr_team_mailbox.lower()
    notes = [
        Notification(
            team,
            "digest_team",
            None,
            {
                "meeting_at": meeting_at,
                **late,
                "on_register": [{"rating": r, "register_ids": ids} for r, ids in (on_register or {}).items()],
                "due_or_overdue": [_item(d, area, now) for d in ordered if d["kind"] != UPDATE_KIND],
                "updates_missing": [_item(d, area, now) for d in updates],
            },
        )
    ]
    owed: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for doc in updates:
        for recipient in resolve("case_holder", contacts.get(doc["register_id"], Contacts()), area):
            if recipient != team:  # the team's digest lists them already
                owed[recipient].append(_item(doc, area, now))
    for recipient in sorted(owed):
        context = {"meeting_at": meeting_at, **late, "updates": owed[recipient]}
        notes.append(Notification(recipient, "digest_case_holder", None, context))
    return notes
