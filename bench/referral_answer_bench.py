"""How long `POST /referrals` takes to answer a referrer, by what it found
(issue 12 item 7): a person not on the register (accepted, the baseline), a
person already on the register whose record the referrer may not see
(sent_to_dsr_team, no register id), and a referral that is not eligible
(rejected). If the second took measurably longer or shorter than the first,
the time of the answer would tell a referrer who is on the register. The
kinds are interleaved, one request at a time, against the referral service as
its own process.

Starts its own Kafka, database, OpenID provider and identity service, as the
tests do (or uses DSR_KAFKA_BOOTSTRAP and DSR_MONGO_URI when set).

    uv run --frozen python bench/referral_answer_bench.py [--rounds 100]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import httpx
import nhs_number

from dsr_shared.platform.auth import Role
from dsr_devstack import ServiceProcess, free_port
from dsr_testing import support
from dsr_testing.infra import identity as identity_stack
from dsr_testing.infra import infrastructure, service_environment
from dsr_testing.tokens import BOOTSTRAP_ADMIN, IdentityClient

ROOT = Path(__file__).resolve().parents[1]


def headers(subject: str) -> dict[str, str]:
    return dict(support.auth(Role.REFERRER, subject=subject))


def referral(nhs: str, *, consent: bool = True) -> dict:
    return {
        "submission_id": str(uuid.uuid4()),
        "referral_date": date.today().isoformat(),
        "person": {
            "given_name": "Bench",
            "family_name": "Person",
            "date_of_birth": "1990-04-12",
            "nhs_number": nhs,
            "address": {"line1": "1 Example Street", "town": "Derby", "postcode": "DE1 1AA"},
        },
        "diagnosis": {"condition": "autism", "confirmed": True, "evidence_reference": "DOC-1"},
        "consent": {"given_by": "the person", "given_on": "2026-01-05"} if consent else None,
        "referrer": {"name": "Bench Referrer", "role": "Nurse", "organisation": "DHCFT", "email": "bench@example.org"},
        "rating_rationale": "Benchmark.",
        "proposed_rating": "amber",
    }


async def measure(url: str, rounds: int) -> dict[str, list[float]]:
    numbers = iter(nhs_number.generate(quantity=2 * rounds + 20, for_region=nhs_number.REGION_SYNTHETIC))
    owner, other = headers("owner@example.org"), headers("other@example.org")
    times: dict[str, list[float]] = {"accepted": [], "sent_to_dsr_team": [], "rejected": []}
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        on_register = []
        for _ in range(rounds + 10):  # people the other referrer may not see
            nhs = next(numbers)
            answer = await http.post("/referrals", json=referral(nhs), headers=owner)
            assert answer.json()["outcome"] == "accepted", answer.text
            on_register.append(nhs)
        for n in range(rounds + 10):  # the first 10 of each kind warm up
            requests = [
                ("accepted", referral(next(numbers))),
                ("sent_to_dsr_team", referral(on_register[n])),
                ("rejected", referral(on_register[n], consent=False)),
            ]
            for expected, body in requests[n % 3 :] + requests[: n % 3]:
                started = time.perf_counter()
                answer = await http.post("/referrals", json=body, headers=other)
                took = time.perf_counter() - started
                assert answer.json()["outcome"] == expected, answer.text
                assert (answer.json()["register_id"] is None) == (expected != "accepted")
                if n >= 10:
                    times[expected].append(took * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    run = f"bench{uuid.uuid4().hex[:6]}"
    port = free_port()
    root = Path(tempfile.mkdtemp())
    with infrastructure(root / "infra") as infra, identity_stack(root / "identity", infra, BOOTSTRAP_ADMIN) as identity:
        client = IdentityClient(identity.provider.url, identity.issuer)
        support.use_identity(client)
        env = service_environment(
            infra,
            identity,
            run,
            "referral",
            DSR_HTTP_PORT=str(port),
            DSR_AREA_PROFILE="derbyshire",
            DSR_LOG_LEVEL="WARNING",
        )
        process = ServiceProcess("referral", "dsr_referral", port, env, root / "referral.log")
        process.start()
        try:
            times = asyncio.run(measure(process.url, args.rounds))
        finally:
            process.stop()
            client.http.close()
    baseline = statistics.median(times["accepted"])
    print(f"POST /referrals by a referrer, {args.rounds} of each kind, interleaved (ms)")
    print(f"{'answer':<18}{'median':>8}{'p10':>8}{'p90':>8}{'mean':>8}{'median/accepted':>17}")
    for kind, values in times.items():
        deciles = statistics.quantiles(values, n=10)
        print(
            f"{kind:<18}{statistics.median(values):>8.1f}{deciles[0]:>8.1f}{deciles[-1]:>8.1f}"
            f"{statistics.fmean(values):>8.1f}{statistics.median(values) / baseline:>17.2f}"
        )


if __name__ == "__main__":
    main()
