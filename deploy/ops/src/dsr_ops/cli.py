"""`dsr`: operations and demos of the Dynamic Support Register."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_args

import httpx
import typer
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from dsr_shared.auth import Role
from dsr_shared.events import Admitted, Cohort, Discharged, Event, Rating
from dsr_shared.topology import REGISTER_SERVICES
from dsr_ops import audit, bus, dlq, gp_practices
from dsr_ops.settings import SERVICES, NoToken, OpsSettings

T = TypeVar("T")

HELP = """Operations and demos of the Dynamic Support Register.

Settings come from the environment, as the services' do (prefix DSR_):
DSR_KAFKA_BOOTSTRAP, DSR_MONGO_URI, DSR_TOPIC_PREFIX, DSR_AREA_PROFILE, and the
services at DSR_REFERRAL_URL, DSR_RATING_URL, DSR_SCHEDULER_URL and
DSR_NOTIFIER_URL, DSR_HOSPITAL_GATEWAY_URL (default: the local stack,
http://127.0.0.1:8001 to 8004, the gateway 8006), and the gateway's HL7 v2 listener at
DSR_GATEWAY_MLLP (default 127.0.0.1:2575).

Bearer tokens come from the register's identity service (DSR_IDENTITY_URL,
default http://127.0.0.1:8005): for commands that need the ops role, the
command's own client credentials (DSR_OPS_CLIENT_ID, default dsr_ops, and
DSR_OPS_CLIENT_SECRET; on a local stack in development mode, its development
secret). `dsr register` needs a DSR team member and `dsr audit` a DSR team
member or an auditor: set DSR_TOKEN to their register access token.
"""

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None, help=HELP)
dlq_app = typer.Typer(no_args_is_help=True, help="Dead-letter topics (TOPIC.dlq): list, replay.")
clock_app = typer.Typer(no_args_is_help=True, help="Simulated clocks (demos and tests only): show, advance.")
outbox_app = typer.Typer(no_args_is_help=True, help="Outbox entries the broker refused for good (parked): list, retry.")
app.add_typer(dlq_app, name="dlq")
app.add_typer(clock_app, name="clock")
app.add_typer(outbox_app, name="outbox")

Service = StrEnum("Service", {name: name for name in SERVICES})
Target = StrEnum("Target", {"all": "all", **{name: name for name in SERVICES}})
# The contract's choices, from the events themselves.
LegalBasis = StrEnum("LegalBasis", {v: v for v in get_args(Admitted.model_fields["legal_basis"].annotation)})
BedType = StrEnum("BedType", {v: v for v in get_args(Admitted.model_fields["bed_type"].annotation)})

RATING_ORDER = [r.value for r in Rating]
DEFAULT_HOSPITAL = "TST01"


def _out() -> Console:
    return Console()


def _say(console: Console, text: str) -> None:
    """Plain text: brackets in topic names, errors or data are not markup."""
    console.print(text, markup=False, highlight=False)


def _fail(message: str, code: int = 1) -> typer.Exit:
    Console(stderr=True).print(Text(message, style="red"), highlight=False)
    return typer.Exit(code)


def _run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


def _settings() -> OpsSettings:
    try:
        return OpsSettings()
    except ValidationError as exc:
        raise _fail(f"settings: {_reasons(exc)}") from None


def _reasons(exc: ValidationError) -> str:
    """The fields and what is wrong, never the values (one may be an NHS number)."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(value)'}: {e['msg']}" for e in exc.errors())


def _targets(target: Target) -> list[str]:
    return list(SERVICES) if target.value == "all" else [target.value]


@app.callback()
def _quiet() -> None:
    # aiokafka reports a refused connection through logging's last-resort
    # handler; the commands say it themselves.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


# --- HTTP --------------------------------------------------------------------


class Unreachable(Exception):
    pass


async def _request(client: httpx.AsyncClient, settings: OpsSettings, service: str, method: str, path: str,
                   role: Role | None = None, **kwargs: Any) -> httpx.Response:
    url = f"{settings.url(service)}{path}"
    try:
        headers = await settings.bearer(client, role) if role else {}
        return await client.request(method, url, headers=headers, **kwargs)
    except NoToken as exc:
        raise Unreachable(f"without a token: {exc}") from exc
    except httpx.TransportError as exc:
        raise Unreachable(f"unreachable at {settings.url(service)} ({type(exc).__name__})") from exc


def _client(settings: OpsSettings) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=settings.http_timeout_seconds)


def _refusal(service: str, answer: httpx.Response) -> str:
    if answer.status_code in (401, 403):
        return (f"{service}: the token was refused ({answer.status_code}): set DSR_TOKEN to a register access token "
                "of a person with the role this needs")
    try:
        detail = answer.json()
    except ValueError:
        detail = answer.text[:300]
    return f"{service}: {answer.status_code} {detail}"


# --- status ------------------------------------------------------------------


async def _service_state(client: httpx.AsyncClient, settings: OpsSettings, service: str) -> dict[str, Any]:
    try:
        ready = await _request(client, settings, service, "GET", "/health/ready")
    except Unreachable as exc:
        return {"ready": False, "state": "[red]unreachable[/red]", "details": escape(str(exc)), "version": ""}
    try:
        body = ready.json()
    except ValueError:
        body = {}
    checks = body.get("checks") or {}
    details = "  ".join(f"{escape(name)} {'[green]ok[/green]' if ok else '[red]failing[/red]'}" for name, ok in checks.items())
    for stall in (body.get("consumer") or {}).get("stalled") or []:
        details += (f"\n[red]stalled: {escape(str(stall.get('topic')))}[{stall.get('partition')}]@"
                    f"{stall.get('committed_offset')} for {stall.get('stalled_for_seconds')}s[/red]")
    version = ""
    try:
        spec = await _request(client, settings, service, "GET", "/openapi.json")
        if spec.status_code == 200:
            version = spec.json().get("info", {}).get("version", "")
    except (Unreachable, ValueError):
        pass
    ok = ready.status_code == 200 and body.get("status") == "ready"
    state = "[green]ready[/green]" if ok else f"[red]{escape(str(body.get('status', 'not ready')))} ({ready.status_code})[/red]"
    return {"ready": ok, "state": state, "details": details or escape(settings.url(service)), "version": escape(str(version))}


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
    async with _client(settings) as client:
        kafka, (mongo_ok, mongo_error), *states = await asyncio.gather(
            bus.kafka_view(settings, services, timeout),
            _mongo_state(settings.mongo_uri, timeout),
            *(_service_state(client, settings, s) for s in services),
        )
    table = Table(title="DSR status")
    for column in ("part", "state", "details", "version", "consumer group"):
        table.add_column(column, overflow="fold")
    table.add_row("kafka", "[green]reachable[/green]" if kafka.reachable else "[red]unreachable[/red]",
                  escape(settings.kafka_bootstrap + (f" ({kafka.error})" if kafka.error else "")), "", "")
    table.add_row("mongodb", "[green]reachable[/green]" if mongo_ok else "[red]unreachable[/red]",
                  escape(_mongo_hosts(settings.mongo_uri) + (f" ({mongo_error})" if mongo_error else "")), "", "")
    for service, state in zip(services, states, strict=True):
        table.add_row(service, state["state"], state["details"], state["version"], _group_cell(kafka.groups.get(service)))
    dlqs = None
    if kafka.reachable:
        dlqs = Table(title="dead-letter topics")
        dlqs.add_column("topic")
        dlqs.add_column("messages", justify="right")
        for topic, size in kafka.dlq_sizes.items():
            dlqs.add_row(topic, f"[red]{size}[/red]" if size else "0")
    healthy = kafka.reachable and mongo_ok and all(s["ready"] for s in states)
    return table, dlqs, healthy


@app.command()
def status(
    service: Annotated[list[Service] | None, typer.Option("--service", help="Only this service (repeatable); default: all four.")] = None,
) -> None:
    """Status of every part.

    Kafka and MongoDB reachable; each service's readiness with its checks, its
    version and its consumer group's lag; the size of each dead-letter topic.
    Exit code 1 when a part is unreachable or not ready."""
    settings = _settings()
    services = [s.value for s in service] if service else list(SERVICES)
    table, dlqs, healthy = _run(_status(settings, services))
    console = _out()
    console.print(table)
    if dlqs is not None:
        if dlqs.row_count:
            console.print(dlqs)
        else:
            _say(console, f"No dead-letter topics (prefix {settings.topic_prefix!r}).")
    if not healthy:
        raise typer.Exit(1)


# --- the register ------------------------------------------------------------


def _rating_cell(rating: str) -> str:
    colour = {"red": "red", "amber": "dark_orange", "green": "green", "blue": "blue"}.get(rating)
    return f"[{colour}]{rating}[/{colour}]" if colour else escape(rating)


async def _register(settings: OpsSettings, params: dict[str, str]) -> httpx.Response:
    """The listing, page after page (the service gives at most 500 people a
    page): the last answer, holding everyone it listed."""
    async with _client(settings) as client:
        people: list = []
        after: str | None = None
        while True:
            paged = {**params, **({"after": after} if after else {})}
            answer = await _request(client, settings, "rating", "GET", "/register", Role.DSR_TEAM, params=paged)
            if answer.status_code != 200:
                return answer
            body = answer.json()
            people += body["people"]
            after = body.get("next_after")
            if not after:
                return httpx.Response(200, json={**body, "people": people})


@app.command()
def register(
    rating: Annotated[Rating | None, typer.Option("--rating", help="Only people with this rating.")] = None,
    cohort: Annotated[Cohort | None, typer.Option("--cohort", help="Only adults, or children and young people.")] = None,
    status_: Annotated[str, typer.Option("--status", help="on_register, or removed.")] = "on_register",
    counts_only: Annotated[bool, typer.Option("--counts-only", help="Only the counts, not the people.")] = False,
) -> None:
    """The register by rating, with counts.

    From the rating service's GET /register (role dsr_team)."""
    settings = _settings()
    params = {"status": status_, "limit": "0" if counts_only else "500",
              **({"rating": rating.value} if rating else {}), **({"cohort": cohort.value} if cohort else {})}
    try:
        answer = _run(_register(settings, params))
    except Unreachable as exc:
        raise _fail(f"rating service {exc}") from None
    if answer.status_code != 200:
        raise _fail(_refusal("rating", answer))
    body = answer.json()
    by_rating, by_cohort = body["counts"]["by_rating"], body["counts"]["by_cohort"]
    console = _out()
    counts = Table(title=f"register ({status_}{', ' + rating.value if rating else ''}{', ' + cohort.value if cohort else ''})")
    counts.add_column("rating")
    counts.add_column("people", justify="right")
    for name in sorted(by_rating, key=lambda r: (RATING_ORDER.index(r) if r in RATING_ORDER else 99, r)):
        counts.add_row(_rating_cell(name), str(by_rating[name]))
    counts.add_row("[bold]total[/bold]", f"[bold]{body['total']}[/bold]")
    console.print(counts)
    if by_cohort:
        _say(console, "by cohort: " + ", ".join(f"{name} {count}" for name, count in sorted(by_cohort.items())))
    if counts_only or not body["people"]:
        return
    people = Table(title="people")
    for column in ("register id", "rating", "since", "cohort", "age band", "in hospital", "last update"):
        people.add_column(column, overflow="fold")
    rank = {r: i for i, r in enumerate(RATING_ORDER)}
    for person in sorted(body["people"], key=lambda p: (rank.get(p["rating"], 99), p["register_id"])):
        people.add_row(
            escape(person["register_id"]), _rating_cell(person["rating"]), escape(str(person.get("rating_since") or "")[:16]),
            escape(person["cohort"]), escape(str(person.get("age_band") or "")), "yes" if person.get("in_hospital") else "",
            escape(str(person.get("last_update_at") or "")[:16]),
        )
    console.print(people)


# --- hospital events ---------------------------------------------------------


def _nhs_number(value: str) -> str:
    """The digits of a valid NHS number (spaces and hyphens allowed); the
    message never repeats the value."""
    from nhs_number import is_valid

    digits = value.replace(" ", "").replace("-", "")
    if not (len(digits) == 10 and digits.isdigit() and is_valid(digits)):
        raise typer.BadParameter("not a valid NHS number (10 digits, the last a modulus-11 check digit); nothing was published")
    return digits


def _moment(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 time, e.g. 2027-01-01T09:00:00+00:00") from None
    if moment.tzinfo is None:
        raise typer.BadParameter(f"{value!r} has no offset: add one, e.g. {value}Z or {value}+01:00")
    return moment


NhsNumberArg = Annotated[str, typer.Argument(
    callback=_nhs_number, show_default=False,
    help="The person's NHS number (10 digits; spaces allowed). It keys the message and is never printed.",
)]
HospitalOpt = Annotated[str, typer.Option("--hospital", help="The hospital's ODS code.")]
AtOpt = Annotated[str | None, typer.Option("--at", callback=_moment, show_default="now",
                                           help="When it happened: ISO 8601 with an offset, e.g. 2027-01-01T09:00:00Z.")]


def _publish(event_class: type[Event], fields: dict[str, Any], at: datetime) -> None:
    from dsr_shared.envelope import new_envelope

    settings = _settings()
    try:
        event = event_class(**fields)
    except ValidationError as exc:
        raise _fail(f"not published: {_reasons(exc)}", 2) from None
    envelope = new_envelope(
        event_type=event.EVENT_TYPE, schema_version=event.SCHEMA_VERSION, occurred_at=at,
        area=settings.area.code, data=event.model_dump(mode="json"),
    )
    topic = settings.topic(event.TOPIC)
    try:
        sent = _run(bus.publish(settings, topic, envelope, event.message_key()))
    except bus.TopicMissing:
        raise _fail(f"not published: there is no topic {topic} (is DSR_TOPIC_PREFIX right? the services create their "
                    "topics when they first start)") from None
    except Exception as exc:  # noqa: BLE001 - the broker's failure, in words
        raise _fail(f"not published: Kafka at {settings.kafka_bootstrap}: {exc or type(exc).__name__}") from None
    console = _out()
    _say(console, f"{event.EVENT_TYPE} published to {topic} (partition {sent.partition}, offset {sent.offset})")
    _say(console, f"event id {envelope.event_id}")


@app.command()
def admit(
    nhs_number: NhsNumberArg,
    hospital: HospitalOpt = DEFAULT_HOSPITAL,
    secure: Annotated[bool, typer.Option("--secure", help="A secure bed.")] = False,
    legal_basis: Annotated[LegalBasis, typer.Option("--legal-basis", help="Under what the person is in hospital.")] = LegalBasis["informal"],
    bed_type: Annotated[BedType, typer.Option("--bed-type", help="The kind of bed.")] = BedType["mental_health"],
    at: AtOpt = None,
) -> None:
    """Publish a test admission; prints its event id.

    An Admitted in the contract's envelope on dsr.hospital.admissions, keyed by
    the NHS number, as a hospital would send it (acks=all, idempotent)."""
    moment = at or datetime.now(timezone.utc)
    _publish(Admitted, {"nhs_number": nhs_number, "admitted_at": moment, "hospital_ods_code": hospital,
                        "bed_type": bed_type.value, "secure": secure, "legal_basis": legal_basis.value}, moment)


@app.command()
def discharge(
    nhs_number: NhsNumberArg,
    hospital: HospitalOpt = DEFAULT_HOSPITAL,
    destination: Annotated[str | None, typer.Option("--destination", help="Where the person went, e.g. home.")] = None,
    at: AtOpt = None,
) -> None:
    """Publish a test discharge; prints its event id.

    A Discharged in the contract's envelope on dsr.hospital.discharges, keyed by
    the NHS number, as a hospital would send it (acks=all, idempotent)."""
    moment = at or datetime.now(timezone.utc)
    _publish(Discharged, {"nhs_number": nhs_number, "discharged_at": moment, "hospital_ods_code": hospital,
                          "destination": destination}, moment)


# --- the audit ---------------------------------------------------------------


async def _audit_trail(settings: OpsSettings, register_id: str, since: datetime | None) -> audit.Trail:
    async with _client(settings) as client:

        async def fetch(service: str, params: dict[str, Any]) -> httpx.Response:
            return await _request(client, settings, service, "GET", "/audit", Role.AUDITOR, params=params)

        def describe(service: str, exc: Exception) -> str:
            return _refusal(service, exc.answer) if isinstance(exc, audit.Refused) else f"{service}: {exc}"

        return await audit.trail(fetch, list(REGISTER_SERVICES), register_id, since, describe)


@app.command("audit")
def audit_command(
    register_id: Annotated[str, typer.Argument(help="The person's register identifier.")],
    since: Annotated[
        str | None, typer.Option("--since", callback=_moment, help="Only entries at or after this time: ISO 8601 with an offset.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line, instead of a table.")] = False,
) -> None:
    """Who read or changed a person's record: when, through which endpoint,
    with what outcome, across the four services, in time order.

    From each service's GET /audit (role auditor or dsr_team); reading it is
    audited too. Exit code 1 when a service could not be read: what the others
    said is still shown."""
    settings = _settings()
    found = _run(_audit_trail(settings, register_id, since))
    console = _out()
    if as_json:
        for entry in found.entries:
            print(json.dumps(entry, sort_keys=True))
    else:
        table = Table(title=f"audit of {register_id}")
        for column in ("at", "service", "actor", "roles", "action", "outcome", "endpoint"):
            table.add_column(column, overflow="fold")
        for e in found.entries:
            cells = [e["at"], e["service"], e.get("actor_email") or e["actor"], ",".join(e.get("roles") or []), e["action"], e["outcome"],
                     e.get("endpoint") or "(an event)"]
            table.add_row(*(escape(str(cell)) for cell in cells))
        console.print(table)
        _say(console, f"{len(found.entries)} entr{'y' if len(found.entries) == 1 else 'ies'}.")
    for failure in found.failures.values():
        Console(stderr=True).print(Text(failure, style="red"), highlight=False)
    if found.failures:
        raise typer.Exit(1)


# --- HL7 v2 ADT through the hospital gateway ----------------------------------

Trigger = StrEnum("Trigger", {t: t for t in ("A01", "A02", "A03", "A08", "A11", "A13", "A40")})


@app.command()
def hl7(
    trigger: Annotated[Trigger, typer.Argument(help="A01 admit, A02 transfer, A03 discharge, A08 update, "
                                                    "A11 cancel admit, A13 cancel discharge, A40 merge.")],
    nhs_number: NhsNumberArg,
    site: Annotated[str, typer.Option("--site", help="The hospital site's ODS code (PV1-3.4).")] = "RXM01",
    ward: Annotated[str, typer.Option("--ward", help="The ward (PV1-3.1): one the area profile lists counts.")] = "WARD33",
    specialty: Annotated[str, typer.Option(
        "--specialty", help="Main specialty (PV1-10): 710 adult mental illness, 700 learning disability.")] = "710",
    legal_status: Annotated[str, typer.Option("--legal-status", help="Mental Health Act legal status code: 01 informal, 02 s2, 03 s3.")] = "03",
    at: AtOpt = None,
    admitted_at: Annotated[str | None, typer.Option("--admitted-at", callback=_moment, show_default="--at",
                                                    help="PV1-44: the admission an A01, A08 or A11 is about.")] = None,
    discharged_at: Annotated[str | None, typer.Option("--discharged-at", callback=_moment, show_default="--at",
                                                      help="PV1-45: the discharge an A03 or A13 is about.")] = None,
    from_ward: Annotated[str | None, typer.Option("--from-ward", help="A02: the ward left (PV1-6), at --from-site.")] = None,
    from_site: Annotated[str | None, typer.Option("--from-site", help="A02: the site left; --site by default.")] = None,
    merged: Annotated[str | None, typer.Option("--merged", callback=lambda v: _nhs_number(v) if v else None,
                                               help="A40: the NHS number of the record merged into NHS_NUMBER.")] = None,
) -> None:
    """Send a sample HL7 v2.4 ADT message for a demo person to the hospital gateway.

    Over MLLP to DSR_GATEWAY_MLLP (default 127.0.0.1:2575), as a trust's
    integration engine would; prints the ACK (AA, AE or AR and why), never the
    NHS number. The demo person is called Testperson."""
    from dsr_hospital_gateway.samples import MllpSender, Stay, adt

    settings = _settings()
    moment = at or datetime.now(timezone.utc)
    if trigger.value == "A40" and merged is None:
        raise typer.BadParameter("an A40 needs --merged", param_hint="--merged")
    stay = Stay(site=site, ward=ward, specialty=specialty, legal_status=legal_status)
    prior = Stay(site=from_site or site, ward=from_ward, specialty=specialty) if from_ward else None
    dated = {"A01": "admitted", "A08": "admitted", "A11": "admitted", "A03": "discharged", "A13": "discharged"}.get(trigger.value)
    message = adt(
        trigger.value, nhs_number, stay=stay, at=moment, prior=prior, merged_nhs_number=merged,
        admitted_at=(admitted_at or moment) if dated == "admitted" else None,
        discharged_at=(discharged_at or moment) if dated == "discharged" else None,
    )
    host, _, port = settings.gateway_mllp.rpartition(":")

    async def send():
        async with MllpSender(host or "127.0.0.1", int(port), timeout=settings.http_timeout_seconds) as sender:
            return await sender.send(message)

    try:
        ack = _run(send())
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
        raise _fail(f"the hospital gateway at {settings.gateway_mllp} did not answer ({type(exc).__name__})") from None
    _say(_out(), f"{trigger.value} sent (control id {ack.control_id}): {ack.code} {ack.text}".rstrip())
    if ack.code != "AA":
        raise typer.Exit(1)


# --- dead-letter topics ------------------------------------------------------


DlqTopicArg = Annotated[str, typer.Argument(
    help="The source topic, e.g. dsr.hospital.admissions: its `.dlq` is read. DSR_TOPIC_PREFIX is added if missing.",
)]


def _dlq_name(settings: OpsSettings, topic: str) -> str:
    name = topic if topic.startswith(settings.topic_prefix) else f"{settings.topic_prefix}{topic}"
    return name if name.endswith(dlq.DLQ_SUFFIX) else f"{name}{dlq.DLQ_SUFFIX}"


def _kafka_failure(settings: OpsSettings, name: str, exc: Exception) -> typer.Exit:
    if isinstance(exc, dlq.NoSuchTopic):
        return _fail(f"there is no topic {name}")
    return _fail(f"Kafka at {settings.kafka_bootstrap}: {exc or type(exc).__name__}")


@dlq_app.command("list")
def dlq_list(topic: DlqTopicArg) -> None:
    """The messages in TOPIC.dlq, with their dlq-* headers.

    Never their key or body: on the hospital topics the key is an NHS number."""
    settings = _settings()
    name = _dlq_name(settings, topic)
    try:
        letters = _run(dlq.read(settings.kafka_bootstrap, name))
    except Exception as exc:  # noqa: BLE001
        raise _kafka_failure(settings, name, exc) from None
    console = _out()
    if not letters:
        _say(console, f"{name} is empty.")
        return
    table = Table(title=name)
    for column in ("partition@offset", "dead-lettered", "reason", "attempts", "source topic[partition]@offset",
                   "consumer group", "event", "error"):
        table.add_column(escape(column), overflow="fold")
    for letter in letters:
        event_type, event_id = letter.event
        cells = [
            f"{letter.partition}@{letter.offset}", letter.at.strftime("%Y-%m-%d %H:%M:%SZ"), letter.reason,
            letter.headers.get("dlq-attempts", ""), letter.source, letter.headers.get("dlq-consumer-group", ""),
            f"{event_type}\n{event_id}" if event_type else "(not an envelope)", letter.error[:500],
        ]
        table.add_row(*(escape(cell) for cell in cells))
    console.print(table)
    _say(console, "Columns from the headers dlq-reason, dlq-attempts, dlq-source-*, dlq-consumer-group, dlq-error.")
    _say(console, f"{len(letters)} message(s). Replay with: dsr dlq replay {topic} [--reason R] [--dry-run]")


@dlq_app.command("replay")
def dlq_replay(
    topic: DlqTopicArg,
    reason: Annotated[str | None, typer.Option(
        "--reason", help="Only messages with this dlq-reason (invalid_envelope, invalid_event, handler_failed).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be republished; publish nothing.")] = False,
) -> None:
    """Republish TOPIC.dlq's messages to their source topics.

    Each goes back with its original bytes and key. The DLQ keeps them;
    consumers drop an event they already applied (by event_id), and one that
    fails again returns to the DLQ."""
    settings = _settings()
    name = _dlq_name(settings, topic)
    console = _out()
    verb = "would republish" if dry_run else "republished"
    try:
        letters = _run(dlq.replay(settings.kafka_bootstrap, name, reason, dry_run=dry_run,
                                  on_message=lambda letter: _say(console, f"{verb} {letter.describe()}"),
                                  on_excerpt=lambda letter: _say(console, f"kept {letter.describe()}: only its first "
                                                                          "bytes were kept, it cannot be replayed")))
    except Exception as exc:  # noqa: BLE001
        raise _kafka_failure(settings, name, exc) from None
    _say(console, f"{verb} {len(letters)} message(s) from {name}{f' (dlq-reason {reason})' if reason else ''}")


# --- the simulated clock -----------------------------------------------------


ServiceOpt = Annotated[Target, typer.Option("--service", help="Which service's clock; all by default.")]


async def _read_clocks(client: httpx.AsyncClient, settings: OpsSettings, services: list[str]) -> dict[str, dict | str]:
    """service -> its clock reading, or why there is none."""

    async def one(service: str) -> dict | str:
        try:
            answer = await _request(client, settings, service, "GET", "/clock", Role.OPS)
        except Unreachable as exc:
            return str(exc)
        if answer.status_code == 404:
            return "no simulated clock (DSR_SIMULATED_CLOCK is off)"
        if answer.status_code != 200:
            return _refusal(service, answer)
        return answer.json()

    return dict(zip(services, await asyncio.gather(*(one(s) for s in services)), strict=True))


def _clock_table(title: str, readings: dict[str, dict | str], before: dict[str, dict | str] | None = None) -> Table:
    table = Table(title=title)
    table.add_column("service")
    if before is not None:
        table.add_column("was")
    table.add_column("now")
    table.add_column("ahead of real time", justify="right")
    for service, reading in readings.items():
        if isinstance(reading, str):
            cells = [f"[yellow]{escape(reading)}[/yellow]", ""]
        else:
            cells = [escape(str(reading["now"])), str(timedelta(seconds=round(reading["offset_seconds"])))]
        if before is not None:
            was = before.get(service)
            cells.insert(0, escape(str(was["now"])) if isinstance(was, dict) else "")
        table.add_row(service, *cells)
    return table


@clock_app.command("show")
def clock_show(service: ServiceOpt = Target["all"]) -> None:
    """Each service's simulated time (GET /clock)."""
    settings = _settings()

    async def read() -> dict[str, dict | str]:
        async with _client(settings) as client:
            return await _read_clocks(client, settings, _targets(service))

    readings = _run(read())
    _out().print(_clock_table("simulated clocks", readings))
    if not any(isinstance(r, dict) for r in readings.values()):
        raise typer.Exit(1)


def _duration(value: str | None) -> timedelta | None:
    if value is None:
        return None
    try:
        by = TypeAdapter(timedelta).validate_python(value)
    except ValidationError:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 duration, e.g. P3D or PT2H") from None
    if by < timedelta(0):
        raise typer.BadParameter("time only moves forward")
    return by


@clock_app.command("advance")
def clock_advance(
    by: Annotated[str | None, typer.Option("--by", callback=_duration, help="How far: an ISO 8601 duration, e.g. P3D, PT2H.")] = None,
    to: Annotated[str | None, typer.Option("--to", callback=_moment, help="To when: ISO 8601 with an offset, e.g. 2027-01-01T09:00:00Z.")] = None,
    service: ServiceOpt = Target["all"],
) -> None:
    """Move simulated time forward (POST /clock/advance).

    Every service chosen moves by the same amount, so clocks that agreed still
    agree; with --to, the amount takes the clock furthest ahead to that time. A
    service that does not answer or has no simulated clock is left as it is,
    and said so."""
    if (by is None) == (to is None):
        raise typer.BadParameter("give either --by or --to", param_hint="--by / --to")
    settings = _settings()
    services = _targets(service)
    console = _out()

    async def advance() -> tuple[dict[str, dict | str], dict[str, dict | str]]:
        async with _client(settings) as client:
            before = await _read_clocks(client, settings, services)
            ready = {s: r for s, r in before.items() if isinstance(r, dict)}
            if not ready:
                return before, before
            amount: timedelta = by  # type: ignore[assignment]
            if to is not None:
                ahead = max(ready, key=lambda s: datetime.fromisoformat(ready[s]["now"]))
                amount = to - datetime.fromisoformat(ready[ahead]["now"])
                if amount < timedelta(0):
                    raise _fail(f"not advanced: the {ahead} service's clock is already at {ready[ahead]['now']}, after --to")

            # One clock: exactly to --to. Several: all by the same amount.
            body = {"to": to.isoformat()} if to is not None and len(ready) == 1 else {"by": amount.total_seconds()}

            async def one(s: str) -> dict | str:
                try:
                    answer = await _request(client, settings, s, "POST", "/clock/advance", Role.OPS, json=body)
                except Unreachable as exc:
                    return str(exc)
                return answer.json() if answer.status_code == 200 else _refusal(s, answer)

            after = dict(zip(ready, await asyncio.gather(*(one(s) for s in ready)), strict=True))
            return before, {s: after.get(s, before[s]) for s in services}

    before, after = _run(advance())
    console.print(_clock_table("simulated clocks, advanced", after, before))
    advanced = [s for s in services if isinstance(after[s], dict) and after[s] is not before[s]]
    if len(advanced) < len(services):
        left = ", ".join(s for s in services if s not in advanced)
        console.print(Text(f"Not advanced: {left}. Clocks that agreed before may now differ.", style="yellow"))
    if not advanced:
        raise typer.Exit(1)


# --- rewinding a consumer group ----------------------------------------------


@app.command()
def demo(people: Annotated[int, typer.Option("--people", help="How many fictional people.")] = 36) -> None:
    """Fill a local stack's register with fictional people across every rating,
    with history (see dsr_ops/demo.py). Local stacks only: the demo personas
    sign in at the local OpenID provider."""
    from dsr_ops.demo import DemoSettings, load

    settings = DemoSettings(people=people)
    console = _out()
    try:
        counts = _run(load(settings, lambda line: _say(console, line)))
    except (httpx.HTTPError, RuntimeError) as exc:
        raise _fail(f"the demo stopped: {exc}") from None
    _say(console, ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())))


@app.command()
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
    from dsr_shared.replay import rewind_consumer_group

    settings = _settings()
    try:
        plan = _run(bus.rewind_plan(settings, service.value))
    except Exception as exc:  # noqa: BLE001
        raise _fail(f"Kafka at {settings.kafka_bootstrap}: {exc or type(exc).__name__}") from None
    if not plan.stopped:
        raise _fail(f"the consumer group {plan.group} has {plan.members} consumer(s) (state {plan.state}): stop every "
                    f"{service.value} process first; nothing was changed")
    if not plan.topics:
        raise _fail(f"none of the topics {service.value} reads exists (is DSR_TOPIC_PREFIX right?); nothing was changed")
    console = _out()
    _say(console, f"Consumer group {plan.group} ({plan.state}) will be moved to the earliest offset of:")
    for topic in plan.topics:
        _say(console, f"  {topic}")
    if not yes:
        typer.confirm(f"Every message on these topics will be read again by {service.value}. Rewind?", abort=True)
    try:
        partitions = _run(rewind_consumer_group(settings.kafka_bootstrap, plan.group, plan.topics))
    except Exception as exc:  # noqa: BLE001 - e.g. a process started meanwhile
        raise _fail(f"not rewound: {exc or type(exc).__name__} (did a {service.value} process start?)") from None
    _say(console, f"Rewound {plan.group}: {partitions} partition(s) of {len(plan.topics)} topic(s).")
    if service.value == "rating":
        _say(console, "To rebuild the register: drop its database, start ONE rating process with DSR_REBUILD=true, "
                      "and restart it without DSR_REBUILD once its lag is zero (docs/REGISTER.md).")
    else:
        _say(console, f"On its next start {service.value} reads everything again; its inbox drops what it already applied.")


# --- moving a group past one message -------------------------------------------


@app.command()
def skip(
    service: Annotated[Service, typer.Argument(help="The service whose consumer group is stuck.")],
    topic: Annotated[str, typer.Argument(help="The topic, e.g. dsr.hospital.admissions (DSR_TOPIC_PREFIX is added if missing).")],
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
    settings = _settings()
    name = topic if topic.startswith(settings.topic_prefix) else f"{settings.topic_prefix}{topic}"
    if not yes:
        typer.confirm(f"Copy {name}[{partition}]@{offset} to {name}.dlq and move {settings.group(service.value)} "
                      "past it?", abort=True)
    try:
        done = _run(bus.skip_message(settings, service.value, name, partition, offset))
    except (bus.NotStopped, bus.NotThere) as exc:
        raise _fail(str(exc)) from None
    except bus.TopicMissing:
        raise _fail(f"there is no topic {name}; nothing was changed") from None
    except Exception as exc:  # noqa: BLE001 - the broker's failure, in words
        raise _fail(f"Kafka at {settings.kafka_bootstrap}: {exc or type(exc).__name__}") from None
    console = _out()
    kept = f"its first bytes (of {done.original_bytes})" if done.excerpt else f"whole ({done.original_bytes} bytes)"
    _say(console, f"Copied {name}[{partition}]@{offset} to {name}.dlq (offset {done.dlq_offset}), {kept}.")
    _say(console, f"{done.group} now starts at offset {offset + 1} of {name}[{partition}]; start {service.value} again.")


# --- parked outbox entries -----------------------------------------------------


@outbox_app.command("list")
def outbox_list(
    service: Annotated[Target, typer.Option("--service", help="Which service; all by default.")] = Target["all"],
) -> None:
    """Outbox entries each service could not publish (GET /ops/outbox/parked).

    An entry is parked when the broker refuses it for good (too large, say);
    the entries after it are published. Shown: event id, type, topic, when it
    was staged and parked, and the error; never the event's data. Exit code 1
    when any is parked or a service does not answer."""
    settings = _settings()
    services = _targets(service)

    async def read() -> dict[str, list[dict] | str]:
        async with _client(settings) as client:
            async def one(s: str) -> list[dict] | str:
                try:
                    answer = await _request(client, settings, s, "GET", "/ops/outbox/parked", Role.OPS)
                except Unreachable as exc:
                    return str(exc)
                return answer.json()["parked"] if answer.status_code == 200 else _refusal(s, answer)

            return dict(zip(services, await asyncio.gather(*(one(s) for s in services)), strict=True))

    found = _run(read())
    console = _out()
    table = Table(title="parked outbox entries")
    for column in ("service", "event id", "event type", "topic", "staged", "parked", "error"):
        table.add_column(column, overflow="fold")
    for s, entries in found.items():
        if isinstance(entries, str):
            table.add_row(s, "", "", "", "", "", Text(entries, style="red"))
            continue
        for e in entries:
            table.add_row(s, e["event_id"], str(e.get("event_type") or ""), str(e.get("topic") or ""),
                          str(e.get("created_at") or "")[:19], str(e.get("parked_at") or "")[:19], str(e.get("error") or "")[:300])
    if table.row_count:
        console.print(table)
    else:
        _say(console, "No parked outbox entries.")
    if table.row_count:
        raise typer.Exit(1)


@outbox_app.command("retry")
def outbox_retry(
    service: Annotated[Service, typer.Argument(help="The service that parked it.")],
    event_id: Annotated[str, typer.Argument(help="The parked entry's event id (`dsr outbox list`).")],
) -> None:
    """Give a parked entry back to the service's outbox relay, once its cause is
    fixed (POST /ops/outbox/{id}/retry); a refusal parks it again."""
    settings = _settings()

    async def retry() -> httpx.Response:
        async with _client(settings) as client:
            return await _request(client, settings, service.value, "POST", f"/ops/outbox/{event_id}/retry", Role.OPS)

    try:
        answer = _run(retry())
    except Unreachable as exc:
        raise _fail(f"{service.value} service {exc}") from None
    if answer.status_code != 200:
        raise _fail(_refusal(service.value, answer))
    _say(_out(), f"{event_id}: back to {service.value}'s outbox relay, which publishes it within seconds.")


# --- an area's GP practices -----------------------------------------------------


@app.command("gp-practices")
def load_gp_practices(
    practice_file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                                  help="ODS's epraccur.csv (unzipped from epraccur.zip).")],
    into: Annotated[list[Path], typer.Option("--into", exists=True, dir_okay=False, writable=True,
                                              help="An area profile (.toml), or a ConfigMap manifest holding one "
                                                   "under area.toml (.yaml); repeatable.")],
    icb: Annotated[str | None, typer.Option("--icb", help="The ICB's ODS code (or a sub-ICB location's); "
                                                          "default: the code of DSR_AREA_PROFILE's area.")] = None,
) -> None:
    """Load the area's GP practices from NHS ODS's practice file.

    Writes the ICB's active GP practices (status A, prescribing setting 4) of
    PRACTICE_FILE into geography.gp_practice_codes of each --into file (R-ELIG-3:
    a referral is in the area through its GP practice); the rest of each file is
    kept as written. Restart the services after deploying the profile."""
    code = icb or _settings().area.code
    try:
        practices = gp_practices.read_practices(practice_file)
    except gp_practices.NotAPracticeFile as exc:
        raise _fail(f"{practice_file}: {exc}") from None
    codes = gp_practices.gp_practice_codes(practices, code)
    if not codes:
        raise _fail(f"{practice_file}: no active GP practice of {code} among {len(practices)} rows; nothing was written")
    note = [f"GP practices in the ICB (R-ELIG-3): the {len(codes)} active GP practices of {code}",
            f"in ODS's {practice_file.name} of {datetime.now(timezone.utc):%Y-%m-%d}, loaded with `dsr gp-practices`."]
    console = _out()
    for path in into:
        try:
            gp_practices.write_gp_practices(path, codes, note)
        except ValueError as exc:
            raise _fail(f"{path}: {exc}") from None
        _say(console, f"{path}: {len(codes)} GP practices of {code}")


def main() -> None:
    app()
