"""The DSR team's work queue: what is due and overdue this week across the
register, removal requests waiting, hospital events to follow up, records to
complete; and completing an obligation (a C(E)TR with its rating review and
actions, or a LAEP as the exception)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from dsr_web import session
from dsr_web.backend import NotFound, Rejected, together, value_or
from dsr_web.domain import referral_form as rf
from dsr_web.pages.common import Form, Services, may_use
from dsr_web.rendering import render
from dsr_web.session import User

router = APIRouter()
Team = Annotated[User, Depends(may_use("queue"))]
CETR_KINDS = ("community_cetr", "post_admission_cetr", "inpatient_cetr")
ACTION_SLOTS = 3
# Each list shows its first (soonest due) this many, and says how many there are.
SHOWN = 50


@router.get("/queue")
async def queue(request: Request, user: Team, api: Services) -> Response:
    zone = ZoneInfo(request.app.state.settings.area.working_time.timezone)
    week_ends = datetime.now(zone) + timedelta(days=7)
    overdue, due, this_week, removals, unmatched, unknown = await together(
        api.obligations_counted(state="overdue", limit=SHOWN),
        api.obligations_counted(state="due", limit=SHOWN),
        api.obligations_counted(state="open", due_before=week_ends.isoformat(), limit=SHOWN),
        api.removal_requests(),
        api.unmatched_hospital_events(),
        api.register(needs_completion="true", limit=SHOWN),
    )
    for result in (overdue, due, this_week):
        if isinstance(result, BaseException):
            raise result
    incomplete = value_or(unknown, {"people": [], "total": 0})
    return render(
        request,
        "queue.jinja",
        {
            "title": "Work queue",
            "overdue": overdue,
            "due": due,
            "this_week": this_week,
            "removals": value_or(removals, []),
            "unmatched": value_or(unmatched, {"not_on_register": [], "removed_but_in_hospital": []}),
            "incomplete": incomplete["people"],
            "incomplete_total": incomplete["total"],
        },
    )


async def _obligation(api, register_id: str, obligation_id: str) -> dict[str, Any]:
    found = next(
        (o for o in await api.obligations(register_id=register_id) if o["obligation_id"] == obligation_id), None
    )
    if found is None:
        raise NotFound()
    return found


def _action_questions(i: int) -> tuple[rf.Question, ...]:
    a = f"actions.{i}"
    return (
        rf.Question(f"{a}.description", "Action"),
        rf.Question(f"{a}.owner", "Owner", hint="Who will do it"),
        rf.Question(f"{a}.due_on", "Due date", "date"),
    )


def _complete_page(
    request: Request,
    obligation: dict,
    answers: dict[str, str],
    inline: dict[str, str],
    summary: list[dict] | None = None,
    status: int = 200,
) -> Response:
    day = ("completed_on", "due_on")  # a date's first field (its day) takes the focus
    summary = (
        summary
        if summary is not None
        else [
            {"text": t, "href": f"#{rf.field_id(n)}" + ("-day" if n.endswith(day) else "")} for n, t in inline.items()
        ]
    )
    return render(
        request,
        "complete.jinja",
        {
            "title": f"Complete: {obligation['title']}",
            "o": obligation,
            "answers": answers,
            "field_errors": inline,
            "errors": summary,
            "cetr": obligation["kind"] in CETR_KINDS,
            "laep_allowed": obligation["kind"] == "community_cetr",
            "completed_on": rf.Question("completed_on", "Date it was done", "date", required=True),
            "actions": [(f"Action {i + 1} (optional)", _action_questions(i)) for i in range(ACTION_SLOTS)],
        },
        status,
    )


@router.get("/people/{register_id}/obligations/{obligation_id}/complete")
async def complete_form(request: Request, register_id: str, obligation_id: str, user: Team, api: Services) -> Response:
    return _complete_page(request, await _obligation(api, register_id, obligation_id), {}, {})


@router.post("/people/{register_id}/obligations/{obligation_id}/complete")
async def complete(
    request: Request, register_id: str, obligation_id: str, form: Form, user: Team, api: Services
) -> Response:
    obligation = await _obligation(api, register_id, obligation_id)
    zone = ZoneInfo(request.app.state.settings.area.working_time.timezone)
    today = datetime.now(zone).date()
    answers: dict[str, str] = {k: form.get(rf.field_id(k), "").strip() for k in ("outcome", "rating_review", "laep")}
    for part in ("day", "month", "year"):
        answers[f"completed_on-{part}"] = form.get(rf.date_field("completed-on", part), "").strip()
    for i in range(ACTION_SLOTS):
        for q in _action_questions(i):
            if q.kind == "date":
                for part in ("day", "month", "year"):
                    answers[f"{q.name}-{part}"] = form.get(rf.date_field(q.id, part), "").strip()
            else:
                answers[q.name] = form.get(q.id, "").strip()
    inline = rf.step_errors(
        rf.Step("done", "", (rf.Question("completed_on", "Date it was done", "date", required=True),)), answers, today
    )
    if not answers["outcome"]:
        inline["outcome"] = "Enter the outcome"
    laep = answers["laep"] == "yes" and obligation["kind"] == "community_cetr"
    if (
        obligation["kind"] in CETR_KINDS
        and not laep
        and answers["rating_review"] not in ("red", "amber", "green", "blue")
    ):
        inline["rating_review"] = "Select the rating the review agreed"
    actions = []
    for i in range(ACTION_SLOTS):
        a = f"actions.{i}"
        if not any(
            answers.get(f"{a}.{k}") for k in ("description", "owner", "due_on-day", "due_on-month", "due_on-year")
        ):
            continue
        due_on = rf.date_of(answers, f"{a}.due_on")
        if not answers[f"{a}.description"]:
            inline[f"{a}.description"] = f"Enter action {i + 1}"
        if not answers[f"{a}.owner"]:
            inline[f"{a}.owner"] = f"Enter who owns action {i + 1}"
        if due_on is None:
            inline[f"{a}.due_on"] = f"Enter a real due date for action {i + 1}"
        else:
            actions.append(
                {
                    "description": answers[f"{a}.description"],
                    "owner": answers[f"{a}.owner"],
                    "due_on": due_on.isoformat(),
                }
            )
    if inline:
        return _complete_page(request, obligation, answers, inline, status=422)
    done_on = rf.date_of(answers, "completed_on")
    # The day it was done, at the end of the working day (now, if that is still to come today).
    completed_at = min(datetime.combine(done_on, time(17, 0), tzinfo=zone), datetime.now(zone))
    body = {
        "completed_at": completed_at.isoformat(),
        "outcome": answers["outcome"],
        "laep": laep,
        "rating_review": answers["rating_review"] or None,
        "actions": actions if not laep else [],
    }
    try:
        await api.complete_obligation(obligation_id, body)
    except Rejected as rejected:
        summary = [{"text": r.get("message", ""), "href": "#outcome"} for r in rejected.reasons]
        return _complete_page(request, obligation, answers, {"outcome": str(rejected)}, summary, 422)
    session.flash(request, "LAEP recorded as an exception" if laep else f"{obligation['title']} recorded as done")
    return RedirectResponse(f"/people/{register_id}", status_code=303)
