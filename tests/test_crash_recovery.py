"""Issue 2 acceptance: a service killed mid-stream (SIGKILL) and restarted
processes every event, and none twice in effect."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from pymongo import AsyncMongoClient

from dsr_shared.platform.auth import Role
from support import auth, eventually, referral_body, valid_nhs_number

pytestmark = pytest.mark.stack

PEOPLE = 30
# An amber referral schedules R-OB-3, R-OB-4, R-OB-11 and R-OB-13, none due
# for days; the referrer is emailed once, that the referral was accepted.
OBLIGATIONS_EACH = 4
EMAILS_EACH = 1


@pytest.mark.parametrize("victim", ["rating", "scheduler"])
async def test_a_service_killed_mid_stream_loses_nothing_and_repeats_nothing(stack, infra, isolation, victim):
    mongo = AsyncMongoClient(infra.mongo_uri)
    victim_store = {"rating": ("rating", "people"), "scheduler": ("scheduler", "obligations")}[victim]
    victim_docs = mongo[f"{isolation}_{victim_store[0]}"][victim_store[1]]
    nhs_numbers = sorted({valid_nhs_number(i) for i in range(PEOPLE * 2)})[:PEOPLE]

    async with httpx.AsyncClient(timeout=10) as http:
        async def refer(nhs_number: str) -> str:
            answer = await http.post(
                f"{stack.url('referral')}/referrals", json=referral_body(nhs_number=nhs_number), headers=auth(Role.REFERRER)
            )
            assert answer.status_code == 202, answer.text
            return answer.json()["register_id"]

        first = [await refer(n) for n in nhs_numbers[:10]]

        async def victim_busy():
            return await victim_docs.count_documents({}) >= 3

        await eventually(victim_busy)
        stack.services[victim].kill()
        rest = await asyncio.gather(*(refer(n) for n in nhs_numbers[10:]))
        stack.services[victim].start()
        register_ids = set(first) | set(rest)
        assert len(register_ids) == PEOPLE

    people = mongo[f"{isolation}_rating"]["people"]
    obligations = mongo[f"{isolation}_scheduler"]["obligations"]

    async def all_emailed():
        return len(stack.smtp.messages()) >= PEOPLE * EMAILS_EACH

    async def all_scheduled():
        return await obligations.count_documents({}) >= PEOPLE * OBLIGATIONS_EACH

    await eventually(all_emailed, timeout=120)
    await eventually(all_scheduled, timeout=120)
    assert await people.count_documents({}) == PEOPLE
    assert {d["_id"] async for d in people.find({}, {"_id": 1})} == register_ids
    assert await obligations.count_documents({}) == PEOPLE * OBLIGATIONS_EACH
    messages = stack.smtp.messages()
    message_ids = [m["Message-ID"] for m in messages]
    assert len(message_ids) == len(set(message_ids)) == PEOPLE * EMAILS_EACH, "an email was sent twice"
    assert {m["X-DSR-Register-Id"] for m in messages} == register_ids
    assert {m["To"] for m in messages} == {"sam.referrer@example.org"}
    await mongo.close()
