"""Topic names of the public contract (docs/CONTRACT.md). A prefix, from settings,
lets one Kafka cluster carry several instances or test runs side by side."""

from __future__ import annotations

from enum import StrEnum


class Topic(StrEnum):
    REFERRALS_SUBMITTED = "dsr.referrals.submitted"
    REFERRALS = "dsr.referrals"
    RATINGS = "dsr.ratings"
    ADMISSIONS = "dsr.hospital.admissions"
    DISCHARGES = "dsr.hospital.discharges"
    OBLIGATIONS = "dsr.obligations"
    NOTIFICATIONS = "dsr.notifications"


# Topics other NHS systems publish to. What arrives there is checked strictly:
# this area's envelope, an event type of that topic, keyed as the contract
# says (by NHS number); anything else goes to the topic's DLQ with the reason.
FROM_OTHER_SYSTEMS = frozenset({Topic.ADMISSIONS, Topic.DISCHARGES})

DLQ_SUFFIX = ".dlq"


def topic_name(prefix: str, topic: Topic) -> str:
    return f"{prefix}{topic.value}"


def dlq_name(source_topic: str) -> str:
    return f"{source_topic}{DLQ_SUFFIX}"
