"""The operator's handle on a simulated clock (demos and tests only): read it,
move it forward. The offset is kept in the service's database, so a restarted
process goes on at the simulated time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, cast

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, model_validator
from pymongo.asynchronous.database import AsyncDatabase

from dsr_shared.platform.auth import Principal, Role, require_roles
from dsr_shared.platform.clock import SimulatedClock
from dsr_shared.platform.openapi import documented

_KEY = {"_id": "simulated-clock"}


class Advance(BaseModel):
    """Move time forward by a duration (ISO 8601, e.g. P3D, or seconds), or to a moment."""

    by: timedelta | None = None
    to: AwareDatetime | None = None

    @model_validator(mode="after")
    def _one_of(self) -> "Advance":
        if (self.by is None) == (self.to is None):
            raise ValueError("give either 'by' or 'to'")
        return self


async def load_offset(db: AsyncDatabase, clock: SimulatedClock) -> None:
    doc = await db["clock"].find_one(_KEY)
    if doc:
        clock.offset = timedelta(seconds=doc["offset_seconds"])


def clock_router(clock: SimulatedClock, db: AsyncDatabase) -> APIRouter:
    router = APIRouter(tags=["simulated clock"])

    def reading() -> dict:
        return {"now": clock.now(), "offset_seconds": clock.offset.total_seconds(), "simulated": True}

    @router.get("/clock")
    async def read_clock(_: Annotated[Principal, Depends(require_roles(Role.OPS, Role.DSR_TEAM, Role.SYSTEM))]) -> dict:
        return reading()

    @router.post("/clock/advance", responses=documented(422))
    async def advance(body: Advance, _: Annotated[Principal, Depends(require_roles(Role.OPS))]):
        by = body.by if body.by is not None else cast(datetime, body.to) - clock.now()  # _one_of: `to` is set
        if by < timedelta(0):
            reason = {
                "code": "clock.backwards",
                "message": "time only moves forward",
                "field": "by" if body.by else "to",
            }
            return JSONResponse({"outcome": "rejected", "reasons": [reason]}, 422)
        await db["clock"].update_one(
            _KEY, {"$set": {"offset_seconds": (clock.offset + by).total_seconds()}}, upsert=True
        )
        clock.advance(by)
        return reading()

    return router
