"""The gateway killed between Kafka's ack and the HL7 ACK: the sender gets no
ACK and sends the message again, and the register ends with one admission.
And FHIR: an Encounter posted by a system that speaks FHIR gives the same
events, an OperationOutcome says what was taken or what is wrong."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from typer.testing import CliRunner

from dsr_shared.platform.auth import Role
from dsr_shared.rules.pseudonym import nhs_number_hash
from dsr_hospital_gateway.samples import adt
from dsr_ops.cli import app
from dsr_testing.support import EventFeed, TopicReader, auth, eventually, referral_accepted, valid_nhs_number

HASH_KEY = "gateway-tests-hash-key"
# Several services as processes, and the first consumer group of a fresh broker.
pytestmark = pytest.mark.timeout(600)
TEAM = auth(Role.DSR_TEAM, subject="dsr.team@example.org")
NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"


def encounter(nhs_number: str, start: datetime, **fields) -> dict:
    return {
        "resourceType": "Encounter",
        "id": uuid.uuid4().hex,
        "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"identifier": {"system": NHS_SYSTEM, "value": nhs_number}},
        "period": {"start": start.isoformat()},
        "serviceProvider": {"identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "RXM"}},
        "location": [
            {
                "location": {"identifier": {"system": "https://fhir.nhs.uk/Id/ods-site-code", "value": "RXM02"}},
                "physicalType": {"coding": [{"code": "si"}]},
            },
            {"location": {"identifier": {"value": "KEDLESTON"}}, "physicalType": {"coding": [{"code": "wa"}]}},
        ],
        "extension": [
            {
                "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-LegalStatus",
                "extension": [
                    {
                        "url": "legalStatus",
                        "valueCodeableConcept": {
                            "coding": [
                                {
                                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-LegalStatusClassificationEngland",
                                    "code": "02",
                                }
                            ]
                        },
                    }
                ],
            }
        ],
        **fields,
    }


async def test_a_gateway_killed_before_its_ack_records_one_admission_and_fhir_encounters(
    service_process, hospital_gateway, infra, isolation
):
    rating = service_process("rating", DSR_AREA_PROFILE="derbyshire", DSR_NHS_HASH_KEY=HASH_KEY)
    crashing = await hospital_gateway(DSR_EXIT_AFTER_PUBLISH_FOR_TESTS="true")
    feed = await EventFeed(infra.kafka_bootstrap, f"{isolation}.", "QJ2").start()
    reader = TopicReader(infra.kafka_bootstrap, f"{isolation}.dsr.hospital.admissions")
    people = {}
    try:
        async with httpx.AsyncClient(timeout=30) as http, reader:
            for seed in range(2):
                nhs = valid_nhs_number(9100 + 10 * seed)
                register_id = f"QJ2-GATE-{seed:04d}-X"
                people[register_id] = nhs
                data = referral_accepted(register_id, nhs_number_hash(HASH_KEY, nhs), referrer="ref@example.org")
                await feed.publish("dsr.referrals", "ReferralAccepted", data, key=register_id)
            (first, nhs), (second, other) = people.items()

            async def view(register_id: str) -> dict:
                answer = await http.get(f"{rating.url}/register/{register_id}", headers=TEAM)
                return answer.json() if answer.status_code == 200 else {}

            await eventually(lambda: _rated(view, first, "amber"))
            admitted = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=1)
            message = adt("A01", nhs, at=admitted, admitted_at=admitted, control_id="CRASH-0001")
            async with crashing.sender() as sender:
                try:
                    answer = await sender.send(message)
                except (asyncio.IncompleteReadError, ConnectionError):
                    answer = None
            assert answer is None, "no ACK: the gateway died after the publish"
            await eventually(lambda: crashing.process.pid is None)
            await eventually(lambda: reader.events(f"{isolation}.dsr.hospital.admissions", "Admitted"))

            # The sender resends to the restarted gateway.
            gateway = await hospital_gateway(mllp_port=crashing.mllp_port)
            [ack] = await gateway.send(message)
            assert ack.code == "AA" and ack.control_id == "CRASH-0001"
            blue = await eventually(lambda: _rated(view, first, "blue"))
            # The reader may read a record twice when it rejoins its group: count records by offset.
            records = {(r.partition, r.offset): r for r in reader.on(f"{isolation}.dsr.hospital.admissions")}
            ids = {json.loads(r.value)["event_id"] for r in records.values()}
            assert len(records) == 2 and len(ids) == 1, "published twice, as one event"
            await asyncio.sleep(0)  # the second copy is read by the register too
            blue = await eventually(lambda: _rated(view, first, "blue", rating.log_file))
            assert len(blue["hospital_events"]) == 1
            assert [h["cause"] for h in blue["history"]] == ["referral", "admission"]

            # `dsr hl7`: a sample message for a demo person, as an integration engine sends it.
            env = {
                "DSR_GATEWAY_MLLP": f"127.0.0.1:{gateway.mllp_port}",
                "DSR_AREA_PROFILE": "derbyshire",
                "COLUMNS": "200",
            }
            later = (admitted + timedelta(hours=1)).isoformat()
            sent = await asyncio.to_thread(CliRunner().invoke, app, ["hl7", "A03", nhs, "--at", later], env=env)
            assert sent.exit_code == 0 and "AA recorded: Discharged" in sent.output and nhs not in sent.output, (
                sent.output
            )
            await eventually(lambda: _rated(view, first, "amber"))

            # FHIR: an in-progress Encounter is an admission; the legal status from the UK Core extension.
            def post(body, **headers):
                return http.post(f"{gateway.url}/fhir/Encounter", json=body, headers={**auth(Role.SYSTEM), **headers})

            body = encounter(other, admitted)
            taken = await post(body)
            assert taken.status_code == 200 and taken.headers["content-type"].startswith("application/fhir+json")
            assert taken.json()["resourceType"] == "OperationOutcome"
            assert taken.json()["issue"][0]["diagnostics"] == "recorded: Admitted"
            stay = (await eventually(lambda: _rated(view, second, "blue")))["hospital"]
            assert (stay["hospital_ods_code"], stay["ward"], stay["secure"], stay["legal_basis"]) == (
                "RXM02",
                "KEDLESTON",
                True,
                "section_2",
            )
            # The same Encounter finished: the admission again (the same event) and the discharge.
            later = admitted + timedelta(hours=3)
            finished = await post(
                {**body, "status": "finished", "period": {"start": admitted.isoformat(), "end": later.isoformat()}}
            )
            assert finished.json()["issue"][0]["diagnostics"] == "recorded: Admitted, Discharged"
            amber = await eventually(lambda: _rated(view, second, "amber"))
            assert len(amber["hospital_events"]) == 2

            # What is wrong, every issue, no value repeated; and who may post.
            wrong = await post({**body, "class": "IMP", "period": {"start": "yesterday"}})
            assert wrong.status_code == 422 and wrong.json()["resourceType"] == "OperationOutcome"
            assert len(wrong.json()["issue"]) >= 2 and "yesterday" not in wrong.text
            invalid = await post(encounter("9434765918", admitted))
            assert invalid.status_code == 422 and "9434765918" not in invalid.text
            assert (await post(body, Authorization=auth(Role.DSR_TEAM)["Authorization"])).status_code == 403
            assert (await http.post(f"{gateway.url}/fhir/Encounter", json=body)).status_code == 401
    finally:
        await feed.stop()


async def _rated(view, register_id: str, rating: str, *_) -> dict | None:
    found = await view(register_id)
    return found if found.get("rating") == rating else None
