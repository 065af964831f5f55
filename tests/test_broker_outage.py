"""Issue 12, item 4: a request answers promptly while Kafka is down (the change
is committed; the outbox relay publishes it when Kafka is back), and the
outage is not logged many times a second. This test stops and starts a Kafka
of its own, so the session's broker and the other tests are left alone."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from dsr_shared.platform.auth import Role
from dsr_devstack import Kafka, cache_root, find_repo_root, free_port
from dsr_testing.support import NHS_NUMBERS, TopicReader, auth, eventually, referral_body

pytestmark = pytest.mark.stack


@pytest.fixture
def own_kafka(tmp_path: Path):
    kafka = Kafka(tmp_path / "kafka", free_port(), free_port(), cache_root(find_repo_root(Path(__file__).parent)))
    kafka.start()
    yield kafka
    kafka.stop()


def log_lines(path: Path, after: int) -> list[dict]:
    lines = path.read_bytes()[after:].decode(errors="replace").splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


@pytest.fixture
def referral(own_kafka, service_env, tmp_path):
    from dsr_devstack import ServiceProcess

    port = free_port()
    env = service_env(
        "referral", DSR_HTTP_PORT=str(port), DSR_KAFKA_BOOTSTRAP=own_kafka.bootstrap, DSR_PUBLISH_WAIT_SECONDS="2"
    )
    # A new broker creates its group coordinator's topic on the first join: allow for it.
    process = ServiceProcess("referral", "dsr_referral", port, env, tmp_path / "referral.log", start_timeout=240)
    process.start()
    yield process
    process.stop()


async def test_a_referral_is_answered_while_kafka_is_down_and_published_when_it_is_back(own_kafka, referral, isolation):
    async with httpx.AsyncClient(base_url=referral.url, timeout=60) as http:
        own_kafka.stop()
        outage_from = referral.log_file.stat().st_size
        stopped_at = time.monotonic()

        async def broker_down() -> bool:
            answer = await http.get("/health/ready")
            return answer.status_code == 503 and not answer.json()["checks"]["broker"]

        await eventually(broker_down, timeout=60)
        started = time.monotonic()
        # The bound: a request that waited for the broker would run into this client's timeout.
        answer = await http.post(
            "/referrals", json=referral_body(nhs_number=NHS_NUMBERS[3]), headers=auth(Role.REFERRER), timeout=30
        )
        took = time.monotonic() - started
        assert answer.status_code == 202, answer.text
        register_id = answer.json()["register_id"]
        # The Kafka client has been reconnecting all along, until the limit held its lines back.
        await eventually(
            lambda: max(_per_message(log_lines(referral.log_file, outage_from)).values(), default=0) >= 5, timeout=120
        )
        lines = log_lines(referral.log_file, outage_from)
        outage = time.monotonic() - stopped_at

        own_kafka.start()
        async with TopicReader(own_kafka.bootstrap, f"{isolation}.dsr.referrals") as reader:
            accepted = await eventually(
                lambda: reader.events(f"{isolation}.dsr.referrals", "ReferralAccepted"), timeout=120
            )
        assert accepted[0]["data"]["register_id"] == register_id
        await eventually(lambda: _ready(http), timeout=60)

    per_message = _per_message(lines)
    print(
        f"\nPOST /referrals with Kafka down: {answer.status_code} in {took:.1f}s; "
        f"{len(lines)} log lines in {outage:.0f}s of outage ({len(lines) / outage:.1f}/s)"
    )
    for (logger, event), count in per_message.most_common(5):
        print(f"  {count} x {logger}: {event[:100]}")
    # At most five lines of one logger and message a minute while the outage lasts.
    assert max(per_message.values()) <= 5 * (1 + int(outage // 60)), per_message.most_common(3)


async def _ready(http: httpx.AsyncClient) -> bool:
    return (await http.get("/health/ready")).status_code == 200


def _per_message(lines: list[dict]) -> Counter:
    return Counter((line.get("logger"), line.get("event")) for line in lines if line.get("event") != "request handled")
