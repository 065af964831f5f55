"""`dsr skip`: a stopped service's consumer group past the one message it is stuck on."""

from __future__ import annotations

from typing import Annotated

import typer

from dsr_ops import bus
from dsr_ops.commands import common
from dsr_ops.commands.common import Service


def skip(
    service: Annotated[Service, typer.Argument(help="The service whose consumer group is stuck.")],
    topic: Annotated[
        str, typer.Argument(help="The topic, e.g. dsr.hospital.admissions (DSR_TOPIC_PREFIX is added if missing).")
    ],
    partition: Annotated[int, typer.Option("--partition", min=0, help="The partition it is stuck on.")],
    offset: Annotated[int, typer.Option("--offset", min=0, help="The offset of the message to move past.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Move a stopped service's consumer group past one message.

    For a partition that does not move on (GET /health/consumer, `dsr status`):
    the message at TOPIC[--partition]@--offset is copied to TOPIC.dlq with
    dlq-reason skipped_by_operator (its first bytes only if it is too large to
    copy whole), then the group's offset becomes --offset + 1. Kafka takes
    offsets only from a group with no consumer: stop every process of the
    service first. Nothing changes unless the group stands at --offset."""
    settings = common.settings()
    name = topic if topic.startswith(settings.topic_prefix) else f"{settings.topic_prefix}{topic}"
    if not yes:
        typer.confirm(
            f"Copy {name}[{partition}]@{offset} to {name}.dlq and move {settings.group(service.value)} past it?",
            abort=True,
        )
    try:
        done = common.run(bus.skip_message(settings, service.value, name, partition, offset))
    except (bus.NotStopped, bus.NotThere) as exc:
        raise common.fail(str(exc)) from None
    except bus.TopicMissing:
        raise common.fail(f"there is no topic {name}; nothing was changed") from None
    except Exception as exc:  # noqa: BLE001 - the broker's failure, in words
        raise common.fail(f"Kafka at {settings.kafka_bootstrap}: {exc or type(exc).__name__}") from None
    console = common.out()
    kept = f"its first bytes (of {done.original_bytes})" if done.excerpt else f"whole ({done.original_bytes} bytes)"
    common.say(console, f"Copied {name}[{partition}]@{offset} to {name}.dlq (offset {done.dlq_offset}), {kept}.")
    common.say(
        console, f"{done.group} now starts at offset {offset + 1} of {name}[{partition}]; start {service.value} again."
    )


def add_to(app: typer.Typer) -> None:
    app.command()(skip)
