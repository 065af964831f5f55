"""What the whole-stack benchmarks share: the test suite's infrastructure and
world (real Kafka, SecantusDB, the SMTP sink, the four services as processes),
percentiles, the machine's load while measuring, waiting for the services to
catch up, and the raw floor one hop costs on the same broker and database."""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pymongo.errors import PyMongoError

from dsr_testing import support
from dsr_testing.infra import identity as identity_stack
from dsr_testing.infra import infrastructure
from dsr_testing.register_world import running_world  # noqa: F401  (re-exported for the benchmarks)
from dsr_testing.tokens import BOOTSTRAP_ADMIN, IdentityClient

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def register_infrastructure(folder: Path) -> Iterator[tuple[Any, Any]]:
    """Kafka, SecantusDB and the identity service (whose tokens the services
    check), as the tests start them; yields (infra, identity)."""
    with (
        infrastructure(folder / "infra") as infra,
        identity_stack(folder / "identity", infra, BOOTSTRAP_ADMIN) as identity,
    ):
        client = IdentityClient(identity.provider.url, identity.issuer)
        support.use_identity(client)
        try:
            yield infra, identity
        finally:
            support.use_identity(None)
            client.http.close()


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "mean": statistics.fmean(values) if values else float("nan"),
    }


def load_average() -> float:
    return os.getloadavg()[0]


def machine() -> str:
    cores = os.cpu_count()
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    return f"{cores} cores, {model}, Python {sys.version.split()[0]}"


@dataclass
class LoadSampler:
    """The 1-minute load average, sampled every second while a phase runs."""

    samples: list[float] = field(default_factory=list)
    _task: asyncio.Task | None = None

    async def _run(self) -> None:
        while True:
            self.samples.append(load_average())
            await asyncio.sleep(1)

    def __enter__(self) -> "LoadSampler":
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc) -> None:
        if self._task:
            self._task.cancel()

    def describe(self) -> str:
        if not self.samples:
            return "n/a"
        return f"{statistics.fmean(self.samples):.1f} (min {min(self.samples):.1f}, max {max(self.samples):.1f})"


async def consumer_lag(bootstrap: str, groups: list[str]) -> int:
    """Messages the groups have not committed yet, over all their partitions."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        committed = {group: await admin.list_consumer_group_offsets(group) for group in groups}
    finally:
        await admin.close()
    partitions = {tp for offsets in committed.values() for tp in offsets}
    if not partitions:
        return 0
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        end = await consumer.end_offsets(list(partitions))
    finally:
        await consumer.stop()
    return sum(
        max(0, end[tp] - meta.offset)
        for offsets in committed.values()
        for tp, meta in offsets.items()
        if meta.offset >= 0
    )


async def wait_until_quiet(
    bootstrap: str, groups: list[str], mail_count, *, timeout: float, settle: float = 3.0
) -> float:
    """Wait until the groups have no lag and no mail has arrived for `settle`
    seconds; the seconds waited."""
    started = time.monotonic()
    quiet_since, last_mail = None, -1
    while time.monotonic() - started < timeout:
        lag = await consumer_lag(bootstrap, groups)
        mails = mail_count()
        if lag == 0 and mails == last_mail:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= settle:
                return time.monotonic() - started
        else:
            quiet_since = None
        last_mail = mails
        await asyncio.sleep(1)
    raise TimeoutError(f"the services did not catch up within {timeout:.0f}s")


class Floor:
    """The least one hop of the pipeline can cost here: a message produced with
    acks=all (idempotent), consumed by a consumer group, then one upsert on an
    indexed collection of the same database, then the offset committed. The
    figure is from the message's Kafka timestamp to the upsert's answer."""

    def __init__(self, bootstrap: str, mongo_uri: str) -> None:
        self.bootstrap, self.mongo_uri = bootstrap, mongo_uri
        self.topic = f"bench-floor-{uuid.uuid4().hex[:8]}"
        self.latencies: list[float] = []
        self._consumer_task: asyncio.Task | None = None

    async def __aenter__(self) -> "Floor":
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic
        from pymongo import AsyncMongoClient

        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(self.topic, 3, 1)])
        finally:
            await admin.close()
        self.mongo = AsyncMongoClient(self.mongo_uri, tz_aware=True)
        self.collection = self.mongo[f"bench_floor_{uuid.uuid4().hex[:8]}"]["hops"]
        await self.collection.create_index("key")
        self.producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True)
        await self.producer.start()
        self.consumer = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=self.bootstrap,
            group_id=f"bench-floor-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await self.consumer.start()
        self._expected: asyncio.Queue[None] = asyncio.Queue()
        self._consumer_task = asyncio.create_task(self._consume())
        # Until the consumer has joined its group a hop waits for the join: not a hop's cost.
        await self.hop(0)
        await asyncio.wait_for(self._expected.get(), 120)
        await self.run(10, 10)
        self.latencies.clear()
        return self

    async def _consume(self) -> None:
        async for record in self.consumer:
            key = record.key.decode()
            await self.collection.update_one({"key": key}, {"$set": {"key": key, "offset": record.offset}}, upsert=True)
            self.latencies.append(time.time() * 1000 - record.timestamp)
            await self.consumer.commit()
            self._expected.put_nowait(None)

    async def hop(self, n: int) -> None:
        await self.producer.send_and_wait(self.topic, b"{}", key=f"person-{n % 97}".encode())

    async def run(self, count: int, rate: float) -> list[float]:
        """`count` hops at `rate` a second; their latencies in ms."""
        first = len(self.latencies)
        started = time.monotonic()
        for n in range(count):
            await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
            await self.hop(n)
        for _ in range(count):
            await asyncio.wait_for(self._expected.get(), 60)
        return self.latencies[first:]

    async def __aexit__(self, *exc) -> None:
        if self._consumer_task:
            self._consumer_task.cancel()
            await asyncio.gather(self._consumer_task, return_exceptions=True)
        await self.consumer.stop()
        await self.producer.stop()
        try:
            await self.mongo.drop_database(self.collection.database.name)
        except PyMongoError:  # idle through a long drain, its connection may be closed: the figures matter more
            pass
        await self.mongo.close()
