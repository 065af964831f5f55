"""Scenario tests of every R-OB rule on the real broker and database, with the
scheduler as its own process and a simulated clock, on both shipped profiles."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dsr_shared.platform.auth import Role
from dsr_shared.rules.area import Duration, load_profile
from dsr_shared.rules.working_time import WorkingCalendar
from dsr_testing.support import auth, eventually

PROFILES = ["derbyshire", "staffordshire"]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(timezone.utc)


def by_rule(obligations: list[dict]) -> dict[str, dict]:
    return {o["rule"]: o for o in obligations}


@pytest.mark.parametrize("profile", PROFILES)
async def test_every_r_ob_rule(scheduler_service, profile):
    svc = await scheduler_service(profile)
    area = load_profile(profile)
    calendar = WorkingCalendar(area.working_time)
    t0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=30)  # every step is in the past

    def deadline(amount: int, unit: str, start: datetime = t0) -> datetime:
        return calendar.deadline(start, Duration(amount=amount, unit=unit))

    async def open_rules(register_id: str, expected: set[str]) -> dict[str, dict]:
        async def probe():
            found = by_rule(
                o for o in await svc.obligations(register_id=register_id) if o["state"] in ("open", "due", "overdue")
            )
            return (found,) if set(found) == expected else None

        return (await eventually(probe, timeout=30))[0]

    # R-OB-13 (consent renewal a year from the consent date), R-OB-3, R-OB-4, R-OB-11 (amber),
    # R-OB-10 (keyworking: a young adult, under 25 on the day; needs their own consent).
    await svc.accepted("P-AMBER", t0, consent_date="2026-09-01", age_band="young_adult")
    await svc.rated("P-AMBER", "amber", t0, age_band="young_adult")
    amber = await open_rules("P-AMBER", {"R-OB-13", "R-OB-3", "R-OB-4", "R-OB-10", "R-OB-11"})
    assert utc(amber["R-OB-13"]["due_at"]) == datetime(2027, 9, 1, tzinfo=calendar.zone)
    assert utc(amber["R-OB-3"]["due_at"]) == deadline(10, "working_days")
    assert utc(amber["R-OB-4"]["due_at"]) == deadline(4, "weeks")
    assert utc(amber["R-OB-11"]["due_at"]) == deadline(14, "calendar_days")
    assert amber["R-OB-10"]["needs_own_consent"] is True and amber["R-OB-10"]["responsible"] == "keyworking_service"

    # R-OB-11: an update completes the update that was due and starts the clock again.
    update_at = t0 + timedelta(days=3)
    await svc.update_added("P-AMBER", update_at)
    await eventually(lambda: svc.published("ObligationCompleted", "P-AMBER"))
    renewed = await open_rules("P-AMBER", {"R-OB-13", "R-OB-3", "R-OB-4", "R-OB-10", "R-OB-11"})
    assert utc(renewed["R-OB-11"]["due_at"]) == deadline(14, "calendar_days", update_at)

    # R-OB-4: completing a follow-up meeting schedules the next, 4 weeks from the meeting.
    held = t0 + timedelta(days=5)
    answer = await svc.http.post(
        f"{svc.url}/obligations/{amber['R-OB-4']['obligation_id']}/complete",
        json={"completed_at": held.isoformat(), "outcome": "Meeting held; plan agreed."},
        headers=auth(Role.DSR_TEAM),
    )
    assert answer.status_code == 200, answer.text
    again = await open_rules("P-AMBER", {"R-OB-13", "R-OB-3", "R-OB-4", "R-OB-10", "R-OB-11"})
    assert utc(again["R-OB-4"]["due_at"]) == deadline(4, "weeks", held)
    repeat = await svc.http.post(
        f"{svc.url}/obligations/{amber['R-OB-4']['obligation_id']}/complete",
        json={"completed_at": held.isoformat(), "outcome": "again"},
        headers=auth(Role.DSR_TEAM),
    )
    assert repeat.status_code == 409

    # R-OB-1: escalated to red: community C(E)TR within 72 working hours; amber's meetings are cancelled.
    red_at = t0 + timedelta(days=6)
    await svc.rated("P-AMBER", "red", red_at, frm="amber", age_band="young_adult")
    red = await open_rules("P-AMBER", {"R-OB-13", "R-OB-1", "R-OB-10"})
    await eventually(lambda: len(svc.published("ObligationCancelled", "P-AMBER")) >= 3)
    assert utc(red["R-OB-1"]["due_at"]) == deadline(72, "working_hours", red_at)
    cancelled = {e["data"]["rule"] for e in svc.published("ObligationCancelled", "P-AMBER")}
    assert {"R-OB-3", "R-OB-4", "R-OB-11"} <= cancelled

    # R-OB-2: a LAEP is recorded as an exception and does not count as the C(E)TR.
    laep = await svc.http.post(
        f"{svc.url}/obligations/{red['R-OB-1']['obligation_id']}/complete",
        json={"completed_at": red_at.isoformat(), "outcome": "LAEP held", "laep": True},
        headers=auth(Role.DSR_TEAM),
    )
    assert laep.status_code == 202
    still = by_rule(await svc.obligations(register_id="P-AMBER", rule="R-OB-1"))["R-OB-1"]
    assert still["state"] in ("open", "due", "overdue") and "LAEP" in still["exceptions"][0]

    # R-OB-15: a C(E)TR records the rating review; its recommendations become obligations.
    no_review = await svc.http.post(
        f"{svc.url}/obligations/{red['R-OB-1']['obligation_id']}/complete",
        json={"completed_at": red_at.isoformat(), "outcome": "C(E)TR held"},
        headers=auth(Role.DSR_TEAM),
    )
    assert [r["code"] for r in no_review.json()["reasons"]] == ["R-OB-15.rating_review"]
    cetr = await svc.http.post(
        f"{svc.url}/obligations/{red['R-OB-1']['obligation_id']}/complete",
        json={
            "completed_at": red_at.isoformat(),
            "outcome": "C(E)TR held",
            "rating_review": "red",
            "actions": [
                {"description": "Crisis plan to the GP", "owner": "ana.worker@example.org", "due_on": "2027-01-15"}
            ],
        },
        headers=auth(Role.DSR_TEAM),
    )
    assert cetr.status_code == 200, cetr.text
    actions = await eventually(lambda: svc.obligations(register_id="P-AMBER", rule="R-OB-15"))
    assert actions[0]["responsible"] == "ana.worker@example.org" and actions[0]["title"] == "Crisis plan to the GP"
    completed = [e for e in svc.published("ObligationCompleted", "P-AMBER") if e["data"]["rule"] == "R-OB-1"]
    assert completed and completed[0]["data"]["rating_review"] == "red" and completed[0]["data"]["actions"] == 1

    # R-OB-7, R-OB-8 (secure: 12 months), R-OB-9 for an adult; R-OB-7c, R-OB-8c, R-OB-9c for a child.
    blue_at = t0 + timedelta(days=7)
    await svc.rated("P-ADULT", "blue", blue_at, frm="red", secure=True)
    adult = await open_rules("P-ADULT", {"R-OB-7", "R-OB-8s", "R-OB-9"})
    assert utc(adult["R-OB-7"]["due_at"]) == deadline(28, "calendar_days", blue_at)
    assert utc(adult["R-OB-8s"]["due_at"]) == deadline(12, "months", blue_at)
    assert utc(adult["R-OB-9"]["due_at"]) == deadline(8, "weeks", blue_at)
    await svc.rated("P-OPEN-BED", "blue", blue_at, frm="amber", secure=False)
    assert utc((await open_rules("P-OPEN-BED", {"R-OB-7", "R-OB-8", "R-OB-9"}))["R-OB-8"]["due_at"]) == deadline(
        6, "months", blue_at
    )
    await svc.rated("P-CHILD", "blue", blue_at, frm="red", cohort="cyp", age_band="cyp", secure=False)
    child = await open_rules("P-CHILD", {"R-OB-7c", "R-OB-8c", "R-OB-9c"})
    assert utc(child["R-OB-7c"]["due_at"]) == deadline(2, "weeks", blue_at)
    assert utc(child["R-OB-8c"]["due_at"]) == deadline(3, "months", blue_at)
    assert utc(child["R-OB-9c"]["due_at"]) == deadline(6, "weeks", blue_at)

    # R-OB-5: discharged (blue → amber): post-discharge meeting within 10 working days; inpatient ones cancelled.
    home_at = t0 + timedelta(days=9)
    await svc.rated("P-ADULT", "amber", home_at, frm="blue")
    home = await open_rules("P-ADULT", {"R-OB-5", "R-OB-4", "R-OB-11"})
    assert utc(home["R-OB-5"]["due_at"]) == deadline(10, "working_days", home_at)

    # R-OB-6 and R-OB-12: green: removal review a month on, monthly updates; back to amber cancels them.
    await svc.rated("P-ADULT", "green", home_at + timedelta(days=1), frm="amber")
    green = await open_rules("P-ADULT", {"R-OB-5", "R-OB-6", "R-OB-12"})
    assert utc(green["R-OB-6"]["due_at"]) == deadline(1, "months", home_at + timedelta(days=1))

    # Removal cancels everything still open.
    await svc.removed("P-CHILD", blue_at + timedelta(days=1))
    await open_rules("P-CHILD", set())

    # R-OB-14: the tracking meeting's agenda: people by rating, what is due, whose update is missing.
    tracking = (await svc.http.get(f"{svc.url}/tracking-meeting", headers=auth(Role.DSR_TEAM))).json()
    if area.tracking_meeting:
        meeting = datetime.fromisoformat(tracking["meeting_at"]).astimezone(calendar.zone)
        assert meeting.strftime("%A %H:%M") == "Thursday 09:30"
    else:
        assert tracking["meeting_at"] is None
    assert set(tracking["people_by_rating"]) <= {"red", "amber", "green", "blue"}

    # Time passes: each obligation is announced due, then overdue, once.
    await svc.advance_clock(timedelta(days=400))

    async def all_overdue():
        active = [o for o in await svc.obligations() if o["state"] in ("open", "due", "overdue")]
        announced = {e["data"]["obligation_id"] for e in svc.published("ObligationOverdue")}
        return active and all(o["state"] == "overdue" and o["obligation_id"] in announced for o in active)

    await eventually(all_overdue)
    due_ids = [e["data"]["obligation_id"] for e in svc.published("ObligationDue")]
    overdue_ids = [e["data"]["obligation_id"] for e in svc.published("ObligationOverdue")]
    assert len(due_ids) == len(set(due_ids)) and len(overdue_ids) == len(set(overdue_ids))
    assert set(overdue_ids) <= set(due_ids)
    tracking = (await svc.http.get(f"{svc.url}/tracking-meeting", headers=auth(Role.DSR_TEAM))).json()
    assert tracking["updates_missing"] and tracking["due_or_overdue"]
