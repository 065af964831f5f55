"""The register (DSR team) and my people (referrers): who is on it, their
rating, what is due; filters, pages, and search by register identifier, NHS
number or name (through the referral service, which audits it; by POST, so
nothing personal is in a URL)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from dsr_web.backend import NotFound, together, value_or
from dsr_web.domain.listing import (
    ATTENTION,
    COHORTS,
    PAGE_SIZE,
    RATINGS,
    Due,
    Page,
    chunks,
    due_by_person,
    looks_like_nhs_number,
    looks_like_register_id,
    page_count,
    page_of,
    pressing_ids,
)
from dsr_web.pages.common import Form, Services, may_use
from dsr_web.rendering import render
from dsr_web.session import User

router = APIRouter()
Team = Annotated[User, Depends(may_use("register"))]
Keeper = Annotated[User, Depends(may_use("my_people"))]
# The rating service's bounds on one listing: people by identifier, and pages.
MAX_IDS = 100
MAX_PAGE = 100_000


@router.get("/register")
async def register(
    request: Request, user: Team, api: Services, rating: str = "", cohort: str = "", attention: str = "", page: int = 1
) -> Response:
    """One page of the register from the rating service (which pages, filters
    and counts it); with `attention`, the people whose obligations need it,
    from the scheduler, then their lines."""
    chosen = {
        "rating": rating if rating in RATINGS else "",
        "cohort": cohort if cohort in COHORTS else "",
        "attention": attention if attention in ATTENTION else "",
    }
    wanted = {k: chosen[k] for k in ("rating", "cohort") if chosen[k]}
    number = min(max(1, page), MAX_PAGE)
    if chosen["attention"]:
        shown, counts, pressing = await _needing_attention(api, wanted, chosen["attention"], number)
    else:
        listing, everyone = _values(
            await together(
                api.register(**wanted, limit=PAGE_SIZE, page=number), api.register(limit=0) if wanted else _nothing()
            )
        )
        count = page_count(listing["total"])
        if number > count:  # past the end (people left meanwhile): the last page
            number = count
            listing = await api.register(**wanted, limit=PAGE_SIZE, page=number)
        shown = Page(listing["people"], number, count, listing["total"])
        counts, pressing = (
            (everyone or listing)["counts"],
            await _pressing([p["register_id"] for p in shown.items], api),
        )
    query = {k: v for k, v in chosen.items() if v}
    return render(
        request,
        "register.jinja",
        {
            "title": "The register",
            "counts": counts,
            "total": sum(counts["by_rating"].values()),
            "page": shown,
            "pressing": pressing,
            "chosen": chosen,
            "query": urlencode(query),
            "filtered": bool(query),
        },
    )


async def _pressing(register_ids: list[str], api) -> dict[str, Due]:
    """What is due and overdue for the people on the page, and only them."""
    if not register_ids:
        return {}
    due, overdue = _values(
        await together(
            api.obligations(state="due", people=register_ids), api.obligations(state="overdue", people=register_ids)
        )
    )
    return due_by_person(due + overdue)


async def _nothing() -> None:
    return None


def _values(results: list[Any]) -> list[Any]:
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


async def _needing_attention(
    api, wanted: dict[str, str], attention: str, number: int
) -> tuple[Page, dict, dict[str, Due]]:
    """As many people as have something due, overdue or an update missing
    (the DSR team's work, not the register): their lines at MAX_IDS a call."""
    everyone, due, overdue = _values(
        await together(api.register(limit=0), api.obligations(state="due"), api.obligations(state="overdue"))
    )
    pressing = due_by_person(due + overdue)
    ids = pressing_ids(pressing, attention)
    answers = _values(
        await together(*(api.register(**wanted, register_id=chunk, limit=MAX_IDS) for chunk in chunks(ids, MAX_IDS)))
    )
    people = sorted((p for answer in answers for p in answer["people"]), key=lambda p: p["register_id"])
    return page_of(people, number), everyone["counts"], pressing


@router.post("/register/search")
async def search(request: Request, form: Form, user: Team, api: Services) -> Response:
    text = form.get("query", "").strip()
    if not text:
        return render(
            request,
            "search.jinja",
            {
                "title": "Search the register",
                "query": "",
                "results": None,
                "errors": [{"text": "Enter a register identifier, NHS number or last name", "href": "#query"}],
                "error": "Enter a register identifier, NHS number or last name",
            },
            422,
        )
    if looks_like_register_id(text):
        register_id = text.upper()
        try:
            await api.record(register_id)
        except NotFound:
            return render(request, "search.jinja", {"title": "Search the register", "query": "", "results": []})
        return RedirectResponse(f"/people/{register_id}", status_code=303)
    query = (
        {"nhs_number": text.replace(" ", "").replace("-", "")} if looks_like_nhs_number(text) else {"family_name": text}
    )
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
    return render(
        request,
        "my_people.jinja",
        {
            "title": "My people",
            "people": people,
            "pressing": due_by_person(obligations),
            "consent": {
                o["register_id"]: o
                for o in obligations
                if o.get("kind") == "consent_renewal" and o["state"] in ("open", "due", "overdue")
            },
            "obligations_shown": any(found is not None for found in shown) or not people,
        },
    )
