"""Issue 11 across the services: a second referral for someone on the register
reaches the DSR team by email, saying plainly that it proposes a higher rating,
while the second referrer learns no register identifier; the DSR team completes
the record of a person referred automatically on discharge, and the register
hears the age band without the date of birth."""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pytest
from pymongo import AsyncMongoClient

from dsr_shared.platform.auth import Role
from dsr_shared.rules.area import load_profile
from dsr_testing.support import EventFeed, auth, eventually, referral_body

pytestmark = pytest.mark.stack

AREA = load_profile("derbyshire")
TEAM = auth(Role.DSR_TEAM, subject="dsr.lead@example.org")
SECOND_REFERRER = "bo.second@example.org"
PERSONAL = (
    "Morwenna",
    "Tregarthen",
    "9434765919",
    "943 476 5919",
    "1979-02-14",
    "Idris",
    "Pennock",
    "9434765870",
    "2001-03-09",
)


async def test_a_second_referral_alerts_the_team_and_the_team_completes_an_automatic_record(stack, infra, isolation):
    referral, rating = stack.url("referral"), stack.url("rating")
    mongo = AsyncMongoClient(infra.mongo_uri, tz_aware=True)
    feed = await EventFeed(infra.kafka_bootstrap, f"{isolation}.", AREA.code).start()
    try:
        async with httpx.AsyncClient(timeout=30) as http:

            async def record(register_id: str) -> dict | None:
                answer = await http.get(f"{rating}/register/{register_id}", headers=TEAM)
                return answer.json() if answer.status_code == 200 else None

            person = dict(
                given_name="Morwenna", family_name="Tregarthen", nhs_number="9434765919", date_of_birth="1979-02-14"
            )
            first = await http.post(
                f"{referral}/referrals",
                json=referral_body(**person),
                headers=auth(Role.REFERRER, subject="a@example.org"),
            )
            register_id = first.json()["register_id"]
            assert (await eventually(lambda: record(register_id)))["rating"] == "amber"
            # The notifier compares with the rating it has heard.
            await eventually(
                lambda: mongo[f"{isolation}_notifier"]["people"].find_one({"_id": register_id, "rating": "amber"})
            )

            b_referrer = {"name": "Bo Second", "role": "GP", "organisation": "Surgery", "email": SECOND_REFERRER}
            second = await http.post(
                f"{referral}/referrals",
                json=referral_body(**person, rating="red", referrer=b_referrer),
                headers=auth(Role.REFERRER, subject="b@example.org"),
            )
            assert second.status_code == 202 and second.json()["outcome"] == "sent_to_dsr_team"
            assert second.json()["register_id"] is None and register_id not in second.text

            def alert():
                return [m for m in stack.smtp.messages() if m["X-DSR-Kind"] == "further_referral"]

            [email] = await eventually(alert)
            assert email["To"] == AREA.dsr_team_mailbox.lower() and email["X-DSR-Register-Id"] == register_id
            assert "proposing a higher rating" in email["Subject"]
            text = email.get_body(("plain",)).get_content()
            assert "HIGHER rating than the current one: red" in text and second.json()["referral_id"] in text
            assert (await record(register_id))["rating"] == "amber", (
                "the DSR team decides; the referral changes nothing by itself"
            )

            # R-ELIG-4 then the DSR team: the record made on discharge is completed.
            await feed.publish(
                "dsr.hospital.discharges",
                "Discharged",
                {
                    "nhs_number": "9434765870",
                    "discharged_at": datetime.now(timezone.utc).isoformat(),
                    "hospital_ods_code": "RXM01",
                },
                key="9434765870",
            )

            async def automatic() -> dict | None:
                listing = (await http.get(f"{rating}/register", headers=TEAM)).json()["people"]
                others = [p["register_id"] for p in listing if p["register_id"] != register_id]
                return others and await record(others[0])

            made = await eventually(automatic)
            assert made["age_band"] == "unknown"
            completion = referral_body(
                given_name="Idris", family_name="Pennock", nhs_number="9434765870", date_of_birth="2001-03-09"
            )
            completed = await http.post(f"{referral}/referrals", json=completion, headers=TEAM)
            assert (completed.json()["outcome"], completed.json()["register_id"]) == (
                "record_completed",
                made["register_id"],
            )

            async def banded() -> dict | None:
                view = await record(made["register_id"])
                return view if view["age_band"] == "adult" else None

            await eventually(banded)

        messages = stack.smtp.messages()
        assert len(alert()) == 1
        for message in messages:
            whole = message.as_string() + "".join(p.get_content() for p in message.walk() if not p.is_multipart())
            assert not [p for p in PERSONAL if p in whole], message["Subject"]
        # The second referrer has their answer; the email goes to the DSR team only.
        assert not [m for m in messages if m["To"] == SECOND_REFERRER]
    finally:
        await feed.stop()
        await mongo.close()
