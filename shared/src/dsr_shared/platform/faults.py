"""Which faults are transient (retry with backoff) and which are not (dead-letter)."""

from __future__ import annotations

from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    NotLeaderForPartitionError,
    RequestTimedOutError,
)
from pymongo.errors import AutoReconnect, ConnectionFailure, NetworkTimeout, ServerSelectionTimeoutError
from tenacity import retry_if_exception, stop_after_attempt, wait_exponential_jitter

TRANSIENT_FAULTS: tuple[type[BaseException], ...] = (
    AutoReconnect,
    ConnectionFailure,
    NetworkTimeout,
    ServerSelectionTimeoutError,
    KafkaConnectionError,
    KafkaTimeoutError,
    NotLeaderForPartitionError,
    RequestTimedOutError,
    ConnectionError,
    TimeoutError,
)


def is_transient(exc: BaseException) -> bool:
    """A fault that passes: a server away, or what Kafka itself calls retriable
    (no leader yet, a node not ready, too few replicas in sync)."""
    return isinstance(exc, TRANSIENT_FAULTS) or (isinstance(exc, KafkaError) and bool(getattr(exc, "retriable", False)))


def transient_retry_policy(attempts: int = 8) -> dict:
    """Backoff from 0.2 s to 10 s. After the last attempt the fault is raised,
    so the message is not acknowledged and comes back: nothing is lost."""
    return {
        "retry": retry_if_exception(is_transient),
        "wait": wait_exponential_jitter(multiplier=0.2, max=10),
        "stop": stop_after_attempt(attempts),
        "reraise": True,
    }
