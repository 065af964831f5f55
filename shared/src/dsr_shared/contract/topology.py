"""Who talks to whom: each service, the topics it reads and writes, its
consumer group and its port on the local stack. Written here once; the
services' wiring, the operators' command, the local stack and the tests read
it, and a service that subscribes to a topic not listed here does not start
(messaging.subscribe)."""

from __future__ import annotations

from dataclasses import dataclass

from dsr_shared.contract.topics import Topic


@dataclass(frozen=True)
class ServiceTopology:
    name: str
    port: int  # HTTP, on the local stack (`make run`)
    reads: tuple[Topic, ...] = ()
    writes: tuple[Topic, ...] = ()
    register: bool = False  # keeps part of the register, by register id (and audits by it)

    @property
    def topics(self) -> list[Topic]:
        """Every topic the service uses, each once: what it makes sure exists."""
        return list(dict.fromkeys((*self.reads, *self.writes)))

    def consumer_group(self, topic_prefix: str = "") -> str:
        return consumer_group(topic_prefix, self.name)


def consumer_group(topic_prefix: str, service: str) -> str:
    return f"{topic_prefix}dsr-{service}"


_ALL = (
    # The identity service first: the others verify tokens with its keys.
    ServiceTopology("identity", 8005),
    ServiceTopology(
        "referral",
        8001,
        reads=(Topic.REFERRALS_SUBMITTED, Topic.REFERRALS, Topic.DISCHARGES, Topic.RATINGS),
        writes=(Topic.REFERRALS_SUBMITTED, Topic.REFERRALS),
        register=True,
    ),
    ServiceTopology(
        "rating",
        8002,
        reads=(Topic.REFERRALS, Topic.RATINGS, Topic.ADMISSIONS, Topic.DISCHARGES),
        writes=(Topic.RATINGS,),
        register=True,
    ),
    ServiceTopology(
        "scheduler",
        8003,
        reads=(Topic.REFERRALS, Topic.RATINGS),
        writes=(Topic.OBLIGATIONS,),
        register=True,
    ),
    ServiceTopology(
        "notifier",
        8004,
        reads=(Topic.REFERRALS, Topic.RATINGS, Topic.OBLIGATIONS),
        writes=(Topic.NOTIFICATIONS,),
        register=True,
    ),
    # Knows NHS numbers only, and never keeps them: publishes, reads nothing.
    ServiceTopology("hospital_gateway", 8006, writes=(Topic.ADMISSIONS, Topic.DISCHARGES)),
    ServiceTopology("web", 8080),
)

SERVICES: dict[str, ServiceTopology] = {s.name: s for s in _ALL}
REGISTER_SERVICES: tuple[str, ...] = tuple(s.name for s in _ALL if s.register)
# The services an operator reaches over HTTP with the `dsr` command (the web
# front end and the identity service are reached by people, not operators).
OPERATED_SERVICES: tuple[str, ...] = tuple(s.name for s in _ALL if s.name not in ("identity", "web"))
