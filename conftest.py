"""Suite-wide fixtures: one Kafka and one database for the session; every test
gets its own topic prefix and database names, so tests never see each other."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dsr_testing import support
from dsr_testing.infra import Identity, Infra, infrastructure, service_environment
from dsr_testing.infra import identity as identity_stack
from dsr_testing.tokens import BOOTSTRAP_ADMIN, IdentityClient

# Fixtures that start or reach Kafka, the database or the identity stack. A
# test that uses one, directly or through other fixtures, is marked `infra`,
# so that `make check` (`pytest -m "not infra"`) runs everything else in seconds.
INFRA_FIXTURES = frozenset({"infra", "jar_cache", "identity"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        # `fixturenames` is the whole closure: fixtures of fixtures count too.
        if INFRA_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.infra)


@pytest.fixture(scope="session")
def infra(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    if "not infra" in request.config.getoption("markexpr"):
        # Reached through request.getfixturevalue, which the marker cannot see.
        pytest.fail("this test needs Kafka and the database: give it the infra marker")
    with infrastructure(tmp_path_factory.mktemp("infra")) as running:
        request.config.stash[RUNNING_INFRA] = running
        yield running


RUNNING_INFRA = pytest.StashKey[Infra]()


def pytest_runtest_teardown(item: pytest.Item) -> None:
    """After each test: if the session's broker or database has died or hung,
    stop the session with its log, instead of letting every later test wait
    on it until the CI's time runs out."""
    running = item.config.stash.get(RUNNING_INFRA, None)
    if running is not None and (why := running.down()) is not None:
        pytest.exit(f"after {item.nodeid}: {why}", returncode=3)


@pytest.fixture(scope="session")
def identity(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Identity]:
    """The OpenID provider and the identity service, once per session; support.auth()
    and support.token() get their tokens through them."""
    with identity_stack(tmp_path_factory.mktemp("identity"), infra, BOOTSTRAP_ADMIN) as running:
        client = IdentityClient(running.provider.url, running.issuer)
        support.use_identity(client)
        try:
            yield running
        finally:
            support.use_identity(None)
            client.http.close()


@pytest.fixture(params=["memory", pytest.param("secantusdb", marks=pytest.mark.infra)])
def store(request: pytest.FixtureRequest, isolation: str) -> str:
    """Which store a repository contract test runs against: each runs twice,
    in memory (in `make check`) and on the real database (in `make test`),
    so the in-memory repositories the use-case tests rely on cannot drift."""
    return request.param


@pytest.fixture
async def mongo_database(request: pytest.FixtureRequest, store: str, isolation: str):
    """The database of a repository contract test: None in memory; on
    SecantusDB, a fresh database of its own (its client: `.client`), closed
    when the test ends."""
    if store == "memory":
        yield None
        return
    from dsr_shared.platform.db import build_mongo_client

    # Reached lazily: the in-memory half needs no infrastructure.
    client = build_mongo_client(request.getfixturevalue("infra").mongo_uri)
    try:
        yield client[f"{isolation}_contract"]
    finally:
        await client.close()


@pytest.fixture
def isolation() -> str:
    """A unique name for this test: topic prefix and database name stem."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def service_env(infra: Infra, identity: Identity, isolation: str):
    """The environment of one service process in this test."""

    def env(service: str, **extra: str) -> dict[str, str]:
        return service_environment(infra, identity, isolation, service, **extra)

    return env


@pytest.fixture
def service_process(tmp_path: Path, service_env):
    """Starts one service as its own process for this test; stopped at teardown."""
    from dsr_devstack import ServiceProcess, free_port

    started = []

    def start(service: str, **extra_env: str):
        port = free_port()
        env = service_env(service, DSR_HTTP_PORT=str(port), **extra_env)
        # A second process of the same service gets its own log (and pid file).
        same = sum(p.name == service for p in started)
        log_file = tmp_path / (f"{service}.log" if not same else f"{service}-{same + 1}.log")
        # A busy machine takes a while to import a service and to elect a
        # fresh broker's group coordinator: readiness may take over a minute.
        process = ServiceProcess(service, f"dsr_{service}", port, env, log_file, start_timeout=180)
        started.append(process)
        process.start()
        return process

    yield start
    for process in reversed(started):
        process.stop()


@pytest.fixture
async def service_harness(service_process, infra: Infra, isolation: str):
    """Starts one service for this test, driven through a handle (dsr_testing.harness):
    `await service_harness.start(RatingService, "rating", profile=..., **env)`."""
    from dsr_testing.harness import ServiceHarness

    harness = ServiceHarness(service_process, infra.kafka_bootstrap, infra.mongo_uri, isolation)
    yield harness
    await harness.close()


@pytest.fixture
def stack(tmp_path: Path, infra: Infra, identity: Identity, isolation: str):
    """The whole system for this test: the SMTP sink and the four services."""
    from dsr_testing.stack import whole_stack

    with whole_stack(infra, identity, isolation, tmp_path) as running:
        yield running
