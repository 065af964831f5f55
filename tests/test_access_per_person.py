"""Issue 12, items 1 and 10: permissions per person on every endpoint of every
service, and the audit that says who read or changed whose record.

One stack (the four services, the hospital gateway, the SMTP sink) for the module. Alice refers two
people, naming Pat as a professional on the first; a stranger is a referrer
too, but neither referred them nor is named on them. The endpoint table is
checked against each app's routes, so an endpoint added without a line here
fails the test."""

from __future__ import annotations

import asyncio
import importlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from typer.testing import CliRunner

from dsr_shared.platform.auth import Role
from dsr_ops.cli import app as dsr_app
from dsr_testing.endpoints import ENDPOINTS, EVERY_ROLE, UNTOUCHED
from dsr_testing.stack import SERVICES, WITH_GATEWAY, whole_stack
from dsr_testing.support import auth, eventually, identity, referral_body, token, valid_nhs_number

pytestmark = pytest.mark.stack

ALICE, PAT, STRANGER = "alice.referrer@example.org", "pat.professional@example.org", "stranger@example.org"


def headers(subject: str, *roles: Role) -> dict[str, str]:
    return dict(auth(*roles, subject=subject))


def forged(subject: str) -> dict[str, str]:
    """A well-formed register token signed by a key the identity service never held."""
    claims = {"sub": subject, "roles": [Role.DSR_TEAM.value], "email": subject, "iat": 0, "exp": 4102444800}
    return {"Authorization": "Bearer " + jwt.encode(claims, ed25519.Ed25519PrivateKey.generate(), algorithm="EdDSA")}


@dataclass
class World:
    urls: dict[str, str]
    http: httpx.AsyncClient
    ids: dict[str, str] = field(
        default_factory=dict
    )  # the first person's: register, referral, obligation, notification
    removed: dict[str, str] = field(
        default_factory=dict
    )  # the second person's (removed): register and a cancelled obligation

    async def as_(self, subject: str, role: Role, service: str, method: str, path: str, **kwargs) -> httpx.Response:
        return await self.http.request(method, self.urls[service] + path, headers=headers(subject, role), **kwargs)

    async def team(self, service: str, method: str, path: str, **kwargs) -> httpx.Response:
        return await self.as_("dsr.team@example.org", Role.DSR_TEAM, service, method, path, **kwargs)


async def refer(world: World, seed: int, **extra) -> tuple[str, str]:
    body = referral_body(nhs_number=valid_nhs_number(seed), **extra)
    body["referrer"]["email"] = ALICE
    answer = await world.as_(ALICE, Role.REFERRER, "referral", "POST", "/referrals", json=body)
    assert answer.status_code == 202 and answer.json()["outcome"] == "accepted", answer.text
    return answer.json()["register_id"], answer.json()["referral_id"]


async def obligations(world: World, register_id: str, **filters) -> list[dict]:
    answer = await world.team("scheduler", "GET", "/obligations", params={"register_id": register_id, **filters})
    return answer.json()["obligations"]


@pytest.fixture(scope="module")
async def world(infra, identity, tmp_path_factory):
    isolation = f"t{uuid.uuid4().hex[:10]}"
    with whole_stack(infra, identity, isolation, tmp_path_factory.mktemp("access"), gateway=True) as stack:
        async with httpx.AsyncClient(timeout=30) as http:
            world = World({s: stack.url(s) for s in WITH_GATEWAY}, http)
            professional = {"name": "Pat Professional", "role": "Social worker", "email": PAT, "case_holder": True}
            register_id, referral_id = await refer(world, 4101, professionals=[professional])
            removed_id, _ = await refer(world, 4111)
            first = await eventually(lambda: obligations(world, register_id), timeout=90)
            await eventually(lambda: obligations(world, removed_id), timeout=90)

            async def a_notification():
                found = await world.team("notifier", "GET", "/notifications", params={"register_id": register_id})
                return found.json()["notifications"]

            notes = await eventually(a_notification, timeout=60)
            world.ids = {
                "register_id": register_id,
                "referral_id": referral_id,
                "obligation_id": first[0]["obligation_id"],
                "notification_id": notes[0]["notification_id"],
                # No parked outbox entry, quarantined message or waiting merge has these.
                "event_id": str(uuid.uuid4()),
                "quarantine_id": str(uuid.uuid4()),
                "merge_id": str(uuid.uuid4()),
            }

            # The second person is removed: the scheduler cancels what was open.
            removal = await world.team("rating", "POST", f"/register/{removed_id}/removal", json={"reason": "Agreed."})
            assert removal.status_code == 200, removal.text
            cancelled = await eventually(lambda: obligations(world, removed_id, state="cancelled"), timeout=60)
            world.removed = {"register_id": removed_id, "obligation_id": cancelled[0]["obligation_id"]}

            # The scheduler and the notifier know Alice and Pat once their projections caught up.
            for service, path in (("scheduler", "/obligations"), ("notifier", "/notifications")):
                for subject in (ALICE, PAT):

                    async def theirs(service=service, path=path, subject=subject):
                        answer = await world.as_(
                            subject, Role.REFERRER, service, "GET", path, params={"register_id": register_id}
                        )
                        return answer.status_code == 200

                    await eventually(theirs, timeout=60)
            yield world


def app_routes(service: str) -> set[tuple[str, str]]:
    """Every operation of the app, as FastAPI lists its routes for the OpenAPI document."""
    app = importlib.import_module(f"dsr_{service}.app").build_app()
    paths = app.openapi()["paths"]
    return {
        (method.upper(), path) for path, operations in paths.items() if path not in UNTOUCHED for method in operations
    }


def test_every_endpoint_of_every_service_has_a_line_in_the_table():
    for service in WITH_GATEWAY:
        routes = app_routes(service)
        listed = {(method, path) for (s, method, path) in ENDPOINTS if s == service}
        assert routes == listed, f"{service}: add the new endpoints to ENDPOINTS, with their roles: {routes ^ listed}"


async def test_every_endpoint_refuses_no_token_a_forged_one_and_every_other_role(world):
    checked = 0
    for (service, method, template), (allowed, _, body) in ENDPOINTS.items():
        path = template.format(**world.ids)
        url = world.urls[service] + path
        assert (await world.http.request(method, url, json=body)).status_code == 401, (service, method, path)
        assert (await world.http.request(method, url, json=body, headers=forged(ALICE))).status_code == 401, (
            service,
            path,
        )
        for role in EVERY_ROLE - allowed:
            answer = await world.as_(ALICE, role, service, method, path, json=body)
            assert answer.status_code == 403, (service, method, path, role, answer.text)
            checked += 1
    assert checked == sum(len(EVERY_ROLE - allowed) for allowed, _, _ in ENDPOINTS.values())


async def test_a_referrer_who_may_not_see_the_person_gets_what_a_missing_id_gets(world):
    made_up = {
        "register_id": "QJ2-ZZZZ-9999-Z",
        "referral_id": str(uuid.uuid4()),
        "obligation_id": str(uuid.uuid4()),
        "notification_id": str(uuid.uuid4()),
    }
    for (service, method, template), (_, kind, body) in ENDPOINTS.items():
        if kind == "person":
            theirs = await world.as_(STRANGER, Role.REFERRER, service, method, template.format(**world.ids), json=body)
            missing = await world.as_(STRANGER, Role.REFERRER, service, method, template.format(**made_up), json=body)
            assert theirs.status_code == missing.status_code == 404, (service, template, theirs.text)
            assert theirs.json() == missing.json() == {"detail": "not found"}
        elif kind in ("list", "mine"):
            everything = await world.as_(STRANGER, Role.REFERRER, service, method, template)
            assert everything.status_code == 200 and world.ids["register_id"] not in everything.text, (
                service,
                template,
            )
            if kind == "mine":
                continue
            one = await world.as_(
                STRANGER, Role.REFERRER, service, method, template, params={"register_id": world.ids["register_id"]}
            )
            missing = await world.as_(
                STRANGER, Role.REFERRER, service, method, template, params={"register_id": made_up["register_id"]}
            )
            assert one.status_code == missing.status_code == 404 and one.json() == missing.json(), (service, template)

    # Nothing the stranger sent changed the record.
    person = (await world.team("rating", "GET", f"/register/{world.ids['register_id']}")).json()
    assert person["rating"] == "amber" and person["updates"] == [] and person["professionals"]


async def test_the_referrer_and_a_named_professional_act_on_the_person(world):
    register_id = world.ids["register_id"]
    for subject in (ALICE, PAT):
        read = await world.as_(subject, Role.REFERRER, "rating", "GET", f"/register/{register_id}")
        assert read.status_code == 200, (subject, read.text)
        listed = await world.as_(subject, Role.REFERRER, "scheduler", "GET", "/obligations")
        assert {o["register_id"] for o in listed.json()["obligations"]} >= {register_id}
        mail = await world.as_(subject, Role.REFERRER, "notifier", "GET", "/notifications")
        assert register_id in {n["register_id"] for n in mail.json()["notifications"]}
    referral = await world.as_(ALICE, Role.REFERRER, "referral", "GET", f"/referrals/{world.ids['referral_id']}")
    assert referral.status_code == 200
    moved = await world.as_(
        PAT,
        Role.REFERRER,
        "referral",
        "PUT",
        f"/people/{register_id}/address",
        json={"line1": "3 New Road", "town": "Derby", "postcode": "DE1 1AB"},
    )
    assert moved.status_code == 200, moved.text

    # Pat completes one of the person's obligations.
    open_ones = [o for o in await obligations(world, register_id) if o["state"] in ("open", "due", "overdue")]
    chosen = next(o for o in open_ones if "cetr" not in o["kind"])
    done = await world.as_(
        PAT,
        Role.REFERRER,
        "scheduler",
        "POST",
        f"/obligations/{chosen['obligation_id']}/complete",
        json={"completed_at": datetime.now(timezone.utc).isoformat(), "outcome": "Done."},
    )
    assert done.status_code == 200, done.text


async def test_a_cancelled_obligation_of_someone_elses_person_is_404_not_409(world):
    path = f"/obligations/{world.removed['obligation_id']}/complete"
    body = {"completed_at": datetime.now(timezone.utc).isoformat(), "outcome": "Held as planned."}
    stranger = await world.as_(STRANGER, Role.REFERRER, "scheduler", "POST", path, json=body)
    assert stranger.status_code == 404 and stranger.json() == {"detail": "not found"}
    alice = await world.as_(ALICE, Role.REFERRER, "scheduler", "POST", path, json=body)
    assert alice.status_code == 409


async def audit_of(world: World, service: str, subject: str = "auditor@example.org", **params) -> list[dict]:
    answer = await world.as_(subject, Role.AUDITOR, service, "GET", "/audit", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()["entries"]


async def test_the_audit_says_who_read_or_changed_the_record_through_which_endpoint(world):
    register_id = world.ids["register_id"]
    await world.as_(STRANGER, Role.REFERRER, "rating", "GET", f"/register/{register_id}")
    await world.as_(ALICE, Role.REFERRER, "rating", "GET", f"/register/{register_id}")
    entries = await audit_of(world, "rating", register_id=register_id)
    seen = {(e["actor_email"], e["action"], e["outcome"], e["endpoint"]) for e in entries}
    assert (STRANGER, "register.read", "denied", "GET /register/{register_id}") in seen
    assert (ALICE, "register.read", "ok", "GET /register/{register_id}") in seen
    assert all(e["service"] == "rating" and e["correlation_id"] for e in entries)
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)

    scheduler = await audit_of(world, "scheduler", register_id=register_id)
    assert (STRANGER, "obligation.complete", "denied") in {
        (e["actor_email"], e["action"], e["outcome"]) for e in scheduler
    }

    # A page at a time gives the same entries as one page.
    paged, after = [], None
    while True:
        answer = await world.as_(
            "auditor@example.org",
            Role.AUDITOR,
            "rating",
            "GET",
            "/audit",
            params={"register_id": register_id, "limit": 2, **({"after": after} if after else {})},
        )
        paged += answer.json()["entries"]
        if not (after := answer.json()["next"]):
            break
    everything = await audit_of(world, "rating", register_id=register_id, limit=1000)
    assert [e["entry_id"] for e in paged] == [e["entry_id"] for e in everything[: len(paged)]]
    assert len(paged) >= len(entries)

    # Reading the audit is audited too; the DSR team may read it, a referrer may not.
    reads = await audit_of(world, "rating", actor=identity().user_id("auditor@example.org"))
    assert any(e["action"] == "audit.read" and e["subject_id"] == register_id for e in reads)
    assert (await world.team("rating", "GET", "/audit", params={"register_id": register_id})).status_code == 200
    since = await audit_of(world, "rating", register_id=register_id, since=entries[-1]["at"])
    assert since and all(e["at"] >= entries[-1]["at"] for e in since)


async def test_dsr_audit_merges_every_service_in_time_order(world):
    register_id = world.ids["register_id"]
    env = {
        "DSR_TOKEN": token(Role.AUDITOR, subject="auditor@example.org"),
        "COLUMNS": "250",
        **{f"DSR_{s.upper()}_URL": world.urls[s] for s in SERVICES},
    }
    result = await asyncio.to_thread(CliRunner().invoke, dsr_app, ["audit", register_id, "--json"], env=env)
    assert result.exit_code == 0, (result.output, result.exception)
    entries = [json.loads(line) for line in result.output.splitlines() if line.strip()]
    assert {e["service"] for e in entries} == set(SERVICES)
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    assert all(e["subject_id"] == register_id for e in entries)

    table = await asyncio.to_thread(CliRunner().invoke, dsr_app, ["audit", register_id], env=env)
    assert table.exit_code == 0 and "register.read" in table.output and STRANGER in table.output, table.output

    # The command's own reading is audited by every service.
    for service in SERVICES:
        assert any(
            e["action"] == "audit.read"
            for e in await audit_of(world, service, actor=identity().user_id("auditor@example.org"))
        )


async def test_health_and_metrics_need_no_token(world):
    for service in WITH_GATEWAY:
        for path in sorted(UNTOUCHED):
            assert (await world.http.get(world.urls[service] + path)).status_code == 200
