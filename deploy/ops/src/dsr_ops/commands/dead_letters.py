"""`dsr dlq list|replay`: the dead-letter topics."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from dsr_ops import dlq
from dsr_ops.commands import common
from dsr_ops.settings import OpsSettings

dlq_app = typer.Typer(no_args_is_help=True, help="Dead-letter topics (TOPIC.dlq): list, replay.")

DlqTopicArg = Annotated[
    str,
    typer.Argument(
        help="The source topic, e.g. dsr.hospital.admissions: its `.dlq` is read. DSR_TOPIC_PREFIX is added if missing.",
    ),
]


def _dlq_name(settings: OpsSettings, topic: str) -> str:
    name = topic if topic.startswith(settings.topic_prefix) else f"{settings.topic_prefix}{topic}"
    return name if name.endswith(dlq.DLQ_SUFFIX) else f"{name}{dlq.DLQ_SUFFIX}"


def _kafka_failure(settings: OpsSettings, name: str, exc: Exception) -> typer.Exit:
    if isinstance(exc, dlq.NoSuchTopic):
        return common.fail(f"there is no topic {name}")
    return common.fail(f"Kafka at {settings.kafka_bootstrap}: {exc or type(exc).__name__}")


@dlq_app.command("list")
def dlq_list(topic: DlqTopicArg) -> None:
    """The messages in TOPIC.dlq, with their dlq-* headers.

    Never their key or body: on the hospital topics the key is an NHS number."""
    settings = common.settings()
    name = _dlq_name(settings, topic)
    try:
        letters = common.run(dlq.read(settings.kafka_bootstrap, name))
    except Exception as exc:  # noqa: BLE001
        raise _kafka_failure(settings, name, exc) from None
    console = common.out()
    if not letters:
        common.say(console, f"{name} is empty.")
        return
    table = Table(title=name)
    for column in (
        "partition@offset",
        "dead-lettered",
        "reason",
        "attempts",
        "source topic[partition]@offset",
        "consumer group",
        "event",
        "error",
    ):
        table.add_column(escape(column), overflow="fold")
    for letter in letters:
        event_type, event_id = letter.event
        cells = [
            f"{letter.partition}@{letter.offset}",
            letter.at.strftime("%Y-%m-%d %H:%M:%SZ"),
            letter.reason,
            letter.headers.get("dlq-attempts", ""),
            letter.source,
            letter.headers.get("dlq-consumer-group", ""),
            f"{event_type}\n{event_id}" if event_type else "(not an envelope)",
            letter.error[:500],
        ]
        table.add_row(*(escape(cell) for cell in cells))
    console.print(table)
    common.say(
        console, "Columns from the headers dlq-reason, dlq-attempts, dlq-source-*, dlq-consumer-group, dlq-error."
    )
    common.say(console, f"{len(letters)} message(s). Replay with: dsr dlq replay {topic} [--reason R] [--dry-run]")


@dlq_app.command("replay")
def dlq_replay(
    topic: DlqTopicArg,
    reason: Annotated[
        str | None,
        typer.Option(
            "--reason", help="Only messages with this dlq-reason (invalid_envelope, invalid_event, handler_failed)."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be republished; publish nothing.")
    ] = False,
) -> None:
    """Republish TOPIC.dlq's messages to their source topics.

    Each goes back with its original bytes and key. The DLQ keeps them;
    consumers drop an event they already applied (by event_id), and one that
    fails again returns to the DLQ."""
    settings = common.settings()
    name = _dlq_name(settings, topic)
    console = common.out()
    verb = "would republish" if dry_run else "republished"
    try:
        letters = common.run(
            dlq.replay(
                settings.kafka_bootstrap,
                name,
                reason,
                dry_run=dry_run,
                on_message=lambda letter: common.say(console, f"{verb} {letter.describe()}"),
                on_excerpt=lambda letter: common.say(
                    console, f"kept {letter.describe()}: only its first bytes were kept, it cannot be replayed"
                ),
            )
        )
    except Exception as exc:  # noqa: BLE001
        raise _kafka_failure(settings, name, exc) from None
    common.say(console, f"{verb} {len(letters)} message(s) from {name}{f' (dlq-reason {reason})' if reason else ''}")


def add_to(app: typer.Typer) -> None:
    app.add_typer(dlq_app, name="dlq")
