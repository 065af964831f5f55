"""Dead-letter topics: read one, and republish its messages to the topics they
came from (docs/RUNBOOK.md, "Replay a dead-letter topic"). `dsr dlq` uses it.

It imports only the standard library and aiokafka, so it also runs on its own
in any service's pod, which has both and DSR_KAFKA_BOOTSTRAP, but not this
package:

    python - DLQ_TOPIC [REASON] < dlq.py

Each message goes back with its original bytes and key to the topic in its
`dlq-source-topic` header; with REASON, only messages whose `dlq-reason` is
REASON. Only what is in the DLQ when it starts is replayed, and the DLQ keeps
its messages. A message too large to copy whole was kept as its first bytes
(header `dlq-truncated`): it cannot be replayed, and is left out. Consumers drop an event they have already applied (by
event_id), so replaying a message twice does no harm; one that still fails
goes to the DLQ again.

What is printed about a message never includes its key or body: on the
hospital topics the key is an NHS number."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

DLQ_SUFFIX = ".dlq"


class NoSuchTopic(LookupError):
    pass


@dataclass(frozen=True)
class DeadLetter:
    """One message of a dead-letter topic, as the consumer that gave up left it."""

    dlq: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]

    @property
    def reason(self) -> str:
        return self.headers.get("dlq-reason", "")

    @property
    def error(self) -> str:
        return self.headers.get("dlq-error", "")

    @property
    def excerpt(self) -> bool:
        """Only the message's first bytes were kept: it was too large to copy whole."""
        return self.headers.get("dlq-truncated") == "true"

    @property
    def source_topic(self) -> str:
        """Where it came from: the header, else the DLQ's name without `.dlq`."""
        return self.headers.get("dlq-source-topic") or self.dlq.removesuffix(DLQ_SUFFIX)

    @property
    def source(self) -> str:
        partition = self.headers.get("dlq-source-partition", "?")
        offset = self.headers.get("dlq-source-offset", "?")
        return f"{self.source_topic}[{partition}]@{offset}"

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, timezone.utc)

    @property
    def event(self) -> tuple[str, str]:
        """(event_type, event_id) when the body is an envelope, else ("", "")."""
        try:
            body = json.loads(self.value)
        except (ValueError, UnicodeDecodeError):
            return "", ""
        if not isinstance(body, dict):
            return "", ""
        return str(body.get("event_type") or ""), str(body.get("event_id") or "")

    def describe(self) -> str:
        event_type, event_id = self.event
        event = f"{event_type} {event_id}" if event_type else "(not an envelope)"
        return (
            f"{self.dlq}[{self.partition}]@{self.offset} {event} from {self.source} ({self.reason}: {self.error[:120]})"
        )


def _decode(value: bytes | None) -> str:
    return value.decode("utf-8", "replace") if value is not None else ""


async def partitions_of(bootstrap: str, topic: str) -> list[TopicPartition]:
    """The topic's partitions; NoSuchTopic if it does not exist (it is not created)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            raise NoSuchTopic(topic)
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return [TopicPartition(topic, p["partition"]) for p in described["partitions"]]


async def read(bootstrap: str, dlq: str) -> list[DeadLetter]:
    """Every message in `dlq` now (what arrives while reading is left out)."""
    partitions = await partitions_of(bootstrap, dlq)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: list[DeadLetter] = []
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        while [p for p in partitions if await consumer.position(p) < end[p]]:
            for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
                for record in records:
                    if record.offset >= end[tp]:
                        continue
                    found.append(
                        DeadLetter(
                            dlq=dlq,
                            partition=record.partition,
                            offset=record.offset,
                            timestamp_ms=record.timestamp,
                            key=record.key,
                            value=record.value,
                            headers={k: _decode(v) for k, v in record.headers},
                        )
                    )
    finally:
        await consumer.stop()
    return sorted(found, key=lambda d: (d.timestamp_ms, d.partition, d.offset))


async def replay(
    bootstrap: str,
    dlq: str,
    reason: str | None = None,
    *,
    dry_run: bool = False,
    on_message: Callable[[DeadLetter], None] = lambda letter: None,
    on_excerpt: Callable[[DeadLetter], None] = lambda letter: None,
) -> list[DeadLetter]:
    """Republish the messages of `dlq` (only those with `reason`, if given) to
    their source topics, original bytes and key; returns them. `dry_run`
    republishes nothing. Excerpts are left out (`on_excerpt` hears of each)."""
    chosen = []
    for letter in await read(bootstrap, dlq):
        if reason and letter.reason != reason:
            continue
        if letter.excerpt:
            on_excerpt(letter)
        else:
            chosen.append(letter)
    if dry_run or not chosen:
        for letter in chosen:
            on_message(letter)
        return chosen
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for letter in chosen:
            await producer.send_and_wait(letter.source_topic, letter.value, key=letter.key)
            on_message(letter)
    finally:
        await producer.stop()
    return chosen


async def _script(bootstrap: str, dlq: str, reason: str | None = None) -> None:
    sent = await replay(
        bootstrap,
        dlq,
        reason,
        on_message=lambda letter: print(f"republished {letter.describe()}"),
        on_excerpt=lambda letter: print(f"kept {letter.describe()}: an excerpt, not replayable"),
    )
    print(f"republished {len(sent)} message(s) from {dlq}")


if __name__ == "__main__":
    if not 2 <= len(sys.argv) <= 3:
        sys.exit(__doc__)
    asyncio.run(_script(os.environ["DSR_KAFKA_BOOTSTRAP"], *sys.argv[1:]))
