"""Corrections hospitals send after the fact, read before the fold (standing.py).

- A cancelled admission (HL7 A11) or discharge (A13) is marked cancelled: the
  person stands as if it had never been sent, and the history keeps it as a
  change that did not take effect (R-RAG-7); the cancellation shows at its own
  time as what moved the rating back.
- A transfer (A02) moves the current stay to another bed or hospital, without
  a rating change; the stay keeps its admission time. A transfer for someone
  not known to be in hospital is read as their admission (R-RAG-3): the
  admission message was missed, or came from a ward the area does not count.

Pure and order-free: the same facts give the same reading whatever order they
arrived in, so the register still ends the same."""

from __future__ import annotations

from collections.abc import Iterable

from dsr_shared.contract.events.ratings import HospitalStay
from dsr_rating.domain.facts import Fact

CANCELLED_KIND = {"admission_cancelled": "admission", "discharge_cancelled": "discharge"}
CORRECTIONS = frozenset(CANCELLED_KIND)


def corrected(facts: Iterable[Fact]) -> list[Fact]:
    """The facts in time order, as the fold reads them."""
    ordered = sorted(facts, key=lambda f: f.sort_key)
    cancelled = {f.cancels for f in ordered if f.kind in CORRECTIONS}
    reading: list[Fact] = []
    in_hospital = False
    for fact in ordered:
        if fact.kind in CANCELLED_KIND.values() and fact.identity in cancelled:
            fact = fact.model_copy(update={"cancelled": True})
        if fact.kind == "transfer" and not in_hospital:
            fact = fact.model_copy(
                update={
                    "kind": "admission",
                    "rationale": f"{fact.rationale} No admission was known: it counts as one (R-RAG-3).",
                }
            )
        in_hospital, _ = stay_after(fact, in_hospital, None)
        reading.append(fact)
    return reading


def stay_after(fact: Fact, in_hospital: bool, stay: HospitalStay | None) -> tuple[bool, HospitalStay | None]:
    """Whether the person is in hospital after `fact`, and in which bed."""
    if fact.cancelled:
        return in_hospital, stay
    match fact.kind:
        case "admission":
            return True, fact.hospital
        case "discharge":
            return False, None
        case "transfer" if fact.hospital is not None:
            moved = fact.hospital.model_copy(update={"admitted_at": stay.admitted_at}) if stay else fact.hospital
            return True, moved
    return in_hospital, stay
