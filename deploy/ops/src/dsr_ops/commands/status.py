"""`dsr status`: every part's state."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import httpx
import typer
from rich.markup import escape
from rich.table import Table

from dsr_ops import bus
from dsr_ops.commands import common
from dsr_ops.commands.common import Service, Unreachable
from dsr_ops.settings import SERVICES, OpsSettings


async def _service_state(client: httpx.AsyncClient, settings: OpsSettings, service: str) -> dict[str, Any]:
    try:
        ready = await common.request(client, settings, service, "GET", "/health/ready")
    except Unreachable as exc:
        return {"ready": False, "state": "[red]unreachable[/red]", "details": escape(str(exc)), "version": ""}
    try:
        body = ready.json()
    except ValueError:
        body = {}
    checks = body.get("checks") or {}
    details = "  ".join(
        f"{escape(name)} {'[green]ok[/green]' if ok else '[red]failing[/red]'}" for name, ok in checks.items()
    )
    for stall in (body.get("consumer") or {}).get("stalled") or []:
        details += (
            f"\n[red]stalled: {escape(str(stall.get('topic')))}[{stall.get('partition')}]@"
            f"{stall.get('committed_offset')} for {stall.get('stalled_for_seconds')}s[/red]"
        )
    version = ""
    try:
        spec = await common.request(client, settings, service, "GET", "/openapi.json")
        if spec.status_code == 200:
            version = spec.json().get("info", {}).get("version", "")
    except (Unreachable, ValueError):
        pass
    ok = ready.status_code == 200 and body.get("status") == "ready"
    state = (
        "[green]ready[/green]"
        if ok
        else f"[red]{escape(str(body.get('status', 'not ready')))} ({ready.status_code})[/red]"
    )
    return {
        "ready": ok,
        "state": state,
        "details": details or escape(settings.url(service)),
        "version": escape(str(version)),
    }


async def _mongo_state(uri: str, timeout: float) -> tuple[bool, str]:
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient = AsyncMongoClient(uri, serverSelectionTimeoutMS=int(timeout * 1000))
    try:
        await client.admin.command("ping")
        return True, ""
    except Exception as exc:  # noqa: BLE001 - unreachable, whatever the cause
        return False, type(exc).__name__
    finally:
        await client.close()


def _mongo_hosts(uri: str) -> str:
    """Where MongoDB is, without the credentials a URI may carry."""
    from pymongo.uri_parser import parse_uri

    try:
        return ", ".join(f"{host}:{port}" for host, port in parse_uri(uri)["nodelist"])
    except Exception:  # noqa: BLE001
        return "(unparsable DSR_MONGO_URI)"


def _group_cell(view: bus.GroupView | None) -> str:
    if view is None:
        return ""
    lag = "no offsets yet" if view.lag is None else f"lag {view.lag}"
    if view.lag:
        lag = f"[yellow]{lag}[/yellow]"
    consumers = f"{view.members} consumer{'s' if view.members != 1 else ''}"
    return f"{escape(view.group)}: {lag} ({escape(view.state)}, {consumers})"


async def _status(settings: OpsSettings, services: list[str]) -> tuple[Table, Table | None, bool]:
    timeout = min(settings.http_timeout_seconds, 10.0)
    async with common.client(settings) as client:
        kafka, (mongo_ok, mongo_error), *states = await asyncio.gather(
            bus.kafka_view(settings, services, timeout),
            _mongo_state(settings.mongo_uri, timeout),
            *(_service_state(client, settings, s) for s in services),
        )
    table = Table(title="DSR status")
    for column in ("part", "state", "details", "version", "consumer group"):
        table.add_column(column, overflow="fold")
    table.add_row(
        "kafka",
        "[green]reachable[/green]" if kafka.reachable else "[red]unreachable[/red]",
        escape(settings.kafka_bootstrap + (f" ({kafka.error})" if kafka.error else "")),
        "",
        "",
    )
    table.add_row(
        "mongodb",
        "[green]reachable[/green]" if mongo_ok else "[red]unreachable[/red]",
        escape(_mongo_hosts(settings.mongo_uri) + (f" ({mongo_error})" if mongo_error else "")),
        "",
        "",
    )
    for service, state in zip(services, states, strict=True):
        table.add_row(
            service, state["state"], state["details"], state["version"], _group_cell(kafka.groups.get(service))
        )
    dlqs = None
    if kafka.reachable:
        dlqs = Table(title="dead-letter topics")
        dlqs.add_column("topic")
        dlqs.add_column("messages", justify="right")
        for topic, size in kafka.dlq_sizes.items():
            dlqs.add_row(topic, f"[red]{size}[/red]" if size else "0")
    healthy = kafka.reachable and mongo_ok and all(s["ready"] for s in states)
    return table, dlqs, healthy


def status(
    service: Annotated[
        list[Service] | None, typer.Option("--service", help="Only this service (repeatable); default: all four.")
    ] = None,
) -> None:
    """Status of every part.

    Kafka and MongoDB reachable; each service's readiness with its checks, its
    version and its consumer group's lag; the size of each dead-letter topic.
    Exit code 1 when a part is unreachable or not ready."""
    settings = common.settings()
    services = [s.value for s in service] if service else list(SERVICES)
    table, dlqs, healthy = common.run(_status(settings, services))
    console = common.out()
    console.print(table)
    if dlqs is not None:
        if dlqs.row_count:
            console.print(dlqs)
        else:
            common.say(console, f"No dead-letter topics (prefix {settings.topic_prefix!r}).")
    if not healthy:
        raise typer.Exit(1)


def add_to(app: typer.Typer) -> None:
    app.command()(status)
