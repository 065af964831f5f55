"""What the register's HTTP API shows of a record."""

from __future__ import annotations

from typing import Any

from dsr_rating.domain.facts import Fact
from dsr_rating.domain.record import PersonRecord
from dsr_rating.domain.standing import Standing

HOSPITAL_KINDS = ("admission", "discharge", "transfer", "admission_cancelled", "discharge_cancelled")


def person_view(record: PersonRecord, standing: Standing) -> dict[str, Any]:
    """GET /register/{id}: current rating, history, updates, professionals (docs/CONTRACT.md)."""
    pending = record.pending_removal_request(standing)
    return {
        "register_id": record.register_id,
        "status": standing.status,
        "rating": standing.rating,
        "rating_since": standing.rating_since,
        "cohort": record.cohort,
        "age_band": record.age_band,
        "needs_completion": record.cohort == "unknown",
        "in_hospital": standing.in_hospital,
        "hospital": standing.hospital.model_dump(mode="json") if standing.hospital else None,
        "green_until": standing.green_until,
        "post_discharge_hold_until": standing.hold_until,
        "removal_requested": pending.model_dump(mode="json") if pending else None,
        "history": [entry.model_dump(mode="json") for entry in standing.history],
        "updates": [update.model_dump(mode="json") for update in record.updates],
        "professionals": [p.model_dump(mode="json") for p in record.professionals.professionals]
        if record.professionals
        else [],
        "hospital_events": [
            fact.model_dump(
                mode="json", include={"kind", "at", "hospital_ods_code", "hospital", "destination", "id", "cancels"}
            )
            for fact in record.facts
            if fact.kind in HOSPITAL_KINDS
        ],
        "version": record.version,
    }


def summary_view(doc: dict[str, Any]) -> dict[str, Any]:
    """One line of GET /register."""
    updates = doc.get("updates") or []
    return {
        "register_id": doc["_id"],
        "status": doc["status"],
        "rating": doc["rating"],
        "rating_since": doc.get("rating_since"),
        "cohort": doc["cohort"],
        "age_band": doc.get("age_band"),
        "in_hospital": doc.get("in_hospital", False),
        "green_until": doc.get("green_until"),
        "last_update_at": updates[-1]["at"] if updates else None,
        # Referred automatically: the DSR team completes the record (age, and
        # with it the cohort) with a full referral.
        "needs_completion": doc["cohort"] == "unknown",
    }


def unmatched_view(fact: Fact) -> dict[str, Any]:
    """One hospital event of someone not on the register (GET /hospital-events/unmatched)."""
    return {
        "kind": fact.kind,
        "at": fact.at,
        "hospital_ods_code": fact.hospital_ods_code,
        "hospital": fact.hospital.model_dump(mode="json") if fact.hospital else None,
    }


def merge_view(doc: dict[str, Any]) -> dict[str, Any]:
    """A hospital merge waiting for, or resolved by, the DSR team."""
    return {
        "merge_id": doc["_id"],
        "kept_register_id": doc["kept_register_id"],
        "merged_register_id": doc["merged_register_id"],
        "hospital_ods_code": doc["hospital_ods_code"],
        "merged_at": doc["merged_at"],
        "resolved_at": doc.get("resolved_at"),
        "resolved_by": doc.get("resolved_by"),
        "note": doc.get("note"),
    }
