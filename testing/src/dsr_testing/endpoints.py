"""Every endpoint of every service with the roles it admits, and what a
referrer who may not see the person gets. tests/test_access_per_person.py
checks this table against each app's routes (an endpoint added without a line
here fails it) and every line against the running services;
tests/test_openapi_conformance.py runs schemathesis with each role on the
operations that admit it."""

from __future__ import annotations

from datetime import datetime, timezone

from dsr_shared.platform.auth import Role
from dsr_testing.stack import WITH_GATEWAY

EVERY_ROLE = set(Role)
UNTOUCHED = {"/health/live", "/health/ready", "/health/consumer", "/metrics"}
NOW = datetime.now(timezone.utc).isoformat()

# What a referrer who may not see the person gets: "person" → the 404 of a
# missing id; "list" → 200 without the person, and asked for the person by
# register_id, the 404 of a missing id; "mine" → 200 without the person; "intake" → a new referral is
# anyone's to make (what it says about people already on the register is the
# referral service's own test); None → the role is refused (403).
ENDPOINTS: dict[tuple[str, str, str], tuple[set[Role], str | None, dict | None]] = {
    ("referral", "POST", "/referrals"): ({Role.REFERRER, Role.DSR_TEAM}, "intake", None),
    ("referral", "GET", "/referrals/{referral_id}"): ({Role.REFERRER, Role.DSR_TEAM}, "person", None),
    ("referral", "PUT", "/people/{register_id}/address"): (
        {Role.REFERRER, Role.DSR_TEAM},
        "person",
        {"line1": "2 Other Street", "town": "Derby", "postcode": "DE1 1AB"},
    ),
    ("referral", "GET", "/people/{register_id}"): ({Role.REFERRER, Role.DSR_TEAM}, "person", None),
    ("referral", "POST", "/searches/people"): ({Role.DSR_TEAM}, None, {"family_name": "Nobody"}),
    ("rating", "GET", "/register"): ({Role.DSR_TEAM, Role.OPS}, None, None),
    ("rating", "GET", "/caseload"): ({Role.REFERRER, Role.DSR_TEAM}, "mine", None),
    ("rating", "GET", "/removal-requests"): ({Role.DSR_TEAM}, None, None),
    ("rating", "GET", "/register/{register_id}"): ({Role.DSR_TEAM, Role.REFERRER}, "person", None),
    ("rating", "POST", "/register/{register_id}/rating"): (
        {Role.DSR_TEAM, Role.REFERRER},
        "person",
        {"rating": "red", "rationale": "Crisis.", "agreed_with_person": True},
    ),
    ("rating", "POST", "/register/{register_id}/updates"): (
        {Role.DSR_TEAM, Role.REFERRER},
        "person",
        {"text": "Seen today."},
    ),
    ("rating", "PUT", "/register/{register_id}/professionals"): (
        {Role.DSR_TEAM, Role.REFERRER},
        "person",
        {"professionals": []},
    ),
    ("rating", "POST", "/register/{register_id}/removal"): (
        {Role.DSR_TEAM, Role.REFERRER},
        "person",
        {"reason": "Agreed."},
    ),
    ("rating", "GET", "/hospital-events/unmatched"): ({Role.DSR_TEAM}, None, None),
    ("rating", "GET", "/hospital-events/merges"): ({Role.DSR_TEAM}, None, None),
    ("rating", "POST", "/hospital-events/merges/{merge_id}/resolved"): (
        {Role.DSR_TEAM},
        None,
        {"reason": "Checked with the trust."},
    ),
    ("scheduler", "GET", "/obligations"): ({Role.DSR_TEAM, Role.OPS, Role.REFERRER}, "list", None),
    ("scheduler", "POST", "/obligations/{obligation_id}/complete"): (
        {Role.DSR_TEAM, Role.REFERRER},
        "person",
        {"completed_at": NOW, "outcome": "Held as planned."},
    ),
    ("scheduler", "GET", "/tracking-meeting"): ({Role.DSR_TEAM, Role.OPS}, None, None),
    ("notifier", "GET", "/notifications"): ({Role.DSR_TEAM, Role.OPS, Role.REFERRER}, "list", None),
    ("notifier", "POST", "/notifications/{notification_id}/retry"): ({Role.DSR_TEAM, Role.OPS}, None, None),
    # The hospital gateway: FHIR from the trusts' systems; unparseable HL7 for the operations team only.
    ("hospital_gateway", "POST", "/fhir/Encounter"): ({Role.SYSTEM}, None, None),
    ("hospital_gateway", "GET", "/quarantine"): ({Role.OPS}, None, None),
    ("hospital_gateway", "GET", "/quarantine/{quarantine_id}"): ({Role.OPS}, None, None),
    ("hospital_gateway", "DELETE", "/quarantine/{quarantine_id}"): ({Role.OPS}, None, None),
    **{(s, "GET", "/audit"): ({Role.DSR_TEAM, Role.AUDITOR}, None, None) for s in WITH_GATEWAY},
    **{(s, "GET", "/ops/outbox/parked"): ({Role.OPS}, None, None) for s in WITH_GATEWAY},
    **{(s, "POST", "/ops/outbox/{event_id}/retry"): ({Role.OPS}, None, None) for s in WITH_GATEWAY},
}
