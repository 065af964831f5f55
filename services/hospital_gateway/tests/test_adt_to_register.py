"""HL7 v2 ADT from a trust, over MLLP (a real TCP client), through the running
gateway to the register, with the rest of the system running: an admission
makes the person blue, schedules what blue demands and emails the DSR team; a
discharge makes them amber with the post-discharge meeting; a cancelled
admission (A11) puts back the rating before; a cancelled discharge (A13)
makes them blue again; a transfer (A02) keeps them blue in the new hospital;
a repeated MSH-10 is acknowledged twice and recorded once; the same messages
in another order give the same end state; a merge (A40) waits for the DSR team."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from dsr_shared.platform.auth import Role
from dsr_hospital_gateway.samples import Stay, adt
from dsr_testing.support import TopicReader, auth, eventually, referral_body, valid_nhs_number

# Several services as processes, and the first consumer group of a fresh broker.
pytestmark = pytest.mark.timeout(600)
TEAM = auth(Role.DSR_TEAM, subject="dsr.team@example.org")
MAILBOX = "dhcft.ndpat@nhs.net"  # derbyshire's DSR team
WARD = Stay(site="RXM01", ward="WARD33")
OTHER_HOSPITAL = Stay(site="RHA01", ward="W7", specialty="700")  # not listed: counts by its specialty (LD)
GENERAL_WARD = Stay(site="RXM01", ward="GEN1", specialty="300")


class Register:
    def __init__(self, http: httpx.AsyncClient, stack) -> None:
        self.http, self.stack = http, stack

    async def refer(self, nhs_number: str) -> str:
        body = referral_body(nhs_number=nhs_number, postcode="DE1 1AA", rating="amber")
        answer = await self.http.post(f"{self.stack.url('referral')}/referrals", json=body, headers=auth(Role.REFERRER))
        assert answer.status_code == 202, answer.text
        register_id = answer.json()["register_id"]
        await eventually(lambda: self.has(register_id, rating="amber"))
        return register_id

    async def person(self, register_id: str) -> dict:
        answer = await self.http.get(f"{self.stack.url('rating')}/register/{register_id}", headers=TEAM)
        return answer.json() if answer.status_code == 200 else {}

    async def has(self, register_id: str, *, events: int | None = None, **wanted) -> dict | None:
        view = await self.person(register_id)
        if events is not None and len(view.get("hospital_events", ())) != events:
            return None
        return view if view and all(view.get(k) == v for k, v in wanted.items()) else None

    async def obligations(self, register_id: str, **filters) -> list[dict]:
        answer = await self.http.get(
            f"{self.stack.url('scheduler')}/obligations", params={"register_id": register_id, **filters}, headers=TEAM
        )
        return answer.json()["obligations"]


def ended(view: dict) -> tuple:
    """What must match between two people who got the same messages in another order."""
    return (
        view["rating"],
        view["in_hospital"],
        view["hospital"] and view["hospital"]["hospital_ods_code"],
        sorted((e["kind"], e["at"]) for e in view["hospital_events"]),
    )


async def test_adt_messages_move_the_register(stack, hospital_gateway, infra, isolation):
    gateway = await hospital_gateway()
    reader = TopicReader(infra.kafka_bootstrap, f"{isolation}.dsr.hospital.admissions")
    async with httpx.AsyncClient(timeout=30) as http, reader:
        register = Register(http, stack)
        nhs = [valid_nhs_number(5000 + 10 * i) for i in range(8)]
        people = [await register.refer(n) for n in nhs[:7]]
        t = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=1)

        def at(minutes: int) -> datetime:
            return t + timedelta(minutes=minutes)

        # 0: admitted, then discharged. 1: admitted, the admission cancelled.
        # 2: admitted, discharged, the discharge cancelled. 3: admitted, transferred.
        acks = await gateway.send(
            adt("A01", nhs[0], stay=WARD, at=at(0), admitted_at=at(0)),
            adt("A01", nhs[1], stay=WARD, at=at(0), admitted_at=at(0)),
            adt("A11", nhs[1], stay=WARD, at=at(5), admitted_at=at(0)),
            adt("A01", nhs[2], stay=WARD, at=at(0), admitted_at=at(0)),
            adt("A03", nhs[2], stay=WARD, at=at(10), discharged_at=at(10), destination="19"),
            adt("A13", nhs[2], stay=WARD, at=at(12), discharged_at=at(10)),
            adt("A01", nhs[3], stay=WARD, at=at(0), admitted_at=at(0)),
            adt("A02", nhs[3], stay=OTHER_HOSPITAL, prior=WARD, at=at(20)),
            # Not a stay the area counts: acknowledged, nothing recorded.
            adt("A01", nhs[7], stay=GENERAL_WARD, at=at(0), admitted_at=at(0)),
        )
        assert [a.code for a in acks] == ["AA"] * 9, [a.raw for a in acks]
        assert acks[-1].text.startswith("not a mental health")

        blue = await eventually(lambda: register.has(people[0], rating="blue", events=1))
        assert blue["hospital"]["hospital_ods_code"] == "RXM01" and blue["hospital"]["ward"] == "WARD33"
        kinds = {o["kind"] for o in await eventually(lambda: register.obligations(people[0], rule="R-OB-7"))}
        assert kinds == {"post_admission_cetr"}
        emails = await eventually(
            lambda: [
                m
                for m in stack.smtp.messages()
                if m["X-DSR-Kind"] == "admission" and m["X-DSR-Register-Id"] == people[0]
            ]
        )
        assert emails[0]["To"] == MAILBOX and nhs[0] not in emails[0].as_string()

        [discharged] = await gateway.send(
            adt("A03", nhs[0], stay=WARD, at=at(30), discharged_at=at(30), destination="19")
        )
        assert discharged.code == "AA"
        await eventually(lambda: register.has(people[0], rating="amber", in_hospital=False))
        assert await eventually(lambda: register.obligations(people[0], kind="post_discharge_dsp_meeting"))

        cancelled = await eventually(lambda: register.has(people[1], rating="amber", events=2))
        assert [(h["from_rating"], h["to_rating"], h["cause"], h["took_effect"]) for h in cancelled["history"][1:]] == [
            ("amber", "blue", "admission", False),
            ("amber", "amber", "admission_cancelled", True),
        ]
        assert cancelled["in_hospital"] is False
        assert not await register.obligations(people[1], kind="post_discharge_dsp_meeting"), "no discharge happened"

        again = await eventually(lambda: register.has(people[2], rating="blue", events=3))
        assert again["in_hospital"] and again["hospital"]["hospital_ods_code"] == "RXM01"

        moved = await eventually(lambda: register.has(people[3], rating="blue", events=2))
        assert (
            moved["hospital"]["hospital_ods_code"] == "RHA01" and moved["hospital"]["bed_type"] == "learning_disability"
        )
        assert moved["hospital"]["admitted_at"].startswith(at(0).isoformat()[:19])

        # The same MSH-10 twice: two ACKs, one admission, one event published.
        repeat = adt("A01", nhs[4], stay=WARD, at=at(0), admitted_at=at(0), control_id="REPEAT-0001")
        first, second = await gateway.send(repeat, repeat)
        assert (first.code, second.code) == ("AA", "AA") and first.control_id == second.control_id == "REPEAT-0001"
        await eventually(lambda: register.has(people[4], rating="blue", events=1))
        admitted = [
            e
            for e in reader.events(f"{isolation}.dsr.hospital.admissions", "Admitted")
            if e["data"]["nhs_number"] == nhs[4]
        ]
        assert len({e["event_id"] for e in admitted}) == 1

        # The same stay in order and backwards: the same end state.
        def stay(nhs_number: str) -> list[str]:
            return [
                adt("A01", nhs_number, stay=WARD, at=at(0), admitted_at=at(0)),
                adt("A02", nhs_number, stay=OTHER_HOSPITAL, prior=WARD, at=at(40)),
                adt("A03", nhs_number, stay=OTHER_HOSPITAL, at=at(60), discharged_at=at(60)),
            ]

        await gateway.send(*stay(nhs[5]))
        await gateway.send(*reversed(stay(nhs[6])))
        in_order = await eventually(lambda: register.has(people[5], rating="amber", events=3))
        backwards = await eventually(lambda: register.has(people[6], rating="amber", events=3))
        assert ended(in_order) == ended(backwards) == ("amber", False, None, ended(in_order)[3])

        # A merge of two people's hospital records: never applied, put to the DSR team.
        [merge] = await gateway.send(adt("A40", nhs[0], merged_nhs_number=nhs[1], at=at(70)))
        assert merge.code == "AA"

        async def waiting_merges():
            answer = await http.get(f"{stack.url('rating')}/hospital-events/merges", headers=TEAM)
            return answer.json()["merges"]

        [waiting] = await eventually(waiting_merges)
        assert (waiting["kept_register_id"], waiting["merged_register_id"]) == (people[0], people[1])
        assert (await register.person(people[0]))["rating"] == "amber", "the merge changed nothing"
        resolved = await http.post(
            f"{stack.url('rating')}/hospital-events/merges/{waiting['merge_id']}/resolved",
            json={"reason": "Checked with the trust: two people."},
            headers=TEAM,
        )
        assert resolved.status_code == 200 and not await waiting_merges()

    # Nothing personal in the gateway's log: no NHS number, no name.
    log = gateway.process.log_file.read_text()
    assert "hospital message" in log
    assert not any(n in log for n in nhs) and "Testperson" not in log
