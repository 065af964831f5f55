"""Issue 2 acceptance: a referral travels through all four services, each its
own process, over the real broker and database, and ends as an email."""

from __future__ import annotations

import httpx
import pytest

from dsr_shared.platform.auth import Role
from dsr_testing.support import auth, eventually, referral_body

pytestmark = pytest.mark.stack


async def test_a_referral_ends_as_an_email_to_the_dsr_team_without_personal_data(stack):
    # Red: in crisis. The DSR team is alerted at once (the escalation), the referrer hears the outcome.
    body = referral_body(
        given_name="Philippa", family_name="Quennell", nhs_number="9434765870", date_of_birth="1987-06-21", rating="red"
    )
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.post(f"{stack.url('referral')}/referrals", json=body, headers=auth(Role.REFERRER))
        assert answer.status_code == 202, answer.text
        register_id = answer.json()["register_id"]
        assert answer.json()["outcome"] == "accepted"

        async def emails_for_person():
            found = {m["X-DSR-Kind"]: m for m in stack.smtp.messages() if register_id in m["Subject"]}
            return found if {"escalation", "referral_accepted"} <= set(found) else None

        emails = await eventually(emails_for_person, timeout=90)
        message = emails["escalation"]
        assert message["To"] == "dhcft.ndpat@nhs.net"  # Derbyshire's DSR team mailbox
        assert message["X-DSR-Register-Id"] == register_id
        text = message.get_body(("plain",)).get_content()
        assert register_id in text and "Community C(E)TR (R-OB-1), by " in text
        assert f"https://dsr.derbyshire.invalid/register/{register_id}" in text
        assert emails["referral_accepted"]["To"] == "sam.referrer@example.org"
        for message in stack.smtp.messages():
            whole = message.as_string()
            for personal in (
                "Philippa",
                "Quennell",
                "9434765870",
                "943 476 5870",
                "1987-06-21",
                "21/06/1987",
                "DE1 1AA",
            ):
                assert personal not in whole, f"{personal!r} leaked into an email"

        person = await http.get(f"{stack.url('rating')}/register/{register_id}", headers=auth(Role.DSR_TEAM))
        assert person.status_code == 200
        assert person.json()["rating"] == "red"

        obligations = await http.get(
            f"{stack.url('scheduler')}/obligations", params={"register_id": register_id}, headers=auth(Role.DSR_TEAM)
        )
        assert "community_cetr" in {o["kind"] for o in obligations.json()["obligations"]}

        async def sent_recorded():
            found = await http.get(
                f"{stack.url('notifier')}/notifications",
                params={"register_id": register_id},
                headers=auth(Role.DSR_TEAM),
            )
            return [n for n in found.json()["notifications"] if n["state"] == "sent"]

        await eventually(sent_recorded, timeout=30)
