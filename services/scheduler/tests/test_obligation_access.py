"""The scheduler's endpoints refuse a missing token and every wrong role
(whose obligations a referrer sees: tests/test_access_per_person.py)."""

from __future__ import annotations

from dsr_shared.platform.auth import Role
from dsr_testing.support import auth

ENDPOINTS = [
    ("GET", "/obligations", None, {Role.DSR_TEAM, Role.OPS, Role.REFERRER}),
    (
        "POST",
        "/obligations/none/complete",
        {"completed_at": "2026-11-01T10:00:00Z", "outcome": "o"},
        {Role.DSR_TEAM, Role.REFERRER},
    ),
    ("GET", "/tracking-meeting", None, {Role.DSR_TEAM, Role.OPS}),
    ("POST", "/clock/advance", {"by": 0}, {Role.OPS}),
]


async def test_every_endpoint_refuses_a_missing_token_and_every_wrong_role(scheduler_service):
    svc = await scheduler_service("staffordshire")
    for method, path, body, allowed in ENDPOINTS:
        url = svc.url + path
        assert (await svc.http.request(method, url, json=body)).status_code == 401, (method, path)
        for role in set(Role) - allowed:
            answer = await svc.http.request(method, url, json=body, headers=auth(role))
            assert answer.status_code == 403, (method, path, role)
    missing = await svc.http.post(
        f"{svc.url}/obligations/none/complete", json=ENDPOINTS[1][2], headers=auth(Role.DSR_TEAM)
    )
    assert missing.status_code == 404
