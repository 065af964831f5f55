"""The notifier as its own process on the real broker and database, with a
real SMTP server, fed the events the other services publish: the handle the
tests drive it by (started by dsr_testing.harness), and the fixtures'
personal data that no email may carry."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from dsr_shared.contract.envelope import Envelope
from dsr_shared.platform.auth import Role
from dsr_testing.harness import RunningService
from dsr_testing.support import auth, referral_accepted

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TEAM = "dynamicsupportregister@mpft.nhs.uk"
ON_CALL = "on.call@example.org"
COMMISSIONER = "commissioning@example.org"
REFERRER = "sam.referrer@example.org"
SECOND_REFERRER = "kim.second@example.org"

# The fixtures' person: none of this may reach an email. It is put where
# careless code would echo it: an update's text, a rating's rationale, a
# rejection's message, a C(E)TR action's description and owner.
NAMES = ("Philippa", "Quennell")
NHS_NUMBER = "9434765870"
BORN = "1987-06-21"
PERSONAL = (*NAMES, NHS_NUMBER, "943 476 5870", "943-476-5870", BORN, "21/06/1987", "21 June 1987", "ST4 1AA")
LEAKY = (
    f"Philippa Quennell, NHS number 943 476 5870 ({NHS_NUMBER}), born {BORN} (21/06/1987), of 1 Example Street, ST4 1AA"
)


def register_id(area: str = "QNC") -> str:
    body = "".join(random.choice(CROCKFORD) for _ in range(8))
    return f"{area}-{body[:4]}-{body[4:]}-{random.choice(CROCKFORD)}"


def area_profile_file(tmp_path: Path, **top_level: Any) -> Path:
    """Staffordshire's profile (it has a tracking meeting) with escalation
    contacts and a commissioner mailbox, as a file the service loads."""
    from importlib import resources

    bundled = resources.files("dsr_shared.rules.profiles").joinpath("staffordshire.toml").read_text("utf-8")
    settings = {"escalation_contacts": [ON_CALL], "commissioner_mailbox": COMMISSIONER, **top_level}
    head = "".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items())
    path = tmp_path / f"area-{uuid.uuid4().hex[:8]}.toml"
    path.write_text(head + bundled)  # top-level keys before the first table
    return path


def assert_names_no_one(messages: list[EmailMessage]) -> None:
    """Every part of every message: headers, plain text and HTML."""
    for message in messages:
        parts = [message.as_string()] + [part.get_content() for part in message.walk() if not part.is_multipart()]
        for text in parts:
            for personal in PERSONAL:
                assert personal not in text, f"{personal!r} leaked into {message['Subject']!r}"


@dataclass
class NotifierService(RunningService):
    smtp: Any = None  # the SMTP sink the test started, if it did

    async def send(self, topic: str, envelope: Envelope, key: str) -> Envelope:
        """An envelope made by the test, as it is (a redelivery, an event from the past)."""
        return await self.feed.send(topic, envelope, key)

    # The events, as the referral, rating and scheduler services publish them.

    async def accepted(self, rid: str, *, professionals: list[dict] | None = None, rating: str = "amber") -> Envelope:
        data = referral_accepted(
            rid, "h" * 64, rating=rating, referrer=REFERRER, rating_rationale=LEAKY, professionals=professionals or []
        )
        return await self.publish("dsr.referrals", "ReferralAccepted", data, key=rid)

    async def rejected(self) -> Envelope:
        referral_id = str(uuid.uuid4())
        reasons = [
            {"code": "R-ELIG-2.no_consent", "message": f"No consent recorded for {LEAKY}.", "field": "consent"},
            {"code": "date_in_future", "message": f"{BORN} is in the future.", "field": "person.date_of_birth"},
            {"code": NHS_NUMBER, "message": LEAKY, "field": "Philippa Quennell"},
        ]
        data = {"referral_id": referral_id, "reasons": reasons, "referrer_email": REFERRER}
        return await self.publish("dsr.referrals", "ReferralRejected", data, key=referral_id)

    async def further_referral(self, rid: str, proposed: str) -> Envelope:
        data = {
            "register_id": rid,
            "referral_id": str(uuid.uuid4()),
            "proposed_rating": proposed,
            "referrer_email": SECOND_REFERRER,
            "submitted_by": SECOND_REFERRER,
            "received_at": datetime.now(timezone.utc).isoformat(),
        }
        return await self.publish("dsr.referrals", "FurtherReferralReceived", data, key=rid)

    async def rated(
        self, rid: str, to: str, frm: str | None = "amber", *, cause: str = "person", hospital: dict | None = None
    ) -> Envelope:
        data = {
            "register_id": rid,
            "from_rating": frm,
            "to_rating": to,
            "rationale": LEAKY,
            "changed_by": REFERRER,
            "cause": cause,
            "cohort": "adult",
            "age_band": "adult",
            "hospital": hospital,
        }
        return await self.publish("dsr.ratings", "RatingChanged", data, key=rid)

    async def update_added(self, rid: str, kind: str = "update") -> Envelope:
        data = {"register_id": rid, "update_id": str(uuid.uuid4()), "added_by": REFERRER, "kind": kind, "text": LEAKY}
        return await self.publish("dsr.ratings", "UpdateAdded", data, key=rid)

    async def removal_requested(self, rid: str) -> Envelope:
        data = {"register_id": rid, "requested_by": REFERRER, "best_interest_meeting": True}
        return await self.publish("dsr.ratings", "RemovalRequested", data, key=rid)

    async def removed(self, rid: str, cause: str) -> Envelope:
        data = {"register_id": rid, "removed_by": TEAM, "cause": cause, "reason": LEAKY}
        return await self.publish("dsr.ratings", "PersonRemoved", data, key=rid)

    async def professionals(self, rid: str, professionals: list[dict]) -> Envelope:
        data = {"register_id": rid, "professionals": professionals, "changed_by": REFERRER}
        return await self.publish("dsr.ratings", "ProfessionalsChanged", data, key=rid)

    async def obligation(
        self,
        event_type: str,
        rid: str,
        rule: str,
        kind: str,
        responsible: str,
        due_at: datetime,
        *,
        title: str = "as the profile says",
        obligation_id: str | None = None,
        **extra: Any,
    ) -> Envelope:
        data = {
            "obligation_id": obligation_id or str(uuid.uuid4()),
            "register_id": rid,
            "kind": kind,
            "title": title,
            "rule": rule,
            "responsible": responsible,
            "due_at": due_at.isoformat(),
            **extra,
        }
        if event_type == "ObligationScheduled":
            data.setdefault("triggered_by_event_id", str(uuid.uuid4()))
        return await self.publish("dsr.obligations", event_type, data, key=rid)

    # What came out.

    def emails(self) -> list[EmailMessage]:
        return self.smtp.messages()

    async def notifications(self, **filters: str) -> list[dict]:
        answer = await self.http.get(f"{self.url}/notifications", params=filters, headers=auth(Role.DSR_TEAM))
        answer.raise_for_status()
        return answer.json()["notifications"]

    def published(self, event_type: str) -> dict[str, dict]:
        """Events on dsr.notifications, one per event id (the outbox relay may repeat one)."""
        return {e["event_id"]: e for e in self.events("dsr.notifications", event_type)}


FAST_RETRIES = {
    "DSR_SIMULATED_CLOCK": "true",
    "DSR_SWEEP_EVERY_SECONDS": "1",
    "DSR_SMTP_RETRY_FIRST_SECONDS": "0.2",
    "DSR_SMTP_RETRY_LONGEST_SECONDS": "1",
    "DSR_MAIL_POLL_SECONDS": "0.2",
}
