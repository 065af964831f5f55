"""Issue 12, items 2 and 3, reproduced on the real broker and database with the
services as their own processes:

- a message at the broker's size limit (its dead-letter copy would be over the
  producer's limit) no longer stalls its partition: it is dead-lettered as its
  first bytes with its size and origin, and the next message for the same
  person is handled, on `dsr.hospital.admissions` (rating) and on
  `dsr.referrals.submitted` (referral);
- a referral with a 1,100,000-character rationale is refused (422), a body over
  the limit gets 413, and an outbox entry the broker refuses is parked and
  shown to operators while the entries after it are published.

Each test prints its figures (time to move past the message, RSS)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient
from typer.testing import CliRunner

from dsr_shared.contract.envelope import new_envelope
from dsr_shared.platform.auth import Role
from dsr_shared.rules.pseudonym import nhs_number_hash
from dsr_testing.infra import OPS_CLIENT
from dsr_testing.support import NHS_NUMBERS, TopicReader, auth, enveloped, eventually, referral_accepted, referral_body

pytestmark = pytest.mark.stack

HASH_KEY = "poison-tests-hash-key"
# The message: 1,048,448 bytes, under the producer's limit; its
# dead-letter copy (plus about 300 bytes of headers) would be over it.
POISON = b"{" + b"y" * 1_048_447


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def metric(text: str, name: str, **labels: str) -> float | None:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{wanted}}} ") or (not labels and line.startswith(f"{name} ")):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_a_message_at_the_brokers_limit_is_dead_lettered_as_an_excerpt_and_the_partition_moves_on(
    service_process, infra, isolation
):
    fast = {
        "DSR_NHS_HASH_KEY": HASH_KEY,
        "DSR_KAFKA_GAUGES_EVERY_SECONDS": "1",
        "DSR_CONSUMER_STALL_AFTER_SECONDS": "5",
    }
    rating = service_process("rating", **fast)
    referral = service_process("referral", **fast)
    prefix = f"{isolation}."
    admissions, submitted, referrals = (
        f"{prefix}dsr.hospital.admissions",
        f"{prefix}dsr.referrals.submitted",
        f"{prefix}dsr.referrals",
    )
    nhs_number, register_id = NHS_NUMBERS[0], f"QJ2-{uuid.uuid4().hex[:4].upper()}-0001-X"
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    http = httpx.AsyncClient(timeout=30)
    try:
        async with TopicReader(infra.kafka_bootstrap, f"{admissions}.dlq", f"{submitted}.dlq", referrals) as reader:
            accepted = referral_accepted(
                register_id, nhs_number_hash(HASH_KEY, nhs_number), accepted_by="dsr.team@example.org"
            )
            await producer.send_and_wait(referrals, enveloped("ReferralAccepted", accepted), key=register_id.encode())

            async def rating_of() -> str | None:
                answer = await http.get(f"{rating.url}/register/{register_id}", headers=auth(Role.DSR_TEAM))
                return answer.json()["rating"] if answer.status_code == 200 else None

            await eventually(rating_of, timeout=60)
            before = {"rating": rss_mb(rating.pid), "referral": rss_mb(referral.pid)}

            # The reproduction: the poison, then a valid admission with the same key.
            started = time.monotonic()
            poison_at = await producer.send_and_wait(admissions, POISON, key=nhs_number.encode())
            admission = {
                "nhs_number": nhs_number,
                "admitted_at": datetime.now(timezone.utc).isoformat(),
                "hospital_ods_code": "RXM",
                "bed_type": "mental_health",
                "legal_basis": "section_2",
            }
            await producer.send_and_wait(admissions, enveloped("Admitted", admission), key=nhs_number.encode())
            await eventually(lambda: _is(rating_of(), "blue"), timeout=120)
            rating_moved = time.monotonic() - started

            # The same on the referral service's intake topic.
            started = time.monotonic()
            submission = referral_body(nhs_number=NHS_NUMBERS[1])
            key = submission["submission_id"].encode()
            submitted_at = await producer.send_and_wait(submitted, POISON, key=key)
            await producer.send_and_wait(submitted, enveloped("ReferralSubmitted", submission), key=key)
            await eventually(lambda: len(reader.events(referrals, "ReferralAccepted")) == 2, timeout=120)
            referral_moved = time.monotonic() - started

            (rating_letter,) = await eventually(lambda: reader.on(f"{admissions}.dlq"))
            (referral_letter,) = await eventually(lambda: reader.on(f"{submitted}.dlq"))
            for letter, source, sent in (
                (rating_letter, admissions, poison_at),
                (referral_letter, submitted, submitted_at),
            ):
                headers = {k: v.decode() for k, v in letter.headers}
                assert headers["dlq-truncated"] == "true" and headers["dlq-original-bytes"] == str(len(POISON))
                assert headers["dlq-reason"] == "invalid_envelope"
                assert (headers["dlq-source-topic"], headers["dlq-source-partition"], headers["dlq-source-offset"]) == (
                    source,
                    str(sent.partition),
                    str(sent.offset),
                )
                assert letter.value == POISON[: len(letter.value)] and len(letter.value) == 64 * 1024
            assert rating_letter.key == nhs_number.encode()

            metrics = (await http.get(f"{rating.url}/metrics")).text
            assert metric(metrics, "dsr_dead_lettered_excerpts_total", topic=admissions) == 1

            async def moving(service) -> bool:
                answer = await http.get(f"{service.url}/health/consumer")
                return answer.status_code == 200 and answer.json()["status"] == "moving"

            await eventually(lambda: moving(rating), timeout=30)
            await eventually(lambda: moving(referral), timeout=30)
            after = {"rating": rss_mb(rating.pid), "referral": rss_mb(referral.pid)}
            print(
                f"\nrating moved past the poison on {admissions} in {rating_moved:.1f}s; "
                f"referral on {submitted} in {referral_moved:.1f}s"
            )
            for service in before:
                print(f"{service} RSS {before[service]:.0f} MB before, {after[service]:.0f} MB after")
            for letter in (rating_letter, referral_letter):
                headers = {k: v.decode() for k, v in letter.headers}
                print(
                    f"{letter.topic}: {len(letter.value):,} of {headers['dlq-original-bytes']} bytes, "
                    f"{headers['dlq-reason']}, from {headers['dlq-source-topic']}[{headers['dlq-source-partition']}]"
                    f"@{headers['dlq-source-offset']}"
                )
    finally:
        await http.aclose()
        await producer.stop()


async def _is(value, expected) -> bool:
    return (await value) == expected


async def test_an_oversized_referral_is_refused_and_a_parked_outbox_entry_holds_nothing_back(
    service_process, infra, identity, isolation
):
    referral = service_process("referral", DSR_KAFKA_GAUGES_EVERY_SECONDS="1")
    prefix = f"{isolation}."
    referrals = f"{prefix}dsr.referrals"
    async with httpx.AsyncClient(base_url=referral.url, timeout=60) as http:
        # The reproduction: refused before anything is committed.
        body = referral_body(nhs_number=NHS_NUMBERS[2], rating_rationale="x" * 1_100_000)
        started = time.monotonic()
        answer = await http.post("/referrals", json=body, headers=auth(Role.REFERRER))
        took = time.monotonic() - started
        assert answer.status_code == 422, answer.text[:300]
        assert [r["field"] for r in answer.json()["reasons"]] == ["rating_rationale"]
        assert "x" * 100 not in answer.text
        resent = await http.post("/referrals", json=body, headers=auth(Role.REFERRER))
        assert resent.status_code == 422
        too_big = await http.post(
            "/referrals",
            content=b'{"a": "' + b"y" * 3_000_000 + b'"}',
            headers={**auth(Role.REFERRER), "content-type": "application/json"},
        )
        assert too_big.status_code == 413 and too_big.json()["reasons"][0]["code"] == "request.too_large"
        print(f"\n1,100,000-character rationale: {answer.status_code} in {took:.2f}s; 3 MB body: {too_big.status_code}")

        # Two entries a crash left unpublished: the first is over the broker's limit.
        mongo = AsyncMongoClient(infra.mongo_uri, tz_aware=True)
        outbox = mongo[f"{isolation}_referral"]["outbox"]
        staged = datetime.now(timezone.utc) - timedelta(minutes=1)

        def entry(register_id: str, extra: dict, at: datetime) -> dict:
            envelope = new_envelope(
                event_type="AgeBandChanged",
                schema_version=1,
                occurred_at=at,
                area="QJ2",
                data={"register_id": register_id, "age_band": "adult", "effective_on": "2027-01-04", **extra},
            )
            return {
                "_id": str(envelope.event_id),
                "topic": referrals,
                "key": register_id,
                "envelope": envelope.model_dump(mode="json"),
                "created_at": at,
                "published_at": None,
            }

        big = entry("QJ2-BIG0-0001-X", {"padding": "p" * 1_100_000}, staged)
        small = entry("QJ2-SMAL-0002-X", {}, staged + timedelta(seconds=1))
        async with TopicReader(infra.kafka_bootstrap, referrals) as reader:
            await outbox.insert_many([big, small])
            (published,) = await eventually(lambda: reader.events(referrals, "AgeBandChanged"), timeout=60)
            assert published["event_id"] == small["_id"]

        async def parked() -> list[dict]:
            answer = await http.get("/ops/outbox/parked", headers=auth(Role.OPS))
            return answer.json()["parked"]

        (entry_shown,) = await eventually(parked, timeout=30)
        assert (entry_shown["event_id"], entry_shown["event_type"], entry_shown["topic"]) == (
            big["_id"],
            "AgeBandChanged",
            referrals,
        )
        assert "MessageSizeTooLarge" in entry_shown["error"] and "padding" not in str(entry_shown)
        assert (await http.get("/ops/outbox/parked", headers=auth(Role.REFERRER))).status_code == 403
        assert metric((await http.get("/metrics")).text, "dsr_outbox_parked") == 1

        # Operators see it with `dsr outbox list`, and can hand it back to the relay (it is parked again).
        from dsr_ops.cli import app

        env = {
            "DSR_REFERRAL_URL": referral.url,
            "DSR_IDENTITY_URL": identity.issuer,
            "DSR_OPS_CLIENT_ID": OPS_CLIENT[0],
            "DSR_OPS_CLIENT_SECRET": OPS_CLIENT[1],
            "DSR_TOKEN": None,
            "COLUMNS": "250",
        }
        listed = await asyncio.to_thread(CliRunner().invoke, app, ["outbox", "list", "--service", "referral"], env=env)
        assert listed.exit_code == 1 and big["_id"] in listed.output and "AgeBandChanged" in listed.output
        retried = await asyncio.to_thread(CliRunner().invoke, app, ["outbox", "retry", "referral", big["_id"]], env=env)
        assert retried.exit_code == 0, retried.output
        assert (await outbox.find_one({"_id": big["_id"]}))["parked_at"] is None
        await eventually(lambda: _parked_again(outbox, big["_id"]), timeout=30)
        await mongo.close()


async def _parked_again(outbox, entry_id: str) -> bool:
    return (await outbox.find_one({"_id": entry_id}))["parked_at"] is not None
