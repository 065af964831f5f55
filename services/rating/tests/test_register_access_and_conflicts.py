"""Every endpoint refuses a missing token and a wrong role; two changes at
once: one wins, the other gets 409, and no change is lost."""

from __future__ import annotations

import asyncio

from pymongo import AsyncMongoClient

from dsr_shared.platform.auth import Role
from dsr_testing.support import auth, eventually, identity

REFERRER = "case.holder@example.org"  # the referrer the rating_service fixture accepts people from

# (method, path, body, roles allowed); every other role must get 403.
ENDPOINTS = [
    ("GET", "/register", None, {Role.DSR_TEAM, Role.OPS}),
    ("GET", "/register/{register_id}", None, {Role.DSR_TEAM, Role.REFERRER}),
    (
        "POST",
        "/register/{register_id}/rating",
        {"rating": "red", "rationale": "r", "agreed_with_person": True},
        {Role.DSR_TEAM, Role.REFERRER},
    ),
    ("POST", "/register/{register_id}/updates", {"text": "t"}, {Role.DSR_TEAM, Role.REFERRER}),
    ("PUT", "/register/{register_id}/professionals", {"professionals": []}, {Role.DSR_TEAM, Role.REFERRER}),
    ("POST", "/register/{register_id}/removal", {"reason": "r"}, {Role.DSR_TEAM, Role.REFERRER}),
    ("GET", "/hospital-events/unmatched", None, {Role.DSR_TEAM}),
    ("GET", "/clock", None, {Role.OPS, Role.DSR_TEAM, Role.SYSTEM}),
    ("POST", "/clock/advance", {"by": 0}, {Role.OPS}),
]


async def test_every_endpoint_refuses_a_missing_token_and_every_wrong_role(rating_service, infra, isolation):
    svc = await rating_service("derbyshire")
    register_id, nhs = svc.new_person()
    await svc.accept(register_id, nhs)
    await eventually(lambda: svc.rating_of(register_id))
    checked = 0
    for method, path, body, allowed in ENDPOINTS:
        url = svc.url + path.format(register_id=register_id)
        missing = await svc.http.request(method, url, json=body)
        assert missing.status_code == 401, (method, path)
        for role in set(Role) - allowed:
            wrong = await svc.http.request(method, url, json=body, headers=auth(role, subject=REFERRER))
            assert wrong.status_code == 403, (method, path, role)
            checked += 1
        forged = await svc.http.request(method, url, json=body, headers={"Authorization": "Bearer not-a-token"})
        assert forged.status_code == 401, (method, path)
    assert checked == sum(len(set(Role) - allowed) for *_, allowed in ENDPOINTS)

    # A referrer who neither referred nor works with the person, and an unknown id: 404.
    stranger = await svc.person(register_id, Role.REFERRER, subject="stranger@example.org")
    assert stranger.status_code == 404
    unknown = await svc.person("QJ2-NONE-NONE-0")
    assert unknown.status_code == 404

    # Every read and change of a person's record is audited, refusals included.
    assert (await svc.change(register_id, "red", headers={"If-Match": '"0"'})).status_code == 409
    mongo = AsyncMongoClient(infra.mongo_uri)
    try:
        audit = mongo[f"{isolation}_rating"]["audit"]
        seen = {(e["action"], e["actor"], e["outcome"]) async for e in audit.find({"subject_id": register_id})}
    finally:
        await mongo.close()
    user = identity().user_id  # the audit names the directory's user id
    assert ("register.read", user("stranger@example.org"), "denied") in seen
    assert ("register.read", user("dsr.team@example.org"), "ok") in seen
    assert ("register.rating", user(REFERRER), "conflict") in seen


async def test_two_changes_at_once_one_wins_the_other_gets_409(rating_service):
    svc = await rating_service("staffordshire")
    register_id, nhs = svc.new_person()
    await svc.accept(register_id, nhs, "amber")
    await eventually(lambda: svc.rating_of(register_id))
    version = (await svc.person(register_id)).headers["ETag"]

    both = await asyncio.gather(
        svc.change(register_id, "red", headers={"If-Match": version}),
        svc.change(register_id, "green", headers={"If-Match": version}),
    )
    assert sorted(r.status_code for r in both) == [200, 409]
    winner = next(r for r in both if r.status_code == 200).json()["rating"]
    assert await svc.rating_of(register_id) == winner

    # Without If-Match, racing writers still lose nothing: each either lands or gets 409.
    ratings = ["red", "amber", "green"] * 4
    answers = await asyncio.gather(*(svc.change(register_id, r, role=Role.DSR_TEAM) for r in ratings))
    assert {a.status_code for a in answers} <= {200, 409, 422}
    landed = sum(a.status_code == 200 for a in answers)
    view = (await svc.person(register_id)).json()
    people_changes = [h for h in view["history"] if h["cause"] == "person"]
    assert len(people_changes) == 1 + landed
    published = await eventually(
        lambda: (
            len(svc.published("RatingChanged", register_id)) == 2 + landed
            and svc.published("RatingChanged", register_id)
        )
    )
    assert published[-1]["data"]["to_rating"] == view["rating"]
