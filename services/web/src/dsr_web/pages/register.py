"""The register (DSR team) and my people (referrers): who is on it, their
rating, what is due; filters, pages, and search by register identifier, NHS
number or name (through the referral service, which audits it; by POST, so
nothing personal is in a URL)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from dsr_web.backend import NotFound, together, value_or
from dsr_web.domain.listing import Due, due_by_person, keep, looks_like_nhs_number, looks_like_register_id, page_of
from dsr_web.pages.common import Form, Services, may_use
from dsr_web.rendering import render
from dsr_web.session import User

router = APIRouter()
Team = Annotated[User, Depends(may_use("register"))]
Keeper = Annotated[User, Depends(may_use("my_people"))]
NOTHING_DUE = Due()


@router.get("/register")
async def register(request: Request, user: Team, api: Services, rating: str = "", cohort: str = "",
                   attention: str = "", page: int = 1) -> Response:
    listing, due, overdue = await together(api.register(), api.obligations(state="due"), api.obligations(state="overdue"))
    for result in (listing, due, overdue):
        if isinstance(result, BaseException):
            raise result
    pressing = due_by_person(due + overdue)
    chosen = {"rating": rating, "cohort": cohort, "attention": attention}
    people = [p for p in listing["people"] if keep(p, pressing.get(p["register_id"], NOTHING_DUE), **chosen)]
    shown = page_of(people, page)
    query = {k: v for k, v in chosen.items() if v}
    return render(request, "register.jinja", {
        "title": "The register", "counts": listing["counts"], "total": listing["total"], "page": shown,
        "pressing": pressing, "chosen": chosen, "query": urlencode(query), "filtered": bool(query),
    })


@router.post("/register/search")
async def search(request: Request, form: Form, user: Team, api: Services) -> Response:
    text = form.get("query", "").strip()
    if not text:
        return render(request, "search.jinja", {"title": "Search the register", "query": "", "results": None,
                                                "errors": [{"text": "Enter a register identifier, NHS number or last name", "href": "#query"}],
                                                "error": "Enter a register identifier, NHS number or last name"}, 422)
    if looks_like_register_id(text):
        register_id = text.upper()
        try:
            await api.record(register_id)
        except NotFound:
            return render(request, "search.jinja", {"title": "Search the register", "query": "", "results": []})
        return RedirectResponse(f"/people/{register_id}", status_code=303)
    query = {"nhs_number": text.replace(" ", "").replace("-", "")} if looks_like_nhs_number(text) else {"family_name": text}
    results = await api.search_people(query)
    # The query is personal data: the page does not repeat it back into any address.
    return render(request, "search.jinja", {"title": "Search results", "query": text, "results": results})


@router.get("/my-people")
async def my_people(request: Request, user: Keeper, api: Services) -> Response:
    caseload = await api.caseload()
    people = caseload["people"]
    # Each person's obligations, all at once (the scheduler checks each person).
    answers = await together(*(api.obligations(register_id=p["register_id"]) for p in people))
    shown = [value_or(a, None) for a in answers]
    obligations = [o for found in shown if found for o in found]
    return render(request, "my_people.jinja", {
        "title": "My people", "people": people, "pressing": due_by_person(obligations),
        "consent": {o["register_id"]: o for o in obligations if o.get("kind") == "consent_renewal" and o["state"] in ("open", "due", "overdue")},
        "obligations_shown": any(found is not None for found in shown) or not people,
    })

