"""A 405 names every method of the path in `Allow`, as its OpenAPI document
lists them (HTTP's rule, and the conformance test's check), not only those of
the first route that has the path."""

from __future__ import annotations

import httpx
from fastapi import APIRouter

from dsr_shared.platform.http import create_app
from dsr_shared.platform.runtime import Runtime
from dsr_shared.platform.settings import ServiceSettings


async def test_a_path_with_two_routes_names_both_methods():
    router = APIRouter()

    @router.get("/things/{thing_id}")
    async def read(thing_id: str) -> dict:
        return {"thing_id": thing_id}

    @router.delete("/things/{thing_id}", status_code=204)
    async def delete(thing_id: str) -> None:
        return None

    app = create_app(Runtime.build(ServiceSettings(service_name="test")), title="test", topics=[], routers=[router])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        both = await client.request("OPTIONS", "/things/1")
        one = await client.put("/metrics")
        missing = await client.get("/nowhere")
    assert (both.status_code, both.headers["allow"]) == (405, "DELETE, GET, HEAD")
    assert (one.status_code, one.headers["allow"]) == (405, "GET, HEAD")
    assert (missing.status_code, missing.json()) == (404, {"detail": "Not Found"})
