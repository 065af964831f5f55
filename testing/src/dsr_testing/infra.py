"""Where the test suite finds Kafka and MongoDB: servers named in the
environment (DSR_KAFKA_BOOTSTRAP, DSR_MONGO_URI), containers from the official
images (DSR_TEST_DOCKER=1), or, by default, the project's own local Kafka and
SecantusDB started for the session."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from dsr_devstack import (
    Kafka,
    ManagedProcess,
    OidcProvider,
    SecantusDB,
    ServiceProcess,
    cache_root,
    find_repo_root,
    free_port,
    identity_env,
)

# The NHS number hash key of the suite's services (a test may give its own).
NHS_HASH_KEY = "test-nhs-hash-key-for-the-suite-only"
# System clients the suite's identity service knows: the `dsr` command and a hospital feed.
OPS_CLIENT = ("dsr_ops", "ops-client-secret-for-the-suite")
FEED_CLIENT = ("hospital_feed", "feed-client-secret-for-the-suite")


@dataclass(frozen=True)
class Infra:
    kafka_bootstrap: str
    mongo_uri: str
    # The servers the session started itself (none when named or in containers).
    servers: tuple[ManagedProcess, ...] = field(default=(), compare=False, repr=False)

    def down(self) -> str | None:
        """What is wrong with a server the session started, if anything."""
        return next((why for server in self.servers if (why := server.down()) is not None), None)


@dataclass(frozen=True)
class Identity:
    """The session's OpenID provider and identity service."""

    provider: OidcProvider
    service: ServiceProcess
    # The signing key, read only by tests that forge tokens with it.
    key_file: Path

    @property
    def issuer(self) -> str:
        return self.service.url

    def env(self) -> dict[str, str]:
        """What every other service is told about its tokens."""
        return {"DSR_AUTH_ISSUER": self.issuer, "DSR_AUTH_JWKS_URL": f"{self.issuer}/.well-known/jwks.json"}


@contextmanager
def identity(state_dir: Path, infra: Infra, bootstrap_admin: str) -> Iterator[Identity]:
    """A provider and an identity service for the whole session, not in development mode."""
    provider = OidcProvider(state_dir / "oidc", free_port())
    port = free_port()
    clients = [
        {"client_id": c, "secret": s, "roles": [r]} for (c, s), r in ((OPS_CLIENT, "ops"), (FEED_CLIENT, "system"))
    ]
    env = {
        "DSR_MONGO_URI": infra.mongo_uri,
        "DSR_MONGO_DB": f"identity_{uuid.uuid4().hex[:8]}",
        "DSR_HTTP_PORT": str(port),
        **identity_env(
            issuer=f"http://127.0.0.1:{port}",
            provider=provider,
            key_file=state_dir / "signing-key.pem",
            clients=clients,
            bootstrap_admins=[bootstrap_admin],
        ),
    }
    service = ServiceProcess("identity", "dsr_identity", port, env, state_dir / "identity.log")
    try:
        provider.start()
        service.start()
        yield Identity(provider, service, state_dir / "signing-key.pem")
    finally:
        service.stop()
        provider.stop()


@contextmanager
def _from_environment() -> Iterator[Infra]:
    yield Infra(os.environ["DSR_KAFKA_BOOTSTRAP"], os.environ["DSR_MONGO_URI"])


@contextmanager
def _from_containers() -> Iterator[Infra]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.mongodb import MongoDbContainer

    with KafkaContainer("apache/kafka:4.1.1").with_kraft() as kafka:
        mongo = MongoDbContainer("mongo:8.0").with_command("--replSet rs0 --bind_ip_all")
        with mongo:
            mongo.exec(
                ["mongosh", "--quiet", "--eval", "rs.initiate({_id:'rs0',members:[{_id:0,host:'localhost:27017'}]})"]
            )
            port = mongo.get_exposed_port(27017)
            yield Infra(kafka.get_bootstrap_server(), f"mongodb://127.0.0.1:{port}/?directConnection=true")


@contextmanager
def _local(state_dir: Path) -> Iterator[Infra]:
    kafka = Kafka(state_dir / "kafka", free_port(), free_port(), cache_root(find_repo_root(Path(__file__).parent)))
    mongo = SecantusDB(state_dir / "secantus", free_port())
    try:
        kafka.start()
        mongo.start()
        yield Infra(kafka.bootstrap, mongo.uri, (kafka, mongo))
    finally:
        mongo.stop()
        kafka.stop()


@contextmanager
def infrastructure(state_dir: Path) -> Iterator[Infra]:
    if os.environ.get("DSR_KAFKA_BOOTSTRAP") and os.environ.get("DSR_MONGO_URI"):
        source = _from_environment()
    elif os.environ.get("DSR_TEST_DOCKER") == "1":
        source = _from_containers()
    else:
        source = _local(state_dir)
    with source as infra:
        yield infra


def service_environment(infra: Infra, identity: Identity, isolation: str, service: str, **extra: str) -> dict[str, str]:
    """The environment of one service process of the test (or module) named `isolation`."""
    return {
        "DSR_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
        "DSR_MONGO_URI": infra.mongo_uri,
        "DSR_TOPIC_PREFIX": f"{isolation}.",
        "DSR_MONGO_DB": f"{isolation}_{service}",
        **identity.env(),
        "DSR_NHS_HASH_KEY": NHS_HASH_KEY,
        "DSR_OUTBOX_RELAY_AFTER_SECONDS": "2",
        **extra,
    }
