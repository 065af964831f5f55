"""A person's record: demographics first (the referral service, audited
there), the rating with who agreed it, the latest update and the form to add
one, what is due in plain words, the history, professionals, address,
hospital stays; and the forms that change them. The services decide who may
see and change what; a refusal shows as the 404 or 403 page."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from dsr_web import session
from dsr_web.backend import Rejected, UserBackend, together, value_or
from dsr_web.domain import referral_form as rf
from dsr_web.pages.common import Form, Services, may_use
from dsr_web.rendering import render
from dsr_web.session import User

router = APIRouter(prefix="/people/{register_id}")
Keeper = Annotated[User, Depends(may_use("record"))]
RATING_FIELDS = {"rating": "rating", "rationale": "rationale", "agreed_with_person": "agreed-with-person"}


def _version(form: dict[str, str]) -> int | None:
    return int(form["version"]) if form.get("version", "").isdigit() else None


def _reason_errors(
    reasons: list[dict[str, Any]], ids: dict[str, str], default: str
) -> tuple[dict[str, str], list[dict]]:
    """A service's reasons as inline errors (by form field) and error summary entries."""
    inline: dict[str, str] = {}
    summary = []
    for reason in reasons:
        field = (reason.get("field") or "").split(".")[0]
        target = ids.get(field, default)
        inline.setdefault(target, reason.get("message", ""))
        summary.append({"text": reason.get("message", ""), "href": f"#{target}"})
    return inline, summary


async def _record_page(
    request: Request,
    api: UserBackend,
    register_id: str,
    user: User,
    *,
    update_error: str | None = None,
    update_text: str = "",
    status: int = 200,
) -> Response:
    record, demographics, obligations = await together(
        api.record(register_id), api.demographics(register_id), api.obligations(register_id=register_id)
    )
    if isinstance(record, BaseException):
        raise record
    demographics = value_or(demographics, None)
    obligations = value_or(obligations, None)
    active = sorted(
        (o for o in obligations or [] if o["state"] in ("open", "due", "overdue")), key=lambda o: o["due_at"]
    )
    finished = [o for o in obligations or [] if o["state"] in ("done", "cancelled")]
    history = list(reversed(record.get("history", [])))
    current = next(
        (h for h in history if h.get("to_rating") == record.get("rating") and h.get("took_effect", True)), None
    )
    updates = record.get("updates", [])
    errors = [{"text": update_error, "href": "#update-text"}] if update_error else []
    return render(
        request,
        "record.jinja",
        {
            "title": f"Record {register_id}",
            "register_id": register_id,
            "record": record,
            "demographics": demographics,
            "due": active,
            "finished": finished,
            "obligations_shown": obligations is not None,
            "history": history,
            "current": current,
            "latest": updates[-1] if updates else None,
            "updates": list(reversed(updates)),
            "update_error": update_error,
            "update_text": update_text,
            "errors": errors,
        },
        status,
    )


@router.get("")
async def show(request: Request, register_id: str, user: Keeper, api: Services) -> Response:
    return await _record_page(request, api, register_id, user)


@router.post("/updates")
async def add_update(request: Request, register_id: str, form: Form, user: Keeper, api: Services) -> Response:
    text = form.get("text", "").strip()
    if not text:
        return await _record_page(request, api, register_id, user, update_error="Enter the update", status=422)
    try:
        await api.add_update(register_id, text, _version(form))
    except Rejected as rejected:
        return await _record_page(
            request, api, register_id, user, update_error=str(rejected), update_text=text, status=422
        )
    session.flash(request, "Update added")
    return RedirectResponse(f"/people/{register_id}", status_code=303)


# Change the rating (R-RAG-2)


def _rating_page(
    request: Request,
    register_id: str,
    user: User,
    record: dict,
    answers: dict[str, str],
    inline: dict[str, str],
    summary: list[dict],
    status: int = 200,
) -> Response:
    choices = ["red", "amber", "green"] + (["blue"] if user.dsr_team else [])
    return render(
        request,
        "rating.jinja",
        {
            "title": f"Change the rating of {register_id}",
            "register_id": register_id,
            "record": record,
            "choices": choices,
            "answers": answers,
            "field_errors": inline,
            "errors": summary,
        },
        status,
    )


@router.get("/rating")
async def rating_form(request: Request, register_id: str, user: Keeper, api: Services) -> Response:
    record = await api.record(register_id)
    return _rating_page(request, register_id, user, record, {}, {}, [])


@router.post("/rating")
async def change_rating(request: Request, register_id: str, form: Form, user: Keeper, api: Services) -> Response:
    answers = {k: form.get(k, "").strip() for k in ("rating", "rationale", "agreed_with_person", "version")}
    inline: dict[str, str] = {}
    allowed = ["red", "amber", "green"] + (["blue"] if user.dsr_team else [])
    if answers["rating"] not in allowed:
        inline["rating"] = "Select the new rating"
    if not answers["rationale"]:
        inline["rationale"] = "Enter why the rating is changing"
    if answers["agreed_with_person"] not in ("yes", "no"):
        inline["agreed-with-person"] = (
            "Select whether the change was discussed and agreed with the person or their family"
        )
    if not inline:
        body = {
            "rating": answers["rating"],
            "rationale": answers["rationale"],
            "agreed_with_person": answers["agreed_with_person"] == "yes",
        }
        try:
            await api.change_rating(register_id, body, _version(form))
        except Rejected as rejected:
            inline, summary = _reason_errors(rejected.reasons, RATING_FIELDS, "rating")
            record = await api.record(register_id)
            return _rating_page(request, register_id, user, record, answers, inline, summary, 422)
        session.flash(request, f"Rating changed to {answers['rating']}")
        return RedirectResponse(f"/people/{register_id}", status_code=303)
    record = await api.record(register_id)
    summary = [{"text": text, "href": f"#{field}"} for field, text in inline.items()]
    return _rating_page(request, register_id, user, record, answers, inline, summary, 422)


# Professionals and contacts


def _slots(count: int) -> int:
    return max(rf.PROFESSIONAL_SLOTS, count + 1)


def _professionals_page(
    request: Request,
    register_id: str,
    record: dict,
    answers: dict[str, str],
    slots: int,
    inline: dict[str, str],
    status: int = 200,
) -> Response:
    groups = [(f"Professional {i + 1}", rf.professional_questions(i)) for i in range(slots)]
    summary = [{"text": text, "href": f"#{rf.field_id(name)}"} for name, text in inline.items()]
    return render(
        request,
        "professionals.jinja",
        {
            "title": f"Professionals and contacts for {register_id}",
            "register_id": register_id,
            "record": record,
            "groups": groups,
            "answers": answers,
            "field_errors": inline,
            "errors": summary,
            "slots": slots,
        },
        status,
    )


@router.get("/professionals")
async def professionals_form(request: Request, register_id: str, user: Keeper, api: Services) -> Response:
    record = await api.record(register_id)
    answers: dict[str, str] = {}
    for i, p in enumerate(record.get("professionals", [])):
        for key in ("name", "role", "organisation", "email", "phone"):
            answers[f"professionals.{i}.{key}"] = p.get(key) or ""
        answers[f"professionals.{i}.case_holder"] = "yes" if p.get("case_holder") else ""
    return _professionals_page(request, register_id, record, answers, _slots(len(record.get("professionals", []))), {})


@router.post("/professionals")
async def set_professionals(request: Request, register_id: str, form: Form, user: Keeper, api: Services) -> Response:
    slots = min(
        int(form.get("slots", rf.PROFESSIONAL_SLOTS)) if form.get("slots", "").isdigit() else rf.PROFESSIONAL_SLOTS, 50
    )
    answers: dict[str, str] = {}
    for i in range(slots):
        for q in rf.professional_questions(i):
            value = (form.get(q.id) or "").strip()
            answers[q.name] = ("yes" if value else "") if q.kind == "checkbox" else value
    inline = rf.professional_errors(answers, slots)
    if not inline:
        try:
            await api.set_professionals(register_id, rf.professionals(answers, slots), _version(form))
        except Rejected as rejected:
            inline = {"professionals.0.name": str(rejected)}
        else:
            session.flash(request, "Professionals and contacts saved")
            return RedirectResponse(f"/people/{register_id}", status_code=303)
    record = await api.record(register_id)
    return _professionals_page(request, register_id, record, answers, slots, inline, 422)


# Address (kept only in the referral service)

ADDRESS = (
    rf.Question("line1", "Address line 1", required=True),
    rf.Question("line2", "Address line 2 (optional)"),
    rf.Question("town", "Town or city (optional)", width="nhsuk-u-width-two-thirds"),
    rf.Question("postcode", "Postcode", "postcode", required=True, width="nhsuk-input--width-10"),
)


def _address_page(
    request: Request, register_id: str, answers: dict[str, str], inline: dict[str, str], status: int = 200
) -> Response:
    summary = [{"text": text, "href": f"#{name}"} for name, text in inline.items()]
    return render(
        request,
        "address.jinja",
        {
            "title": f"Change the address of {register_id}",
            "register_id": register_id,
            "questions": ADDRESS,
            "answers": answers,
            "field_errors": inline,
            "errors": summary,
        },
        status,
    )


@router.get("/address")
async def address_form(request: Request, register_id: str, user: Keeper, api: Services) -> Response:
    await api.record(register_id)  # 404 for someone this user may not see
    return _address_page(request, register_id, {}, {})


@router.post("/address")
async def change_address(request: Request, register_id: str, form: Form, user: Keeper, api: Services) -> Response:
    answers = {q.name: (form.get(q.id) or "").strip() for q in ADDRESS}
    step = rf.Step("address", "Address", ADDRESS)
    inline = rf.step_errors(step, answers, date.max)
    if not inline:
        body = {
            "line1": answers["line1"],
            "line2": answers["line2"] or None,
            "town": answers["town"] or None,
            "postcode": answers["postcode"].upper(),
        }
        try:
            answer = await api.change_address(register_id, body)
        except Rejected as rejected:
            inline = {"postcode": str(rejected)}
        else:
            session.flash(
                request,
                "Address changed"
                if answer.get("in_area", True)
                else "Address changed. The new postcode is outside the area: check the person is still tied to it "
                "(GP practice, local authority or a funded placement)",
            )
            return RedirectResponse(f"/people/{register_id}", status_code=303)
    return _address_page(request, register_id, answers, inline, 422)


# Removal (R-RAG-6): the DSR team removes; a referrer asks


def _removal_page(
    request: Request,
    register_id: str,
    user: User,
    record: dict,
    answers: dict[str, str],
    inline: dict[str, str],
    status: int = 200,
) -> Response:
    summary = [{"text": text, "href": f"#{name}"} for name, text in inline.items()]
    title = f"Remove {register_id} from the register" if user.dsr_team else f"Ask for {register_id} to be removed"
    return render(
        request,
        "removal.jinja",
        {
            "title": title,
            "register_id": register_id,
            "record": record,
            "answers": answers,
            "field_errors": inline,
            "errors": summary,
        },
        status,
    )


@router.get("/removal")
async def removal_form(request: Request, register_id: str, user: Keeper, api: Services) -> Response:
    record = await api.record(register_id)
    return _removal_page(request, register_id, user, record, {}, {})


@router.post("/removal")
async def removal(request: Request, register_id: str, form: Form, user: Keeper, api: Services) -> Response:
    answers = {"reason": form.get("reason", "").strip(), "best-interest-meeting": form.get("best-interest-meeting", "")}
    inline = {}
    if not answers["reason"]:
        inline["reason"] = (
            "Enter why the person is being removed"
            if user.dsr_team
            else "Enter the conversation or best-interest meeting that agreed removal"
        )
    if not user.dsr_team and answers["best-interest-meeting"] not in ("yes", "no"):
        inline["best-interest-meeting"] = "Select whether removal was agreed at a best-interest meeting"
    if not inline:
        body = {"reason": answers["reason"], "best_interest_meeting": answers["best-interest-meeting"] == "yes"}
        try:
            answer = await api.removal(register_id, body, _version(form))
        except Rejected as rejected:
            inline = {"reason": str(rejected)}
        else:
            removed = answer.get("outcome") == "removed"
            session.flash(
                request, "Removed from the register" if removed else "Removal requested: the DSR team has been told"
            )
            return RedirectResponse(f"/people/{register_id}", status_code=303)
    record = await api.record(register_id)
    return _removal_page(request, register_id, user, record, answers, inline, 422)
