"""Service settings from the environment (prefix DSR_), plus the area profile."""

from __future__ import annotations

from functools import cached_property

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from dsr_shared.contract.topics import Topic, topic_name
from dsr_shared.contract.topology import consumer_group
from dsr_shared.rules.area import AreaProfile, load_profile

DEVELOPMENT_NHS_HASH_KEY = "dev-only-nhs-hash-key-change-me"


class StartupRefused(Exception):
    """Settings a service must not run with outside development mode."""


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DSR_", env_file=".env", extra="ignore")

    service_name: str = "dsr"
    kafka_bootstrap: str = "127.0.0.1:19092"
    topic_prefix: str = ""
    topic_partitions: int = 3
    topic_replication: int = 1
    mongo_uri: str = "mongodb://127.0.0.1:27018/?replicaSet=secantus&retryWrites=false"
    # Empty: dsr_<service>. Tests set a unique one each.
    mongo_db: str = ""
    area_profile: str = "derbyshire"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # Shipped development values and missing secrets are accepted only with this
    # set (local stacks and demos); otherwise a service refuses to start.
    development_mode: bool = False
    # The register's identity service: its issuer URL (the `iss` of every access
    # token), where its public keys are (default: the issuer's
    # /.well-known/jwks.json) and the audience its tokens are for.
    auth_issuer: str = ""
    auth_jwks_url: str = ""
    auth_audience: str = "dsr"
    # Key of the NHS number hash; the referral and rating services share it.
    nhs_hash_key: SecretStr = SecretStr(DEVELOPMENT_NHS_HASH_KEY)
    log_level: str = "INFO"
    # How long an outbox entry may wait before the relay publishes it.
    outbox_relay_after_seconds: float = 5.0
    # How long a request or handler waits for its events to be published after
    # its commit; then it answers, and the outbox relay publishes them later.
    publish_wait_seconds: float = 3.0
    # The producer's limit on one message (Kafka's default); the broker's and
    # the topics' max.message.bytes must be at least this.
    kafka_max_message_bytes: int = 1_048_576
    # The largest HTTP request body taken (413 beyond).
    max_request_bytes: int = 2_097_152
    # The most events a batching consumer handles in one shared transaction
    # (platform/batching.py); 1 handles each in its own.
    consumer_batch_events: int = 50
    # How often consumer lag, stalled partitions and dead-letter sizes are measured.
    kafka_gauges_every_seconds: float = 30.0
    # A partition with lag whose committed offset has not moved for this long
    # is reported stalled (/health/consumer, dsr_consumer_stalled_partitions).
    consumer_stall_after_seconds: float = 300.0
    # How often sweepers look for what time has made due.
    sweep_every_seconds: float = 30.0
    # Demos and tests only: an operator moves time forward (POST /clock/advance).
    simulated_clock: bool = False
    # Rebuilding the database from the topics: apply everything, publish nothing
    # (every event was published the first time). See the README's operations.
    rebuild: bool = False

    @cached_property
    def area(self) -> AreaProfile:
        return load_profile(self.area_profile)

    @property
    def database_name(self) -> str:
        return self.mongo_db or f"dsr_{self.service_name}"

    @property
    def jwks_url(self) -> str:
        return self.auth_jwks_url or f"{self.auth_issuer.rstrip('/')}/.well-known/jwks.json"

    def startup_problems(self, *, nhs_hash_key: bool = False) -> list[str]:
        """What makes this configuration unsafe outside development mode, each
        naming its setting (empty in development mode)."""
        if self.development_mode:
            return []
        problems = []
        if not self.auth_issuer.strip():
            problems.append(
                "DSR_AUTH_ISSUER is not set: the issuer URL of the register's identity service, whose "
                "public keys verify every access token"
            )
        key = self.nhs_hash_key.get_secret_value()
        if nhs_hash_key and (not key.strip() or key == DEVELOPMENT_NHS_HASH_KEY):
            problems.append(
                "DSR_NHS_HASH_KEY is missing or the shipped development value: set a random secret "
                "shared by the referral and rating services"
            )
        return problems

    def refuse_unsafe(self, *, nhs_hash_key: bool = False) -> None:
        problems = self.startup_problems(nhs_hash_key=nhs_hash_key)
        if problems:
            raise StartupRefused("; ".join(problems) + " (or set DSR_DEVELOPMENT_MODE=true on a local stack)")

    @property
    def consumer_group(self) -> str:
        return consumer_group(self.topic_prefix, self.service_name)

    def topic(self, topic: Topic) -> str:
        return topic_name(self.topic_prefix, topic)
