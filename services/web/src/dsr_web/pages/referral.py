"""Referral: the SOP's form one topic per page, check your answers, submit to
the intake, and its answer: the register identifier, the people the DSR team
were told about, or every reason it was not accepted, each on its question.
The answers so far travel sealed in each page's form (dsr_web.drafts)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from dsr_web.backend import BackendError, NotFound, Rejected
from dsr_web.domain import referral_form as rf
from dsr_web.pages.common import Form, Services, may_use
from dsr_web.rendering import render
from dsr_web.session import User

router = APIRouter(prefix="/referral")
Referrer = Annotated[User, Depends(may_use("refer"))]
REASONS = "_reasons"  # the intake's reasons, kept with the answers until the question is answered again
SUBMISSION = "_submission_id"


def _today(request: Request):
    return datetime.now(ZoneInfo(request.app.state.settings.area.working_time.timezone)).date()


def _seal(request: Request, answers: dict[str, str]) -> str:
    return request.app.state.drafts.seal(answers, request.session["csrf"])


def _open(request: Request, form: dict[str, str]) -> dict[str, str]:
    return request.app.state.drafts.open(form.get("draft"), request.session["csrf"])


def _reasons(answers: dict[str, str]) -> list[dict[str, Any]]:
    return json.loads(answers.get(REASONS) or "[]")


def _error_list(errors: dict[str, str]) -> list[dict[str, str]]:
    """Error summary entries, linked to their questions, in page order."""
    found = []
    for name, text in errors.items():
        q = rf.QUESTIONS[name][1] if name in rf.QUESTIONS else None
        found.append({"text": text, "href": f"#{q.link}" if q else "#maincontent"})
    return found


def _step_page(
    request: Request,
    user: User,
    step: rf.Step,
    answers: dict[str, str],
    errors: dict[str, str],
    *,
    returning: bool,
    status: int = 200,
) -> Response:
    if step.slug == "referrer" and not answers.get("referrer.email"):
        answers = {
            **answers,
            "referrer.name": answers.get("referrer.name") or user.name,
            "referrer.email": user.email or "",
        }
    intake_errors = {}
    for reason in _reasons(answers):
        q = rf.question_for(reason.get("field"))
        if q is not None and q in step.questions and q.name not in errors:
            intake_errors[q.name] = reason["message"]
    shown = {**intake_errors, **errors}
    number = [s.slug for s in rf.STEPS].index(step.slug) + 1
    return render(
        request,
        "referral/step.jinja",
        {
            "title": step.title,
            "step": step,
            "answers": answers,
            "field_errors": shown,
            "errors": _error_list(shown),
            "draft": _seal(request, answers),
            "returning": returning,
            "previous": rf.previous_step(step.slug),
            "number": number,
            "of": len(rf.STEPS),
        },
        status,
    )


def _check_page(
    request: Request, answers: dict[str, str], errors: list[dict[str, str]] | None = None, status: int = 200
) -> Response:
    row_errors: dict[str, list[str]] = {}
    summary = []
    for reason in _reasons(answers):
        q = rf.question_for(reason.get("field"))
        anchor = f"answer-{q.id}" if q else "check-answers"
        row_errors.setdefault(q.name if q else "", []).append(reason["message"])
        summary.append({"text": reason["message"], "href": f"#{anchor}"})
    return render(
        request,
        "referral/check.jinja",
        {
            "title": "Check your answers before sending the referral",
            "steps": rf.STEPS,
            "answers": answers,
            "display": rf.display,
            "row_errors": row_errors,
            "errors": (errors or []) + summary,
            "draft": _seal(request, answers),
        },
        status,
    )


@router.get("")
async def start(request: Request, user: Referrer) -> Response:
    return render(request, "referral/start.jinja", {"title": "Refer someone to the register"})


@router.get("/{slug}")
async def first_page(request: Request, slug: str, user: Referrer) -> Response:
    """A page opened by its address starts a new referral (answers travel only by form)."""
    step = rf.STEP_BY_SLUG.get(slug) or rf.STEPS[0]
    return _step_page(request, user, rf.STEPS[0] if step is not rf.STEPS[0] else step, {}, {}, returning=False)


@router.post("/show/{slug}")
async def show(request: Request, slug: str, form: Form, user: Referrer) -> Response:
    """Back to a page, or Change from check your answers, with the answers so far."""
    answers = _open(request, form)
    if slug == "check":
        return _check_page(request, answers)
    step = rf.STEP_BY_SLUG.get(slug) or rf.STEPS[0]
    return _step_page(request, user, step, answers, {}, returning=form.get("returning") == "yes")


@router.post("/change")
async def change(request: Request, form: Form, user: Referrer) -> Response:
    """Change, from check your answers: the page of that answer, then back to checking."""
    step = rf.STEP_BY_SLUG.get(form.get("change", "")) or rf.STEPS[0]
    return _step_page(request, user, step, _open(request, form), {}, returning=True)


@router.post("/answer/{slug}")
async def answer(request: Request, slug: str, form: Form, user: Referrer) -> Response:
    step = rf.STEP_BY_SLUG.get(slug)
    if step is None:
        return _step_page(request, user, rf.STEPS[0], {}, {}, returning=False)
    answers = _open(request, form)
    answers.update(rf.answers_from_form(step, form))
    # Answered again: the intake's reasons about these questions no longer stand.
    kept = [r for r in _reasons(answers) if rf.question_for(r.get("field")) not in step.questions]
    answers[REASONS] = json.dumps(kept)
    errors = rf.step_errors(step, answers, _today(request))
    returning = form.get("returning") == "yes"
    if errors:
        return _step_page(request, user, step, answers, errors, returning=returning, status=422)
    following = "check" if returning else rf.next_step(step.slug)
    if following == "check":
        return _check_page(request, answers)
    return _step_page(request, user, rf.STEP_BY_SLUG[following], answers, {}, returning=False)


@router.post("/submit")
async def submit(request: Request, form: Form, user: Referrer, api: Services) -> Response:
    answers = _open(request, form)
    if not answers:
        return render(
            request,
            "problem.jinja",
            {
                "title": "Your referral could not be sent",
                "message": "The answers were too old or incomplete. Start the referral again.",
            },
            400,
        )
    today = _today(request)
    missing = [
        (q, text)
        for step in rf.STEPS
        for q_name, text in rf.step_errors(step, answers, today).items()
        for q in [rf.QUESTIONS[q_name][1]]
    ]
    if missing:
        return _check_page(request, answers, [{"text": text, "href": f"#answer-{q.id}"} for q, text in missing], 422)
    answers.setdefault(SUBMISSION, str(uuid.uuid4()))
    body = rf.referral_body(answers, today, answers[SUBMISSION])
    try:
        result = await api.submit_referral(body, answers[SUBMISSION])
    except Rejected as rejected:
        # A corrected referral is a new submission (the intake answers a repeat with its first answer).
        answers[SUBMISSION] = str(uuid.uuid4())
        answers[REASONS] = json.dumps([{k: r.get(k) for k in ("code", "message", "field")} for r in rejected.reasons])
        return _check_page(request, answers, status=422)
    return await _outcome(request, api, result)


async def _outcome(request: Request, api, result: dict[str, Any]) -> Response:
    outcome, register_id = result.get("outcome"), result.get("register_id")
    if outcome == "accepted":
        return render(request, "referral/accepted.jinja", {"title": "Referral accepted", "register_id": register_id})
    if outcome in ("already_on_register", "sent_to_dsr_team", "record_completed"):
        # Say who the person is only to someone who may open their record.
        visible = False
        if register_id:
            try:
                await api.record(register_id)
                visible = True
            except (NotFound, BackendError):
                visible = False
        titles = {
            "record_completed": "Record completed",
            "already_on_register": "This person is already on the register" if visible else None,
        }
        return render(
            request,
            "referral/known.jinja",
            {
                "title": titles.get(outcome) or "Referral sent to the DSR team",
                "outcome": outcome,
                "register_id": register_id if visible else None,
            },
        )
    return render(
        request, "referral/received.jinja", {"title": "Referral received", "referral_id": result.get("referral_id")}
    )
