"""Where the test suite finds Kafka and MongoDB: servers named in the
environment (DSR_KAFKA_BOOTSTRAP, DSR_MONGO_URI), containers from the official
images (DSR_TEST_DOCKER=1), or, by default, the project's own local Kafka and
SecantusDB started for the session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dsr_devstack import Kafka, SecantusDB, cache_root, find_repo_root, free_port


@dataclass(frozen=True)
class Infra:
    kafka_bootstrap: str
    mongo_uri: str


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
            mongo.exec(["mongosh", "--quiet", "--eval", "rs.initiate({_id:'rs0',members:[{_id:0,host:'localhost:27017'}]})"])
            port = mongo.get_exposed_port(27017)
            yield Infra(kafka.get_bootstrap_server(), f"mongodb://127.0.0.1:{port}/?directConnection=true")


@contextmanager
def _local(state_dir: Path) -> Iterator[Infra]:
    kafka = Kafka(state_dir / "kafka", free_port(), free_port(), cache_root(find_repo_root(Path(__file__).parent)))
    mongo = SecantusDB(state_dir / "secantus", free_port())
    try:
        kafka.start()
        mongo.start()
        yield Infra(kafka.bootstrap, mongo.uri)
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
