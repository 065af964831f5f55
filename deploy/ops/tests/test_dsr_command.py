"""The `dsr` command, in-process (typer's CliRunner), against the real Kafka and
database and one rating service started as its own process. Each command runs
in a worker thread: it runs its own event loop, as it does from a shell."""

from __future__ import annotations

import ast
import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from typer.testing import CliRunner

from dsr_shared.contract.envelope import Envelope
from dsr_shared.platform.auth import Role
from dsr_shared.rules.pseudonym import nhs_number_hash
from dsr_devstack import free_port
from dsr_ops import dlq, replay
from dsr_ops.cli import app
from dsr_ops.settings import SERVICES
from dsr_testing.infra import OPS_CLIENT
from dsr_testing.support import NHS_NUMBERS, TopicReader, auth, enveloped, eventually, token

HASH_KEY = "ops-tests-hash-key"


def cli_env(infra, identity, isolation: str, **extra: str) -> dict[str, str | None]:
    """The command's environment: this test's Kafka, database and prefix; its
    client at the session's identity service and a DSR team member's token;
    every service at a closed port unless given."""
    closed = f"http://127.0.0.1:{free_port()}"
    return {
        "DSR_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
        "DSR_MONGO_URI": infra.mongo_uri,
        "DSR_TOPIC_PREFIX": f"{isolation}.",
        "DSR_AREA_PROFILE": "derbyshire",
        "DSR_IDENTITY_URL": identity.issuer,
        "DSR_OPS_CLIENT_ID": OPS_CLIENT[0],
        "DSR_OPS_CLIENT_SECRET": OPS_CLIENT[1],
        "DSR_TOKEN": token(Role.DSR_TEAM, subject="dsr.team@example.org"),
        "DSR_HTTP_TIMEOUT_SECONDS": "5",
        "COLUMNS": "250",
        **{f"DSR_{service.upper()}_URL": closed for service in SERVICES},
        **extra,
    }


async def dsr(env: dict[str, str | None], *args: str, input: str | None = None):
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env, input=input)


def ok(result) -> str:
    assert result.exit_code == 0, (result.exit_code, result.output, result.exception)
    return result.output


def row(output: str, first_cell: str) -> str:
    """The line of a rich table whose first cell is `first_cell`."""
    lines = [line for line in output.splitlines() if line.startswith(f"│ {first_cell} ")]
    assert lines, output
    return lines[0]


async def test_the_command_against_a_rating_service(infra, identity, isolation, service_process):
    rating = service_process(
        "rating", DSR_SIMULATED_CLOCK="true", DSR_NHS_HASH_KEY=HASH_KEY, DSR_AREA_PROFILE="derbyshire"
    )
    env = cli_env(infra, identity, isolation, DSR_RATING_URL=rating.url)
    prefix = f"{isolation}."
    referrals, admissions = f"{prefix}dsr.referrals", f"{prefix}dsr.hospital.admissions"
    nhs_number = NHS_NUMBERS[0]
    register_id = f"QJ2-{uuid.uuid4().hex[:4].upper()}-0001-X"
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    http = httpx.AsyncClient(timeout=10)
    try:
        async with TopicReader(infra.kafka_bootstrap, admissions, f"{admissions}.dlq") as reader:
            # Someone on the register, as the referral service would announce them.
            accepted = {
                "referral_id": str(uuid.uuid4()),
                "register_id": register_id,
                "initial_rating": "amber",
                "rating_rationale": "Wellbeing deteriorating.",
                "cohort": "adult",
                "age_band": "adult",
                "nhs_number_hash": nhs_number_hash(HASH_KEY, nhs_number),
                "referrer_email": "case.holder@example.org",
                "accepted_by": "dsr.team@example.org",
            }
            await producer.send_and_wait(referrals, enveloped("ReferralAccepted", accepted), key=register_id.encode())

            async def register(**params: str) -> dict:
                answer = await http.get(f"{rating.url}/register", params=params, headers=auth(Role.DSR_TEAM))
                return answer.json()

            await eventually(lambda: _total(register()), timeout=60)
            output = ok(await dsr(env, "register"))
            assert "amber" in row(output, "amber") and row(output, "amber").rstrip(" │").endswith("1")
            assert register_id in output and "total" in output

            # dsr admit: a valid Admitted in the envelope, keyed by the NHS number, never printed.
            output = ok(
                await dsr(env, "admit", "943 476 5919", "--hospital", "RXM", "--secure", "--legal-basis", "section_3")
            )
            assert nhs_number not in output and "943 476 5919" not in output
            event_id = output.split("event id ")[1].split()[0]
            (record,) = await eventually(lambda: reader.on(admissions))
            assert record.key == nhs_number.encode()
            envelope = Envelope.model_validate_json(record.value)
            assert (str(envelope.event_id), envelope.event_type, envelope.area) == (event_id, "Admitted", "QJ2")
            assert envelope.data | {"admitted_at": None} == {
                "nhs_number": nhs_number,
                "admitted_at": None,
                "hospital_ods_code": "RXM",
                "bed_type": "mental_health",
                "secure": True,
                "legal_basis": "section_3",
                "ward": None,
                "specialty": None,
            }
            assert dict(record.headers)["event_id"] == event_id.encode()
            # The rating service takes it: the person is blue.
            await eventually(lambda: _counts(register(), "blue"), timeout=60)
            output = ok(await dsr(env, "register", "--rating", "blue"))
            assert row(output, "blue").rstrip(" │").endswith("1") and register_id in output

            # dsr clock: the rating service's moves a day; the others, unreachable, are said to be left.
            before = (await http.get(f"{rating.url}/clock", headers=auth(Role.OPS))).json()["offset_seconds"]
            output = ok(await dsr(env, "clock", "advance", "--by", "P1D"))
            assert "Not advanced: referral, scheduler, notifier" in output
            after = (await http.get(f"{rating.url}/clock", headers=auth(Role.OPS))).json()["offset_seconds"]
            assert after - before == 86400
            assert "1 day, 0:00:00" in row(ok(await dsr(env, "clock", "show", "--service", "rating")), "rating")

            # dsr dlq: a malformed admission is dead-lettered by the service, listed, and replayed.
            bad = enveloped("Admitted", {"nhs_number": "12345", "hospital_ods_code": "RXM"})
            await producer.send_and_wait(admissions, bad, key=b"12345")
            await eventually(lambda: reader.on(f"{admissions}.dlq"), timeout=60)
            output = ok(await dsr(env, "dlq", "list", "dsr.hospital.admissions"))
            assert "invalid_event" in output and f"{prefix}dsr-rating" in output and f"{admissions}[" in output
            assert json.loads(bad)["event_id"] in output
            assert "would republish 1 message(s)" in ok(
                await dsr(env, "dlq", "replay", "dsr.hospital.admissions", "--dry-run")
            )
            assert "republished 0 message(s)" in ok(
                await dsr(env, "dlq", "replay", "dsr.hospital.admissions", "--reason", "handler_failed")
            )
            assert "republished 1 message(s)" in ok(await dsr(env, "dlq", "replay", "dsr.hospital.admissions"))
            await eventually(lambda: len(reader.on(admissions)) == 3)
            await asyncio.sleep(1)
            original, replayed = reader.on(admissions)[1:]  # the dry run published nothing
            assert (replayed.key, replayed.value) == (original.key, original.value) == (b"12345", bad)
            # It fails again, so it is back in the DLQ.
            await eventually(lambda: len(reader.on(f"{admissions}.dlq")) == 2, timeout=60)

        # dsr status: the rating service ready, the others unreachable (exit 1), the DLQ's size.
        result = await dsr(env, "status")
        assert result.exit_code == 1, result.output
        assert "reachable" in row(result.output, "kafka") and "unreachable" not in row(result.output, "kafka")
        assert "unreachable" not in row(result.output, "mongodb")
        line = row(result.output, "rating")
        assert "ready" in line and "database ok" in line and "broker ok" in line and "0.1.0" in line
        assert f"{prefix}dsr-rating: lag" in line
        assert "unreachable" in row(result.output, "referral")
        assert row(result.output, f"{admissions}.dlq").rstrip(" │").endswith("2")
    finally:
        await http.aclose()
        await producer.stop()


async def _total(answer) -> int:
    return (await answer)["total"]


async def _counts(answer, rating: str) -> int:
    return (await answer)["counts"]["by_rating"].get(rating, 0)


async def test_an_invalid_nhs_number_or_time_is_refused_before_anything_is_sent(tmp_path):
    # Nothing answers at these addresses: a refusal must come first.
    env = {"DSR_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}", "DSR_TOKEN": None, "COLUMNS": "250"}
    for args in (
        ["admit", "9434765918"],
        ["discharge", "12345"],
        ["admit", "94347659190"],
        ["discharge", "not a number"],
    ):
        result = await dsr(env, *args)
        assert result.exit_code == 2, result.output
        assert "not a valid NHS number" in result.output and "nothing was published" in result.output
        assert args[1] not in result.output
    result = await dsr(env, "admit", NHS_NUMBERS[1], "--at", "2027-01-01T09:00:00")
    assert result.exit_code == 2 and "has no offset" in result.output
    assert NHS_NUMBERS[1] not in result.output
    result = await dsr(env, "clock", "advance")
    assert result.exit_code == 2 and "give either --by or --to" in result.output


async def _topics_with_messages(bootstrap: str, topics: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 2, 1) for t in topics])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for topic in topics:
            for n in range(3):
                await producer.send_and_wait(topic, b"{}", key=str(n).encode())
    finally:
        await producer.stop()


async def _committed(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return {tp: meta.offset for tp, meta in (await admin.list_consumer_group_offsets(group)).items()}
    finally:
        await admin.close()


async def test_rewind_moves_a_stopped_group_to_the_start_after_asking(infra, identity, isolation):
    bootstrap, prefix = infra.kafka_bootstrap, f"{isolation}."
    topics = [
        f"{prefix}{t}" for t in ("dsr.referrals", "dsr.ratings", "dsr.hospital.admissions", "dsr.hospital.discharges")
    ]
    await _topics_with_messages(bootstrap, topics)
    group = f"{prefix}dsr-rating"
    # The group has read everything.
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    partitions = [TopicPartition(t, p) for t in topics for p in (0, 1)]
    consumer.assign(partitions)
    await consumer.commit(await consumer.end_offsets(partitions))
    await consumer.stop()
    at_end = await _committed(bootstrap, group)
    assert sum(at_end.values()) == 12
    env = cli_env(infra, identity, isolation)

    refused = await dsr(env, "rewind", "rating", input="n\n")
    assert refused.exit_code == 1 and "Aborted" in refused.output
    assert all(topic in refused.output for topic in topics)
    assert await _committed(bootstrap, group) == at_end

    # A running consumer in the group: refused, without asking.
    running = AIOKafkaConsumer(topics[0], bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await running.start()
    try:
        await eventually(lambda: running.assignment())
        busy = await dsr(env, "rewind", "rating", "--yes")
        assert busy.exit_code == 1 and "stop every rating process first" in busy.output
    finally:
        await running.stop()
    assert await _committed(bootstrap, group) == at_end

    output = ok(await dsr(env, "rewind", "rating", "--yes"))
    assert "8 partition(s) of 4 topic(s)" in output and "DSR_REBUILD=true" in output
    assert set((await _committed(bootstrap, group)).values()) == {0}

    # As the runbook runs it in a pod, without this package: `python - GROUP TOPIC... < replay.py`.
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    consumer.assign(partitions)
    await consumer.commit(await consumer.end_offsets(partitions))
    await consumer.stop()
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-", group, *topics],
        input=Path(replay.__file__).read_text("utf-8"),
        env={"DSR_KAFKA_BOOTSTRAP": bootstrap},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "8 partition(s) of 4 topic(s)" in done.stdout
    assert set((await _committed(bootstrap, group)).values()) == {0}


@pytest.mark.parametrize("module", [dlq, replay], ids=["dlq", "replay"])
def test_the_dlq_and_replay_modules_need_only_the_standard_library_and_aiokafka(module):
    """They run in a service's pod, where this package is not installed."""
    tree = ast.parse(Path(module.__file__).read_text("utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    roots = {name.split(".")[0] for name in imported}
    assert roots - sys.stdlib_module_names == {"aiokafka"}


async def test_the_dlq_module_replays_as_a_script(infra, isolation, tmp_path):
    """As the runbook runs it in a pod: `python - DLQ_TOPIC < dlq.py`."""
    bootstrap = infra.kafka_bootstrap
    source = f"{isolation}.dsr.hospital.discharges"
    await _topics_with_messages(bootstrap, [source, f"{source}.dlq"])
    headers = [("dlq-source-topic", source.encode()), ("dlq-reason", b"handler_failed"), ("dlq-error", b"boom")]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(f"{source}.dlq", b'{"event_id": "x"}', key=b"the-key", headers=headers)
    finally:
        await producer.stop()
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-", f"{source}.dlq", "handler_failed"],
        input=Path(dlq.__file__).read_text("utf-8"),
        cwd=tmp_path,
        env={"DSR_KAFKA_BOOTSTRAP": bootstrap},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"republished 1 message(s) from {source}.dlq" in done.stdout
    assert "the-key" not in done.stdout
    async with TopicReader(bootstrap, source) as reader:
        await eventually(lambda: [r for r in reader.on(source) if r.key == b"the-key"])
        (replayed,) = [r for r in reader.on(source) if r.key == b"the-key"]
        assert replayed.value == b'{"event_id": "x"}'
