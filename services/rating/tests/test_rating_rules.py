"""Scenario tests of every R-RAG rule on the real broker and database, with the
rating service as its own process, on both shipped area profiles."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dsr_shared.platform.auth import Role
from dsr_testing.support import auth, eventually

REFERRER = "case.holder@example.org"  # the referrer the rating_service fixture accepts people from

PROFILES = ["derbyshire", "staffordshire"]


def causes(view: dict) -> list[tuple]:
    return [(h["from_rating"], h["to_rating"], h["cause"]) for h in view["history"]]


@pytest.mark.parametrize("profile", PROFILES)
async def test_every_r_rag_rule_on_the_shipped_profiles(rating_service, profile):
    svc = await rating_service(profile)
    now = datetime.now(timezone.utc)

    # R-RAG-1: the person enters with the referrer's rating; RatingChanged from none.
    amy, amy_nhs = svc.new_person()
    await svc.accept(amy, amy_nhs, "amber", at=now - timedelta(days=3))
    assert await eventually(lambda: svc.published("RatingChanged", amy))
    first = svc.published("RatingChanged", amy)[0]["data"]
    assert (first["from_rating"], first["to_rating"], first["cause"], first["age_band"]) == (
        None,
        "amber",
        "referral",
        "adult",
    )

    # R-RAG-2: a case holder changes the rating with a rationale and whether it was agreed.
    answer = await svc.change(amy, "red", rationale="Placement breaking down.", agreed_with_person=False)
    assert answer.status_code == 200, answer.text
    changed = (
        await eventually(lambda: [e for e in svc.published("RatingChanged", amy) if e["data"]["cause"] == "person"])
    )[0]
    assert changed["data"]["changed_by"] == REFERRER and changed["data"]["agreed_with_person"] is False
    blank = await svc.change(amy, "amber", rationale="   ")
    assert blank.status_code == 422 and blank.json()["reasons"][0]["field"] == "rationale"
    same = await svc.change(amy, "red")
    assert [r["code"] for r in same.json()["reasons"]] == ["R-RAG-2.unchanged"]
    stranger = await svc.change(amy, "amber", subject="someone.else@example.org")
    assert stranger.status_code == 404

    # R-RAG-3: blue only through an admission; then the referrer cannot leave it by hand.
    hand_blue = await svc.change(amy, "blue")
    assert [r["code"] for r in hand_blue.json()["reasons"]] == ["R-RAG-3.blue_by_admission"]
    await svc.admit(amy_nhs, datetime.now(timezone.utc), secure=True)
    assert await eventually(lambda: _rated(svc, amy, "blue"))
    admitted = [e for e in svc.published("RatingChanged", amy) if e["data"]["cause"] == "admission"]
    assert admitted and admitted[0]["data"]["hospital"]["secure"] is True
    leave = await svc.change(amy, "amber")
    assert [r["code"] for r in leave.json()["reasons"]] == ["R-RAG-3.in_hospital"]

    # R-RAG-4: discharge → the area's post-discharge rating (amber on both shipped profiles).
    await svc.discharge(amy_nhs, datetime.now(timezone.utc))
    assert await eventually(lambda: _rated(svc, amy, "amber"))

    # R-RAG-6: a referrer asks for removal with the update recording the conversation;
    # only the DSR team removes.
    asked = await svc.http.post(
        f"{svc.url}/register/{amy}/removal",
        json={"reason": "Best-interest meeting agreed support is settled.", "best_interest_meeting": True},
        headers=auth(Role.REFERRER, subject=REFERRER),
    )
    assert asked.status_code == 202 and asked.json()["outcome"] == "removal_requested"
    assert await eventually(lambda: svc.published("RemovalRequested", amy))
    view = (await svc.person(amy)).json()
    assert view["status"] == "on_register" and view["removal_requested"]["best_interest_meeting"] is True
    assert view["updates"][-1]["kind"] == "removal_request"
    removed = await svc.http.post(
        f"{svc.url}/register/{amy}/removal", json={"reason": "Agreed at the DSR meeting."}, headers=auth(Role.DSR_TEAM)
    )
    assert removed.status_code == 200 and removed.json()["outcome"] == "removed"
    assert (await eventually(lambda: svc.published("PersonRemoved", amy)))[0]["data"]["cause"] == "dsr_team"
    again = await svc.change(amy, "red", role=Role.DSR_TEAM, subject="dsr.team@example.org")
    assert [r["code"] for r in again.json()["reasons"]] == ["R-RAG-6.removed"]

    # R-RAG-7: every change is in the history, with who, when, why and the cause.
    view = (await svc.person(amy)).json()
    assert causes(view) == [
        (None, "amber", "referral"),
        ("amber", "red", "person"),
        ("red", "blue", "admission"),
        ("blue", "amber", "discharge"),
        ("amber", None, "removal"),
    ]
    assert all(h["changed_by"] and h["at"] and h["rationale"] for h in view["history"])

    # R-RAG-5: green lasts a month; back to amber within it needs no new referral;
    # still green at the end → removed, and the DSR team sees it (PersonRemoved).
    bea, bea_nhs = svc.new_person()
    cal, cal_nhs = svc.new_person()
    await svc.accept(bea, bea_nhs, "green")
    await svc.accept(cal, cal_nhs, "green")
    assert await eventually(lambda: _rated(svc, cal, "green"))
    back = await svc.change(cal, "amber", rationale="New need: carer unwell.")
    assert back.status_code == 200
    await svc.advance_clock(timedelta(days=32))
    gone = await eventually(lambda: svc.published("PersonRemoved", bea), timeout=30)
    assert gone[0]["data"]["cause"] == "green_month_ended"
    assert (await svc.person(bea)).json()["status"] == "removed"
    assert (await svc.person(cal)).json()["status"] == "on_register"
    listed = (
        await svc.http.get(f"{svc.url}/register", params={"status": "removed"}, headers=auth(Role.DSR_TEAM))
    ).json()
    assert {p["register_id"] for p in listed["people"]} >= {amy, bea}


async def _rated(svc, register_id: str, rating: str) -> bool:
    return await svc.rating_of(register_id) == rating


async def test_updates_professionals_and_the_tracking_list(rating_service):
    svc = await rating_service("staffordshire")
    dan, dan_nhs = svc.new_person()
    eve, eve_nhs = svc.new_person()
    await svc.accept(dan, dan_nhs, "red", cohort="cyp", age_band="cyp")
    await svc.accept(eve, eve_nhs, "amber")
    await eventually(lambda: _rated(svc, eve, "amber"))

    update = await svc.http.post(
        f"{svc.url}/register/{dan}/updates",
        json={"text": "Visited; plan agreed."},
        headers=auth(Role.REFERRER, subject=REFERRER),
    )
    assert update.status_code == 201
    added = await eventually(lambda: svc.published("UpdateAdded", dan))
    assert added[0]["data"]["update_id"] == update.json()["update_id"]

    two_holders = {
        "professionals": [
            {"name": "A", "role": "Social worker", "email": "a@example.org", "case_holder": True},
            {"name": "B", "role": "Nurse", "email": "b@example.org", "case_holder": True},
        ]
    }
    refused = await svc.http.put(
        f"{svc.url}/register/{dan}/professionals", json=two_holders, headers=auth(Role.DSR_TEAM)
    )
    assert refused.status_code == 422
    team = {
        "professionals": [
            {
                "name": "Ana Worker",
                "role": "Social worker",
                "organisation": "SCC",
                "email": "ana.worker@example.org",
                "phone": "01785 000000",
                "case_holder": True,
            },
        ]
    }
    saved = await svc.http.put(f"{svc.url}/register/{dan}/professionals", json=team, headers=auth(Role.DSR_TEAM))
    assert saved.status_code == 200
    assert await eventually(lambda: svc.published("ProfessionalsChanged", dan))
    # The named professional may now read and keep the record up to date.
    view = (await svc.person(dan, Role.REFERRER, subject="ana.worker@example.org")).json()
    assert view["professionals"][0]["case_holder"] is True and view["updates"][0]["text"] == "Visited; plan agreed."

    listing = await svc.http.get(f"{svc.url}/register", params={"cohort": "cyp"}, headers=auth(Role.OPS))
    assert listing.status_code == 200
    body = listing.json()
    assert body["counts"]["by_rating"] == {"red": 1} and body["people"][0]["last_update_at"]
    everyone = (await svc.http.get(f"{svc.url}/register", headers=auth(Role.DSR_TEAM))).json()
    assert everyone["counts"]["by_rating"] == {"red": 1, "amber": 1}
    assert everyone["counts"]["by_cohort"] == {"cyp": 1, "adult": 1}

    # A page at a time, in register-identifier order, the counts always of everyone the filters keep.
    first, second = sorted(p["register_id"] for p in everyone["people"])
    one = (await svc.http.get(f"{svc.url}/register", params={"limit": 1}, headers=auth(Role.DSR_TEAM))).json()
    assert [p["register_id"] for p in one["people"]] == [first] and one["next_after"] == first and one["total"] == 2
    after = (
        await svc.http.get(f"{svc.url}/register", params={"limit": 1, "after": first}, headers=auth(Role.DSR_TEAM))
    ).json()
    assert [p["register_id"] for p in after["people"]] == [second] and after["next_after"] is None
    numbered = (
        await svc.http.get(f"{svc.url}/register", params={"limit": 1, "page": 2}, headers=auth(Role.DSR_TEAM))
    ).json()
    assert [p["register_id"] for p in numbered["people"]] == [second]
    counts = (await svc.http.get(f"{svc.url}/register", params={"limit": 0}, headers=auth(Role.DSR_TEAM))).json()
    assert counts["people"] == [] and counts["counts"] == everyone["counts"]
    chosen = (
        await svc.http.get(
            f"{svc.url}/register", params={"register_id": [dan, "QJ2-NONE-NONE-X"]}, headers=auth(Role.DSR_TEAM)
        )
    ).json()
    assert [p["register_id"] for p in chosen["people"]] == [dan]
    too_many = await svc.http.get(f"{svc.url}/register", params={"limit": 501, "page": 0}, headers=auth(Role.DSR_TEAM))
    assert too_many.status_code == 422 and {r["field"] for r in too_many.json()["reasons"]} >= {"limit", "page"}

    # The caseload finds the professional however their address was written.
    caseload = await svc.http.get(f"{svc.url}/caseload", headers=auth(Role.REFERRER, subject="Ana.Worker@example.org"))
    assert [p["register_id"] for p in caseload.json()["people"]] == [dan]


async def test_an_admission_before_the_referral_is_kept_and_applied_when_the_referral_names_them(rating_service):
    svc = await rating_service("derbyshire")
    fay, fay_nhs = svc.new_person()
    now = datetime.now(timezone.utc)
    await svc.admit(fay_nhs, now - timedelta(hours=2), ods="RHA")

    async def shown():
        found = await svc.http.get(f"{svc.url}/hospital-events/unmatched", headers=auth(Role.DSR_TEAM))
        return [e for e in found.json()["not_on_register"] if e["hospital_ods_code"] == "RHA"]

    shown_to_team = await eventually(shown)
    assert "nhs_number" not in str(shown_to_team) and fay_nhs not in str(shown_to_team)
    await svc.accept(fay, fay_nhs, "amber", at=now - timedelta(days=1))
    assert await eventually(lambda: _rated(svc, fay, "blue"))
    assert not await shown()
