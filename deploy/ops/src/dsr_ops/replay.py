"""Move a stopped service's consumer group back to the start of its topics,
so that its next start reads them all again (a rebuild: docs/REGISTER.md).
`dsr rewind` uses it. Kafka takes offsets only from a group with no consumer:
stop the service first.

It imports only the standard library and aiokafka, so it also runs on its own
in any service's pod, which has both and DSR_KAFKA_BOOTSTRAP, but not this
package:

    python - GROUP TOPIC [TOPIC ...] < replay.py"""

from __future__ import annotations

import asyncio
import os
import sys

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def rewind_consumer_group(bootstrap: str, group: str, topics: list[str]) -> int:
    """Commit the earliest offset of every partition of `topics` for `group`;
    returns how many partitions were rewound."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    partitions = [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.commit(await consumer.beginning_offsets(partitions))
        return len(partitions)
    finally:
        await consumer.stop()


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rewound = asyncio.run(rewind_consumer_group(os.environ["DSR_KAFKA_BOOTSTRAP"], sys.argv[1], sys.argv[2:]))
    print(f"rewound {sys.argv[1]}: {rewound} partition(s) of {len(sys.argv) - 2} topic(s)")
