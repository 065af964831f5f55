"""Issue 7: one person along the pathway, through all four services on the real
broker and database, with the simulated clock. Referral (amber) → initial DSP
meeting due → escalated to red (community C(E)TR within 72 working hours, the
DSR team emailed) → admitted (blue: post-admission C(E)TR and oversight visits)
→ discharged (amber: post-discharge meeting within 10 working days) → green →
removed a month later. Every event, obligation and email along the way is
checked, and no email or log line carries the person's name, NHS number or
date of birth. Staffordshire adds its update cadence and Thursday meeting."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from dsr_shared.contract.topology import REGISTER_SERVICES
from dsr_shared.platform.auth import Role
from dsr_shared.rules.area import Duration, load_profile
from dsr_shared.rules.working_time import WorkingCalendar
from dsr_testing.support import EventFeed, TopicReader, auth, eventually, referral_body

pytestmark = pytest.mark.stack

SERVICES = REGISTER_SERVICES
PERSON = {
    "given_name": "Philippa",
    "family_name": "Quennell",
    "nhs_number": "9434765870",
    "date_of_birth": "1987-06-21",
}
PERSONAL = ("Philippa", "Quennell", "9434765870", "943 476 5870", "1987-06-21", "21/06/1987", "21 June 1987")
POSTCODE = {"derbyshire": "DE1 1AA", "staffordshire": "ST4 6QG"}
TEAM = auth(Role.DSR_TEAM, subject="dsr.lead@example.org")


class Journey:
    def __init__(self, profile: str, services: dict, smtp, reader: TopicReader, prefix: str, bootstrap: str):
        self.profile, self.services, self.smtp, self.reader, self.prefix = profile, services, smtp, reader, prefix
        self.area = load_profile(profile)
        self.calendar = WorkingCalendar(self.area.working_time)
        self.http = httpx.AsyncClient(timeout=30)
        self.bootstrap = bootstrap
        self.register_id = ""

    def url(self, service: str) -> str:
        return self.services[service].url

    def events(self, topic: str, event_type: str) -> list[dict]:
        """This person's events, once each (the reader may read a topic twice when it rejoins its group)."""
        found = self.reader.events(f"{self.prefix}{topic}", event_type)
        unique = {e["event_id"]: e for e in found if e["data"].get("register_id") in (None, self.register_id)}
        return list(unique.values())

    def emails(self, kind: str | None = None) -> list:
        return [m for m in self.smtp.messages() if kind is None or m["X-DSR-Kind"] == kind]

    async def now(self) -> datetime:
        answer = await self.http.get(f"{self.url('rating')}/clock", headers=auth(Role.OPS))
        return datetime.fromisoformat(answer.json()["now"])

    async def advance(self, by: timedelta) -> None:
        for service in SERVICES:
            answer = await self.http.post(
                f"{self.url(service)}/clock/advance", json={"by": by.total_seconds()}, headers=auth(Role.OPS)
            )
            answer.raise_for_status()

    async def rate(self, rating: str, rationale: str) -> None:
        answer = await self.http.post(
            f"{self.url('rating')}/register/{self.register_id}/rating",
            json={"rating": rating, "rationale": rationale, "agreed_with_person": True},
            headers=TEAM,
        )
        assert answer.status_code == 200, answer.text

    async def hospital(self, event_type: str, topic: str, data: dict) -> None:
        feed = await EventFeed(self.bootstrap, self.prefix, self.area.code).start()
        try:
            await feed.publish(
                topic, event_type, {"nhs_number": PERSON["nhs_number"], **data}, key=PERSON["nhs_number"]
            )
        finally:
            await feed.stop()

    async def open_obligations(self) -> dict[str, dict]:
        answer = await self.http.get(
            f"{self.url('scheduler')}/obligations", params={"register_id": self.register_id}, headers=TEAM
        )
        return {o["rule"]: o for o in answer.json()["obligations"] if o["state"] in ("open", "due", "overdue")}

    async def wait_for_rules(self, *rules: str) -> dict[str, dict]:
        async def probe():
            found = await self.open_obligations()
            return found if set(rules) <= set(found) else None

        return await eventually(probe, timeout=60)

    def ratings(self) -> list[str]:
        return [e["data"]["to_rating"] for e in self.events("dsr.ratings", "RatingChanged")]


@pytest.fixture
async def journey(request, tmp_path, service_process, infra, isolation):
    from dsr_devstack import SmtpSink, free_port

    profile = request.param
    smtp = SmtpSink(tmp_path / "smtp", free_port())
    smtp.start()
    topics = [f"{isolation}.{t}" for t in ("dsr.referrals", "dsr.ratings", "dsr.obligations", "dsr.notifications")]
    reader = TopicReader(infra.kafka_bootstrap, *topics)
    await reader.__aenter__()
    try:
        env = {
            "DSR_AREA_PROFILE": profile,
            "DSR_SIMULATED_CLOCK": "true",
            "DSR_SWEEP_EVERY_SECONDS": "1",
            "DSR_SMTP_HOST": "127.0.0.1",
            "DSR_SMTP_PORT": str(smtp.port),
            "DSR_NHS_HASH_KEY": "journey-key",
        }
        services = {name: service_process(name, **env) for name in SERVICES}
        trip = Journey(profile, services, smtp, reader, f"{isolation}.", infra.kafka_bootstrap)
        yield trip
        await trip.http.aclose()
        # No name, NHS number or date of birth in any service's log.
        for name in SERVICES:
            log = (tmp_path / f"{name}.log").read_text()
            for personal in PERSONAL:
                assert personal not in log, f"{personal!r} in the {name} log"
    finally:
        await reader.__aexit__(None, None, None)
        smtp.stop()


@pytest.mark.parametrize("journey", ["derbyshire", "staffordshire"], indirect=True)
async def test_a_person_along_the_pathway(journey: Journey):
    area, trip = journey.area, journey
    team_mailbox = area.dsr_team_mailbox

    # Referral, amber (R-RAG-1): the referrer hears the outcome; the amber obligations start.
    body = referral_body(**PERSON, postcode=POSTCODE[trip.profile], rating="amber")
    answer = await trip.http.post(f"{trip.url('referral')}/referrals", json=body, headers=auth(Role.REFERRER))
    assert answer.status_code == 202 and answer.json()["outcome"] == "accepted", answer.text
    trip.register_id = answer.json()["register_id"]
    amber = await trip.wait_for_rules("R-OB-3", "R-OB-4", "R-OB-11", "R-OB-13")
    referred_at = datetime.fromisoformat(amber["R-OB-3"]["started_at"])
    assert datetime.fromisoformat(amber["R-OB-3"]["due_at"]) == trip.calendar.deadline(
        referred_at, Duration(amount=10, unit="working_days")
    )
    accepted = await eventually(lambda: trip.emails("referral_accepted"))
    assert accepted[0]["To"] == body["referrer"]["email"]

    if area.tracking_meeting:
        # Staffordshire: the update cadence (R-OB-11) restarts with an update, and the
        # Thursday tracking meeting's digest reaches the DSR team (R-OB-14).
        update = await trip.http.post(
            f"{trip.url('rating')}/register/{trip.register_id}/updates",
            json={"text": "Seen at home today."},
            headers=TEAM,
        )
        assert update.status_code == 201
        await eventually(
            lambda: [e for e in trip.events("dsr.obligations", "ObligationCompleted") if e["data"]["rule"] == "R-OB-11"]
        )
        assert (await trip.wait_for_rules("R-OB-11"))["R-OB-11"]["obligation_id"] != amber["R-OB-11"]["obligation_id"]
        await eventually(lambda: trip.emails("update_added"))
        await trip.advance(timedelta(days=5))
        digest = await eventually(lambda: trip.emails("digest_team"), timeout=60)
        assert digest[0]["To"] == team_mailbox and trip.register_id in digest[0].get_body(("plain",)).get_content()

    # The initial DSP meeting falls due (R-OB-3): ObligationDue, and the DSR team is told.
    await trip.advance(timedelta(days=12))
    due = await eventually(
        lambda: [e for e in trip.events("dsr.obligations", "ObligationDue") if e["data"]["rule"] == "R-OB-3"]
    )
    assert due and await eventually(lambda: [m for m in trip.emails("obligation_due") if m["To"] == team_mailbox])

    # Escalated to red (R-RAG-2): community C(E)TR within 72 working hours (R-OB-1); the DSR team is emailed at once.
    await trip.rate("red", "Placement breaking down; police called twice.")
    red = await trip.wait_for_rules("R-OB-1")
    escalated_at = datetime.fromisoformat(red["R-OB-1"]["started_at"])
    assert datetime.fromisoformat(red["R-OB-1"]["due_at"]) == trip.calendar.deadline(
        escalated_at, Duration(amount=72, unit="working_hours")
    )
    escalation = await eventually(lambda: trip.emails("escalation"))
    assert team_mailbox in {m["To"] for m in escalation}
    assert "R-OB-3" not in await trip.open_obligations()  # amber's meeting no longer applies

    # Admitted (R-RAG-3): blue; post-admission C(E)TR and oversight visits (R-OB-7, R-OB-8, R-OB-9).
    # After the escalation (the newest fact wins), in whole seconds (the database keeps milliseconds).
    admitted_at = (await trip.now() + timedelta(seconds=1)).replace(microsecond=0)
    await trip.hospital(
        "Admitted",
        "dsr.hospital.admissions",
        {
            "admitted_at": admitted_at.isoformat(),
            "hospital_ods_code": "RXM",
            "bed_type": "learning_disability",
            "secure": False,
            "legal_basis": "section_3",
        },
    )
    blue = await trip.wait_for_rules("R-OB-7", "R-OB-8", "R-OB-9")
    assert "R-OB-1" not in blue
    assert await eventually(lambda: trip.emails("admission"))

    # Discharged (R-RAG-4): amber; post-discharge meeting within 10 working days (R-OB-5).
    discharged_at = admitted_at + timedelta(days=20)
    await trip.advance(timedelta(days=21))
    await trip.hospital(
        "Discharged",
        "dsr.hospital.discharges",
        {
            "discharged_at": discharged_at.isoformat(),
            "hospital_ods_code": "RXM",
            "destination": "home",
        },
    )
    home = await trip.wait_for_rules("R-OB-5")
    assert datetime.fromisoformat(home["R-OB-5"]["due_at"]) == trip.calendar.deadline(
        discharged_at, Duration(amount=10, unit="working_days")
    )
    assert not {"R-OB-7", "R-OB-8", "R-OB-9"} & set(await trip.open_obligations())

    # Green (R-RAG-5): removal review a month on (R-OB-6); a month later, still green → removed.
    await trip.rate("green", "Settled at home; support in place.")
    await trip.wait_for_rules("R-OB-6", "R-OB-12")
    await trip.advance(timedelta(days=32))
    removed = await eventually(lambda: trip.events("dsr.ratings", "PersonRemoved"), timeout=60)
    assert removed[0]["data"]["cause"] == "green_month_ended"
    await eventually(lambda: trip.emails("person_removed"))

    async def nothing_open():
        return not await trip.open_obligations()

    await eventually(nothing_open)
    assert trip.ratings() == ["amber", "red", "blue", "amber", "green"]
    view = (await trip.http.get(f"{trip.url('rating')}/register/{trip.register_id}", headers=TEAM)).json()
    assert view["status"] == "removed"
    assert [h["cause"] for h in view["history"]] == [
        "referral",
        "person",
        "admission",
        "discharge",
        "person",
        "green_month_ended",
    ]

    # Every email: the register id, never the person's name, NHS number or date of birth.
    messages = trip.emails()
    assert messages
    for message in messages:
        whole = message.as_string()
        for personal in PERSONAL:
            assert personal not in whole, f"{personal!r} in a {message['X-DSR-Kind']} email"
