"""HTTP: POST /referrals, GET /referrals/{id} (CONTRACT.md)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request, status
from fastapi.responses import JSONResponse

from dsr_shared.auth import Principal, Role, require_roles
from dsr_shared.events import ReferralSubmitted
from dsr_referral.intake import Intake


def referral_router(intake: Intake) -> APIRouter:
    router = APIRouter(tags=["referrals"])

    @router.post(
        "/referrals",
        status_code=status.HTTP_202_ACCEPTED,
        responses={422: {"description": "Not accepted: every reason, each with a code"}},
    )
    async def submit(
        referral: ReferralSubmitted,
        request: Request,
        principal: Annotated[Principal, Depends(require_roles(Role.REFERRER, Role.DSR_TEAM))],
        idempotency_key: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        submission_id = referral.submission_id or idempotency_key or str(uuid.uuid4())
        referral = referral.model_copy(update={"submission_id": submission_id})
        answer = await intake.submit(referral, principal.subject, request.state.correlation_id)
        body = {
            "referral_id": answer.referral_id,
            "outcome": answer.outcome,
            "register_id": answer.register_id,
            "reasons": [r.model_dump() for r in answer.reasons],
        }
        await intake.runtime.audit.record(principal, f"referral.submit.{answer.outcome}", answer.register_id or answer.referral_id)
        code = status.HTTP_422_UNPROCESSABLE_ENTITY if answer.outcome == "rejected" else status.HTTP_202_ACCEPTED
        return JSONResponse(body, status_code=code)

    @router.get("/referrals/{referral_id}")
    async def read(
        referral_id: str,
        principal: Annotated[Principal, Depends(require_roles(Role.REFERRER, Role.DSR_TEAM))],
    ) -> dict:
        doc = await intake.store.by_id(referral_id)
        # A referrer sees only their own referrals; not found and not theirs look alike.
        if doc is None or not (principal.has(Role.DSR_TEAM) or doc["submitted_by"] == principal.subject):
            await intake.runtime.audit.record(principal, "referral.read", referral_id, outcome="denied_or_missing")
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such referral")
        await intake.runtime.audit.record(principal, "referral.read", doc.get("register_id") or referral_id)
        doc["referral_id"] = doc.pop("_id")
        return doc

    return router
