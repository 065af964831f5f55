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


DLQ_SUFFIX = ".dlq"


def topic_name(prefix: str, topic: Topic) -> str:
    return f"{prefix}{topic.value}"


def dlq_name(source_topic: str) -> str:
    return f"{source_topic}{DLQ_SUFFIX}"
