"""The short chaos run (issue 16; chaos.py, `make chaos` for the long one):
400 events through the whole register while each register service
is killed once (SIGKILL) mid-stream and restarted, and the SMTP sink is down
for a while. Nothing is lost, nothing is repeated (a killed service's
projection and emails included), every projection matches the oracle, every
poison message is dead-lettered. The session's broker is not restarted
(other tests use it): `make chaos` restarts its own."""

from __future__ import annotations

import os

import pytest

from dsr_testing.chaos import Chaos
from dsr_testing.register_world import running_world

# Part of `make test`; `pytest -m chaos` runs it alone.
pytestmark = [pytest.mark.stack, pytest.mark.chaos]

EVENTS = int(os.environ.get("DSR_CHAOS_EVENTS", "400"))
SEED = int(os.environ.get("DSR_CHAOS_SEED", "16"))


@pytest.mark.timeout(900)
async def test_the_register_loses_nothing_and_repeats_nothing_under_kills_and_an_smtp_outage(infra, identity, tmp_path):
    async with running_world(infra, identity, tmp_path, "derbyshire") as world:
        chaos = Chaos(
            world,
            seed=SEED,
            events=EVENTS,
            bootstrap=infra.kafka_bootstrap,
            mongo_uri=infra.mongo_uri,
            kills_each=1,
            settle_seconds=600,
        )
        tally = await chaos.run()
        print("\n" + chaos.report())
    assert tally.ok, chaos.report()
