"""How long the web takes to serve the register page, a person's record and
the work queue with 5,000 people on the register (issue 15: p95 under 150 ms
on 2 cores, the backend calls made concurrently). Server time, from the
page's Server-Timing header: from the request reaching the web to its answer,
including the calls to the services.

Starts what the tests start (Kafka, SecantusDB, the OpenID provider and the
identity service, the four services and the web as processes), then seeds
the services' databases directly (5,000 records, their obligations, the referral
service's people), signs in as a DSR team member through the provider, then
asks for each page --rounds times after a warm-up.

    uv run --frozen python bench/web_pages.py [--people 5000] [--rounds 40]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

from dsr_shared.platform.db import build_mongo_client
from dsr_shared.rules.area import load_profile
from dsr_shared.rules.working_time import WorkingCalendar
from dsr_rating.adapters.people import PeopleStore
from dsr_rating.domain.facts import Fact, Update
from dsr_rating.domain.record import PersonRecord
from dsr_testing import support
from dsr_testing.infra import identity as identity_stack
from dsr_testing.infra import infrastructure
from dsr_testing.tokens import BOOTSTRAP_ADMIN, IdentityClient
from dsr_testing.web.harness import start_instance, stop_instance

ROOT = Path(__file__).resolve().parents[1]

NOW = datetime.now(timezone.utc)
RATINGS = ["amber", "amber", "red", "green", "amber", "blue"]
TEAM = "bench.team@example.org"


def register_id(n: int) -> str:
    return f"QJ2-BNCH-{n:04d}-X"


async def seed(mongo_uri: str, isolation: str, people: int) -> None:
    client = build_mongo_client(mongo_uri)
    area = load_profile("derbyshire")
    calendar = WorkingCalendar(area.working_time)
    store = PeopleStore(client[f"{isolation}_rating"])

    async def one(n: int) -> None:
        at = NOW - timedelta(days=30 + n % 200)
        record = PersonRecord(
            register_id=register_id(n),
            nhs_number_hash=f"hash-{n}",
            cohort="cyp" if n % 5 == 0 else "adult",
            age_band="cyp" if n % 5 == 0 else "adult",
            referrer_emails=[f"referrer{n % 50}@example.org"],
        )
        record.add_fact(
            Fact(
                id=str(uuid.uuid4()),
                kind="entry",
                at=at,
                by="bench",
                rating=RATINGS[n % len(RATINGS)],
                rationale="Seeded for the benchmark.",
            )
        )
        for k in range(3):
            record.add_update(
                Update(id=uuid.uuid4(), at=at + timedelta(days=k + 1), by="bench", text="A case holder's update. " * 8)
            )
        await store.save(record, record.standing(area, calendar), None)

    for start in range(0, people, 200):
        await asyncio.gather(*(one(n) for n in range(start, min(people, start + 200))))

    obligations = []
    for n in range(people):
        for k, (state, days) in enumerate((("open", 20 + n % 40), ("due", 1), ("overdue", -3))):
            if state != "open" and n % 7:
                continue  # one person in seven has something due and overdue
            oid = str(uuid.uuid4())
            due_at = NOW + timedelta(days=days)
            obligations.append(
                {
                    "_id": oid,
                    "obligation_id": oid,
                    "register_id": register_id(n),
                    "rule": "R-OB-4",
                    "kind": "follow_up_dsp_meeting" if k else "case_holder_update",
                    "title": "Follow-up DSP meeting",
                    "responsible": "dsr_team",
                    "started_at": NOW - timedelta(days=30),
                    "due_at": due_at,
                    "notice_at": due_at - timedelta(days=2),
                    "state": state,
                    "while_rating": ["amber"],
                    "repeat": None,
                    "needs_own_consent": False,
                    "triggered_by_event_id": str(uuid.uuid4()),
                    "completion": None,
                    "cancelled_reason": None,
                    "exceptions": [],
                }
            )
    await client[f"{isolation}_scheduler"]["obligations"].insert_many(obligations)

    referral = client[f"{isolation}_referral"]
    await referral["people"].insert_many(
        [
            {
                "_id": register_id(n),
                "nhs_number": f"{9000000000 + n}",
                "referral_id": f"ref-{n}",
                "on_register_since": NOW,
                "address": {"line1": f"{n} Bench Road", "postcode": "DE1 1AA"},
                "announced_age_band": "adult",
                # Compared today already: the age sweeper leaves them alone during the measurement.
                "age_band_checked_on": "9999-12-31",
            }
            for n in range(people)
        ]
    )
    await referral["referrals"].insert_many(
        [
            {
                "_id": f"ref-{n}",
                "submission_id": f"bench-{n}",
                "submitted_by": "bench",
                "submitted_at": NOW,
                "outcome": "accepted",
                "register_id": register_id(n),
                "submission": {
                    "person": {"given_name": "Bench", "family_name": f"Person{n}", "date_of_birth": "1990-01-01"}
                },
            }
            for n in range(people)
        ]
    )
    await client.close()


async def signed_in(web: str, provider: str) -> httpx.AsyncClient:
    """A DSR team member's session, through the provider's sign-in form."""
    http = httpx.AsyncClient(base_url=web, timeout=60)
    answer = await http.get("/sign-in")
    authorize = answer.headers["location"]
    answer = await http.post(authorize, data={"sub": TEAM})
    answer = await http.get(answer.headers["location"])  # the callback: the session cookie is set
    assert answer.status_code == 303, answer.text[:300]
    return http


async def measure(http: httpx.AsyncClient, path: str, rounds: int) -> dict[str, list[float]]:
    """Each Server-Timing entry's durations: `app` (the whole page), and each
    service's slowest call."""
    times: dict[str, list[float]] = {}
    for i in range(rounds + 3):
        answer = await http.get(path)
        assert answer.status_code == 200, (path, answer.status_code)
        if i >= 3:  # the first few warm the connection pools
            for entry in answer.headers["server-timing"].split(","):
                name, _, rest = entry.strip().partition(";dur=")
                times.setdefault(name, []).append(float(rest.split(";")[0]))
    return times


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        root = Path(state)
        with (
            infrastructure(root / "infra") as infra,
            identity_stack(root / "identity", infra, BOOTSTRAP_ADMIN) as identity,
        ):
            client = IdentityClient(identity.provider.url, identity.issuer)
            support.use_identity(client)
            await asyncio.to_thread(client.token, ("dsr_team",), TEAM)
            instance = start_instance(infra, identity, root / "instance", "derbyshire")
            try:
                # Seeded once the services made their indexes (a start on 5,000 documents is slow).
                await seed(infra.mongo_uri, instance.isolation, args.people)
                http = await signed_in(instance.web, identity.provider.url)
                pages = {"register": "/register", "record": f"/people/{register_id(42)}", "work queue": "/queue"}
                try:
                    results = {name: await measure(http, path, args.rounds) for name, path in pages.items()}
                finally:
                    await http.aclose()
            except BaseException:
                for name in ("web", "rating", "scheduler", "referral"):
                    lines = (root / "instance" / f"{name}.log").read_text().splitlines()
                    print(f"--- {name}.log", *[line for line in lines if '"level": "info"' not in line][-8:], sep="\n")
                raise
            finally:
                stop_instance(instance)
    print(f"{args.people:,} people on the register, {args.rounds} requests each (server time, ms)")
    print(f"{'page':>12} | {'p50':>7} | {'p95':>7} | {'max':>7}")
    for name, times in results.items():
        page = times.pop("app")
        print(f"{name:>12} | {p(page, 50):>7.1f} | {p(page, 95):>7.1f} | {max(page):>7.1f}")
        print(
            " " * 14
            + "its slowest call to each service, p50: "
            + ", ".join(f"{service} {statistics.median(durations):.1f}" for service, durations in sorted(times.items()))
        )


if __name__ == "__main__":
    asyncio.run(main())
