"""The gateway's reading of HL7 v2 and FHIR, and the area's mapping, pure:
which stays count, the events each message type becomes, what is refused."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import hl7
import pytest

from dsr_shared.rules.area import load_profile
from dsr_hospital_gateway.adapters import fhir_encounter, hl7v2
from dsr_hospital_gateway.domain.messages import Refused
from dsr_hospital_gateway.domain.stays import LEFT_THE_BED, events_for
from dsr_hospital_gateway.samples import Stay, adt

LONDON = ZoneInfo("Europe/London")
T = datetime(2026, 7, 6, 9, 30, tzinfo=timezone.utc)
NHS, OTHER = "9434765919", "9434765870"
FEEDS = load_profile("derbyshire").hospital_feeds


def events(text: str, feeds=FEEDS):
    received = hl7v2.parse(text.encode())
    hl7v2.check_header(received.header, ["P"])
    hl7v2.validate(str(received.message))
    return [(e.EVENT_TYPE, e) for e in events_for(hl7v2.hospital_message(received, feeds, LONDON), feeds)]


def test_an_admission_to_a_listed_ward_with_its_bed_legal_basis_and_time():
    [(kind, event)] = events(
        adt("A01", NHS, stay=Stay(site="RXM02", ward="KEDLESTON", legal_status="02"), at=T, admitted_at=T)
    )
    assert kind == "Admitted"
    assert (event.hospital_ods_code, event.ward, event.bed_type, event.secure, event.legal_basis) == (
        "RXM02",
        "KEDLESTON",
        "mental_health",
        True,
        "section_2",
    )
    assert event.admitted_at == T


@pytest.mark.parametrize(
    "stay, counted",
    [
        (Stay(ward="GEN1", specialty="700"), "learning_disability"),  # not listed: by its specialty
        (Stay(ward="GEN1", specialty="710"), "mental_health"),
        (Stay(ward="GEN1", specialty="300"), None),  # general medicine: dropped
        (Stay(ward="WARD33", specialty="300"), "mental_health"),  # a listed ward counts whatever the specialty
        (Stay(ward="WARD33", patient_class="O"), None),  # an outpatient attendance is no stay
    ],
)
def test_which_stays_count(stay, counted):
    found = events(adt("A01", NHS, stay=stay, at=T, admitted_at=T))
    assert [e.bed_type for _, e in found] == ([counted] if counted else [])


def test_legal_status_codes_and_what_is_not_one_of_them():
    for code, basis in (("01", "informal"), ("03", "section_3"), ("37", "other"), (None, "other")):
        [(_, event)] = events(adt("A01", NHS, stay=Stay(legal_status=code), at=T, admitted_at=T))
        assert event.legal_basis == basis


def test_a_time_without_an_offset_is_the_areas_time():
    text = adt("A01", NHS, at=T, admitted_at=T).replace(hl7v2_time(T), "20260706103000")
    [(_, event)] = events(text)
    assert event.admitted_at == datetime(2026, 7, 6, 10, 30, tzinfo=LONDON)  # BST: 09:30 UTC
    assert event.admitted_at.astimezone(timezone.utc) == T


def hl7v2_time(moment: datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%S+0000")


def test_every_message_type():
    later = T + timedelta(hours=2)
    assert [k for k, _ in events(adt("A03", NHS, at=later, discharged_at=later, destination="19"))] == ["Discharged"]
    [(kind, cancel)] = events(adt("A11", NHS, at=later, admitted_at=T))
    assert (kind, cancel.admitted_at, cancel.cancelled_at) == ("AdmissionCancelled", T, later)
    [(kind, cancel)] = events(adt("A13", NHS, at=later, discharged_at=T))
    assert (kind, cancel.discharged_at) == ("DischargeCancelled", T)
    [(kind, moved)] = events(adt("A02", NHS, stay=Stay(site="RXM03", ward="LDASSESS"), prior=Stay(), at=later))
    assert (kind, moved.hospital_ods_code, moved.from_hospital_ods_code, moved.bed_type) == (
        "Transferred",
        "RXM03",
        "RXM01",
        "learning_disability",
    )
    [(kind, left)] = events(
        adt("A02", NHS, stay=Stay(ward="GEN1", specialty="300"), prior=Stay(specialty="300"), at=later)
    )
    assert (kind, left.destination, left.discharged_at) == ("Discharged", LEFT_THE_BED, later)
    assert events(adt("A02", NHS, stay=Stay(ward="GEN1", specialty="300"), at=later)) == []
    assert [k for k, _ in events(adt("A08", NHS, at=later, admitted_at=T))] == ["Admitted"]
    assert events(adt("A08", NHS, at=later, admitted_at=T, discharged_at=later)) == []
    [(kind, merge)] = events(adt("A40", NHS, merged_nhs_number=OTHER, at=later))
    assert (kind, merge.nhs_number, merge.merged_nhs_number, merge.hospital_ods_code) == (
        "PatientsMerged",
        NHS,
        OTHER,
        "RXM",
    )
    assert events(adt("A40", NHS, merged_nhs_number=NHS, at=later)) == []


@pytest.mark.parametrize(
    "text, code, where",
    [
        (adt("A11", NHS, at=T), "no_pv1_44", "PV1-44"),
        (adt("A13", NHS, at=T), "no_pv1_45", "PV1-45"),
        (adt("A01", "9434765918", at=T), "invalid_nhs_number", "PID-3"),
        (adt("A01", NHS, at=T).replace("^^^NHS^NH", "^^^RXM^MR"), "no_nhs_number", "PID-3"),
        (adt("A40", NHS, merged_nhs_number="1234567890", at=T), "invalid_merged_nhs_number", "MRG-1"),
        (adt("A01", NHS, at=T).replace("PV1|1|I|", "PV1|1|I|").replace(hl7v2_time(T), "2026137"), "invalid_time", None),
    ],
)
def test_what_is_refused_says_which_field_never_its_value(text, code, where):
    with pytest.raises(Refused) as refused:
        events(text)
    assert refused.value.ack == "AE" and refused.value.code == code
    assert where is None or refused.value.where == where
    assert NHS not in refused.value.reason and "9434765918" not in refused.value.reason


def test_the_ack_is_hl7_with_the_control_id_and_an_err_segment():
    received = hl7v2.parse(adt("A01", NHS, at=T, control_id="C-42").encode())
    refusal = Refused(
        "AE", "invalid_nhs_number", "PID-3: the NHS number is not a valid one", where="PID-3", error="102"
    )
    ack = hl7.parse(hl7v2.ack(received.header, "AE", refusal.reason, refusal=refusal).decode())
    assert str(ack.segment("MSA")(1)) == "AE" and str(ack.segment("MSA")(2)) == "C-42"
    assert str(ack.segment("MSH")(9)) == "ACK^A01^ACK" and str(ack.segment("MSH")(5)) == "PAS"
    assert str(ack.segment("ERR")(1)).startswith("PID^1^3^102")


def test_a_fhir_encounter_reads_as_the_hl7_messages_would():
    body = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"identifier": {"system": fhir_encounter.NHS_NUMBER_SYSTEM, "value": NHS}},
        "period": {"start": T.isoformat(), "end": (T + timedelta(days=3)).isoformat()},
        "serviceProvider": {"identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "RXM01"}},
        "location": [
            {"location": {"identifier": {"value": "WARD33"}}, "period": {"start": T.isoformat()}},
            {"location": {"identifier": {"value": "WARD34"}}, "period": {"start": (T + timedelta(days=1)).isoformat()}},
        ],
        "hospitalization": {"dischargeDisposition": {"coding": [{"code": "19"}]}},
    }
    messages = fhir_encounter.hospital_messages(fhir_encounter.encounter(body), T, LONDON)
    found = [e for m in messages for e in events_for(m, FEEDS)]
    assert [(e.EVENT_TYPE, e.ward) for e in found] == [
        ("Admitted", "WARD33"),
        ("Transferred", "WARD34"),
        ("Discharged", "WARD34"),
    ]
    assert found[2].destination == "19" and found[1].transferred_at == T + timedelta(days=1)
    cancelled = fhir_encounter.hospital_messages(
        fhir_encounter.encounter({**body, "status": "entered-in-error"}), T, LONDON
    )
    assert [e.EVENT_TYPE for m in cancelled for e in events_for(m, FEEDS)] == ["AdmissionCancelled"]
    assert fhir_encounter.hospital_messages(fhir_encounter.encounter({**body, "status": "planned"}), T, LONDON) == []
