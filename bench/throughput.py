"""The rating service's sustained throughput through a backlog, and the
rebuild of the register from its topics (issue 16, item 3), each beside the
raw floor measured in the same run: aiokafka reading the same messages with
one indexed upsert per event on the same SecantusDB.

1. The register: --people ReferralAccepted on dsr.referrals, applied by the
   rating service (as its own process, derbyshire profile).
2. The backlog: with the service stopped, --admissions hospital events for
   those people (admissions and discharges, alternately for each person) go
   onto dsr.hospital.admissions and dsr.hospital.discharges; the service starts
   and works through them. Events/s from its first commit to zero lag.
3. The raw floor: a plain aiokafka consumer (its own group) reads the same
   backlog and upserts one document per event, by an indexed NHS number hash,
   then commits; events/s. Goal: the service at >= 60% of it.
4. The rebuild (docs/REGISTER.md): the service stopped, its database dropped,
   its group rewound to the start of its four topics, one process started with
   DSR_REBUILD=true; events/s until zero lag, against the raw floor (goal >= 50%),
   and the register's size afterwards.

Starts its own Kafka and SecantusDB, as the tests do (or uses DSR_KAFKA_BOOTSTRAP
and DSR_MONGO_URI).

    uv run --frozen python bench/throughput.py [--admissions 50000] [--people 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from dsr_shared.contract.envelope import new_envelope
from dsr_shared.contract.topics import Topic
from dsr_shared.platform.db import build_mongo_client
from dsr_shared.rules.pseudonym import nhs_number_hash
from dsr_devstack import ServiceProcess, free_port
from dsr_ops.replay import rewind_consumer_group
from dsr_testing.infra import infrastructure
from dsr_testing.support import referral_accepted, valid_nhs_number

ROOT = Path(__file__).resolve().parents[1]

HASH_KEY = "throughput-bench-hash-key"
AREA = "QJ2"
READS = (Topic.REFERRALS, Topic.RATINGS, Topic.ADMISSIONS, Topic.DISCHARGES)  # the rating service's input topics
START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


class Bench:
    def __init__(self, infra, state: Path) -> None:
        self.infra = infra
        self.state = state
        self.prefix = f"b{uuid.uuid4().hex[:8]}."
        self.group = f"{self.prefix}dsr-rating"
        self.database = f"{self.prefix[:-1]}_rating"

    def topic(self, topic: Topic) -> str:
        return f"{self.prefix}{topic.value}"

    def rating(self, **env: str) -> ServiceProcess:
        port = free_port()
        process = ServiceProcess(
            "rating",
            "dsr_rating",
            port,
            {
                "DSR_KAFKA_BOOTSTRAP": self.infra.kafka_bootstrap,
                "DSR_MONGO_URI": self.infra.mongo_uri,
                "DSR_TOPIC_PREFIX": self.prefix,
                "DSR_MONGO_DB": self.database,
                "DSR_NHS_HASH_KEY": HASH_KEY,
                "DSR_DEVELOPMENT_MODE": "true",
                "DSR_AREA_PROFILE": "derbyshire",
                "DSR_HTTP_PORT": str(port),
                **env,
            },
            self.state / f"rating-{uuid.uuid4().hex[:4]}.log",
            start_timeout=120,
        )
        process.start()
        return process

    async def publish(self, messages: list[tuple[Topic, str, str, dict, datetime]]) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.infra.kafka_bootstrap, acks="all", enable_idempotence=True, linger_ms=5
        )
        await producer.start()
        try:
            for start in range(0, len(messages), 2000):
                pending = []
                for topic, key, event_type, data, at in messages[start : start + 2000]:
                    envelope = new_envelope(
                        event_type=event_type, schema_version=1, occurred_at=at, area=AREA, data=data
                    )
                    pending.append(
                        await producer.send(self.topic(topic), envelope.model_dump_json().encode(), key=key.encode())
                    )
                await asyncio.gather(*pending)
        finally:
            await producer.stop()

    async def start(self) -> None:
        # One admin client and one consumer for every measurement: a new pair per poll costs the service CPU.
        self.admin = AIOKafkaAdminClient(bootstrap_servers=self.infra.kafka_bootstrap)
        self.offsets = AIOKafkaConsumer(bootstrap_servers=self.infra.kafka_bootstrap)
        await self.admin.start()
        await self.offsets.start()

    async def stop(self) -> None:
        await self.offsets.stop()
        await self.admin.close()

    async def lag(self, group: str, topics: list[str]) -> tuple[int, int]:
        """(committed messages, messages not yet committed) of `group` on `topics`."""
        committed = await self.admin.list_consumer_group_offsets(group)
        described = await self.admin.describe_topics(topics)
        partitions = [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]
        ends = await self.offsets.end_offsets(partitions)
        starts = await self.offsets.beginning_offsets(partitions)
        done = {
            tp: committed[tp].offset if tp in committed and committed[tp].offset >= 0 else starts[tp]
            for tp in partitions
        }
        return sum(done[tp] - starts[tp] for tp in partitions), sum(ends[tp] - done[tp] for tp in partitions)

    async def settled(self, mongo) -> int:
        """Wait until the service has published everything it staged and read its own log back;
        returns how many events its topic (dsr.ratings) holds."""
        outbox = mongo[self.database]["outbox"]
        while await outbox.count_documents({"published_at": None}) or (await self.lag(self.group, self.reads))[1]:
            await asyncio.sleep(1)
        return sum((await self.lag(self.group, [self.topic(Topic.RATINGS)])))

    async def dead_letters(self) -> int:
        """How many messages the service dead-lettered from its input topics: a
        backlog measured through the dead-letter path measures the wrong thing."""
        existing = set(await self.offsets.topics())
        dlqs = [f"{t}.dlq" for t in self.reads if f"{t}.dlq" in existing]
        partitions = [TopicPartition(t, p) for t in dlqs for p in self.offsets.partitions_for_topic(t) or ()]
        ends = await self.offsets.end_offsets(partitions) if partitions else {}
        return sum(ends.values())

    @property
    def reads(self) -> list[str]:
        return [self.topic(t) for t in READS]

    async def drained(self, group: str, topics: list[str], say: Callable[[str], None]) -> tuple[int, float]:
        """Wait for `group` to commit everything on `topics`: (events, seconds) from its first commit on."""
        base, _ = await self.lag(group, topics)
        first: tuple[int, float] | None = None
        last_said = time.monotonic()
        while True:
            done, left = await self.lag(group, topics)
            now = time.monotonic()
            if first is None and done > base:
                first = (done, now)
            if left == 0 and first is not None:
                events, seconds = done - first[0], now - first[1]
                return events, seconds
            if now - last_said > 30:
                say(f"  {done - base:,} done, {left:,} to go")
                last_said = now
            await asyncio.sleep(0.5)


async def raw_floor(bench: Bench, topics: list[str]) -> tuple[int, float]:
    """aiokafka reads `topics` from the start; one indexed upsert per event, committed per batch read."""
    client = build_mongo_client(bench.infra.mongo_uri)
    collection = client[f"{bench.prefix[:-1]}_raw"]["people"]
    await collection.create_index("nhs_number_hash", unique=True)
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bench.infra.kafka_bootstrap,
        group_id=f"{bench.prefix}raw",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    _, total = await bench.lag(f"{bench.prefix}raw", topics)
    done = 0
    started = time.monotonic()
    try:
        while done < total:
            batch = await consumer.getmany(timeout_ms=1000, max_records=500)
            for records in batch.values():
                for record in records:
                    envelope = json.loads(record.value)
                    data = envelope["data"]
                    await collection.update_one(
                        {"nhs_number_hash": nhs_number_hash(HASH_KEY, data["nhs_number"])},
                        {
                            "$set": {"last_event": envelope["event_type"], "at": envelope["occurred_at"]},
                            "$addToSet": {"events": envelope["event_id"]},
                        },
                        upsert=True,
                    )
                    done += 1
            if batch:
                await consumer.commit()
        return done, time.monotonic() - started
    finally:
        await consumer.stop()
        await client.close()


async def run(admissions: int, people: int, say: Callable[[str], None]) -> None:
    with tempfile.TemporaryDirectory() as state, infrastructure(Path(state) / "infra") as infra:
        bench = Bench(infra, Path(state))
        await bench.start()
        nhs = [valid_nhs_number(20_000 + 10 * n) for n in range(people)]
        register_ids = [f"{AREA}-THRU-{n:05d}-X" for n in range(people)]

        # 1. The register.
        rating = bench.rating()
        say(f"register: {people:,} ReferralAccepted")
        await bench.publish(
            [
                (Topic.REFERRALS, rid, "ReferralAccepted", referral_accepted(rid, nhs_number_hash(HASH_KEY, n)), START)
                for rid, n in zip(register_ids, nhs, strict=True)
            ]
        )
        entered, entered_in = await bench.drained(bench.group, [bench.topic(Topic.REFERRALS)], say)
        say(f"  {entered:,} events in {entered_in:.1f}s")
        mongo = build_mongo_client(infra.mongo_uri)
        await bench.settled(mongo)
        rating.stop()

        # 2. The backlog, with the service stopped.
        hospital: list[tuple[Topic, str, str, dict, datetime]] = []
        for k in range(admissions):
            person, round_ = k % people, k // people
            at = START + timedelta(days=1, hours=round_)
            if round_ % 2 == 0:
                hospital.append(
                    (
                        Topic.ADMISSIONS,
                        nhs[person],
                        "Admitted",
                        {
                            "nhs_number": nhs[person],
                            "admitted_at": at.isoformat(),
                            "hospital_ods_code": "RXM",
                            "bed_type": "mental_health",
                            "legal_basis": "section_2",
                        },
                        at,
                    )
                )
            else:
                hospital.append(
                    (
                        Topic.DISCHARGES,
                        nhs[person],
                        "Discharged",
                        {
                            "nhs_number": nhs[person],
                            "discharged_at": at.isoformat(),
                            "hospital_ods_code": "RXM",
                            "destination": "home",
                        },
                        at,
                    )
                )
        say(f"backlog: {admissions:,} admissions and discharges")
        await bench.publish(hospital)
        hospital_topics = [bench.topic(Topic.ADMISSIONS), bench.topic(Topic.DISCHARGES)]
        rating = bench.rating()
        backlog, backlog_in = await bench.drained(bench.group, hospital_topics, say)
        rated = await bench.settled(mongo)
        dead = await bench.dead_letters()
        rating.stop()
        await mongo.close()  # idle through the raw floor, its connections may be closed by then
        service_rate = backlog / backlog_in
        say(f"  rating service: {backlog:,} events in {backlog_in:.1f}s")

        # 3. The raw floor, on the same messages.
        raw, raw_in = await raw_floor(bench, hospital_topics)
        raw_rate = raw / raw_in
        say(f"  raw floor: {raw:,} events in {raw_in:.1f}s")

        # 4. The rebuild.
        mongo = build_mongo_client(infra.mongo_uri)
        await mongo.drop_database(bench.database)
        await rewind_consumer_group(infra.kafka_bootstrap, bench.group, bench.reads)
        say("rebuild: database dropped, group rewound")
        rating = bench.rating(DSR_REBUILD="true")
        rebuilt, rebuilt_in = await bench.drained(bench.group, bench.reads, say)
        rating.stop()
        on_register = await mongo[bench.database]["people"].count_documents({})
        await mongo.close()
        await bench.stop()
        rebuild_rate = rebuilt / rebuilt_in

        print()
        print(f"{'':<44} | {'events':>8} | {'seconds':>8} | {'events/s':>8} | vs raw | goal")
        print(
            f"{'register entered (ReferralAccepted)':<44} | {entered:>8,} | {entered_in:>8.1f} | "
            f"{entered / entered_in:>8.1f} | {entered / entered_in / raw_rate:>5.0%} |"
        )
        print(
            f"{'backlog: rating service':<44} | {backlog:>8,} | {backlog_in:>8.1f} | {service_rate:>8.1f} | "
            f"{service_rate / raw_rate:>5.0%} | >= 60%"
        )
        print(
            f"{'backlog: raw aiokafka + one upsert per event':<44} | {raw:>8,} | {raw_in:>8.1f} | {raw_rate:>8.1f} | "
            f"{1:>5.0%} |"
        )
        print(
            f"{'rebuild (DSR_REBUILD, all four topics)':<44} | {rebuilt:>8,} | {rebuilt_in:>8.1f} | "
            f"{rebuild_rate:>8.1f} | {rebuild_rate / raw_rate:>5.0%} | >= 50%"
        )
        print(
            f"register after the rebuild: {on_register:,} people (of {people:,}); the rebuild read {people:,} "
            f"referrals, {admissions:,} hospital events and {rated:,} events of dsr.ratings"
        )
        print(
            f"dead-lettered by the service: {dead:,}"
            + (" (the figures are not the service's: look at why)" if dead else "")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admissions", type=int, default=50_000, help="admissions and discharges in the backlog")
    parser.add_argument("--people", type=int, default=10_000, help="people on the register")
    args = parser.parse_args()
    started = time.monotonic()
    asyncio.run(run(args.admissions, args.people, lambda line: print(line, flush=True)))
    print(f"run time {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    main()
