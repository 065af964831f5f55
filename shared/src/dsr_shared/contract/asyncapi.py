"""The AsyncAPI document of the topics, generated from the event models: every
event class names its topic, so the document cannot drift from the code.
`python -m dsr_shared.contract.asyncapi DIR` writes DIR/asyncapi.json."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from pydantic import create_model

from dsr_shared.contract.envelope import Envelope
from dsr_shared.contract.events import EVENT_TYPES, Event
from dsr_shared.contract.topics import dlq_name

VERSION = "1.0.0"


def _enveloped(event_cls: type[Event]) -> type:
    """The envelope with this event's `data`, for the document."""
    return create_model(
        f"{event_cls.EVENT_TYPE}Message",
        __base__=Envelope,
        __doc__=(event_cls.__doc__ or event_cls.EVENT_TYPE).strip(),
        data=(event_cls, ...),
    )


def asyncapi_document() -> dict:
    broker = KafkaBroker("kafka:9092", description="The area's Kafka cluster")
    for name, event_cls in sorted(EVENT_TYPES.items()):
        topic = event_cls.TOPIC.value
        broker.publisher(
            topic,
            title=f"{topic}:{name}",
            description=(
                f"{name} v{event_cls.SCHEMA_VERSION}, keyed by `{event_cls.KEY_FIELD}`. "
                f"Unprocessable messages go to `{dlq_name(topic)}` with headers dlq-reason, dlq-error, "
                "dlq-source-topic, dlq-source-partition, dlq-source-offset, dlq-attempts."
            ),
            schema=_enveloped(event_cls),
        )
    spec = AsyncAPI(
        broker,
        title="Dynamic Support Register events",
        version=VERSION,
        description="Topics of one area's DSR instance (default names; a prefix is configurable).",
    )
    return json.loads(spec.to_specification().to_json())


def render() -> str:
    return json.dumps(asyncapi_document(), indent=2, sort_keys=True) + "\n"


def main(out_dir: str) -> None:
    path = Path(out_dir) / "asyncapi.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render())
    print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/asyncapi")
