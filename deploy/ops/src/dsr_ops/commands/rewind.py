"""`dsr rewind`: a stopped service's consumer group back to the start of its topics."""

from __future__ import annotations

from typing import Annotated

import typer

from dsr_ops import bus
from dsr_ops.commands import common
from dsr_ops.commands.common import Service


def rewind(
    service: Annotated[Service, typer.Argument(help="The service whose consumer group to rewind.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Rewind a stopped service's consumer group, for a rebuild.

    Moves the group (<prefix>dsr-<service>) to the start of the topics the
    service reads, so that its next start reads them all again
    (docs/REGISTER.md, "Rebuilding the register from the topics"). Kafka takes
    offsets only from a group with no consumer: stop every process of the
    service first."""
    from dsr_ops.replay import rewind_consumer_group

    settings = common.settings()
    try:
        plan = common.run(bus.rewind_plan(settings, service.value))
    except Exception as exc:  # noqa: BLE001
        raise common.fail(f"Kafka at {settings.kafka_bootstrap}: {exc or type(exc).__name__}") from None
    if not plan.stopped:
        raise common.fail(
            f"the consumer group {plan.group} has {plan.members} consumer(s) (state {plan.state}): stop every "
            f"{service.value} process first; nothing was changed"
        )
    if not plan.topics:
        raise common.fail(
            f"none of the topics {service.value} reads exists (is DSR_TOPIC_PREFIX right?); nothing was changed"
        )
    console = common.out()
    common.say(console, f"Consumer group {plan.group} ({plan.state}) will be moved to the earliest offset of:")
    for topic in plan.topics:
        common.say(console, f"  {topic}")
    if not yes:
        typer.confirm(f"Every message on these topics will be read again by {service.value}. Rewind?", abort=True)
    try:
        partitions = common.run(rewind_consumer_group(settings.kafka_bootstrap, plan.group, plan.topics))
    except Exception as exc:  # noqa: BLE001 - e.g. a process started meanwhile
        raise common.fail(f"not rewound: {exc or type(exc).__name__} (did a {service.value} process start?)") from None
    common.say(console, f"Rewound {plan.group}: {partitions} partition(s) of {len(plan.topics)} topic(s).")
    if service.value == "rating":
        common.say(
            console,
            "To rebuild the register: drop its database, start ONE rating process with DSR_REBUILD=true, "
            "and restart it without DSR_REBUILD once its lag is zero (docs/REGISTER.md).",
        )
    else:
        common.say(
            console,
            f"On its next start {service.value} reads everything again; its inbox drops what it already applied.",
        )


def add_to(app: typer.Typer) -> None:
    app.command()(rewind)
