"""Pages from Jinja templates: the project's own, then the NHS.UK frontend's
components (nhsuk-frontend-jinja). Every page gets the signed-in user, the
navigation they may use, the CSRF token and any one-time message."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChainableUndefined, ChoiceLoader, Environment, FileSystemLoader, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from dsr_web import session
from dsr_web.domain import wording
from dsr_web.domain.access import navigation

TEMPLATES = Path(__file__).parent / "templates"


SIGN_OUT_FORM = 'action="/sign-out" method="post" novalidate>'


def header_with_csrf(header: str, token: str) -> Markup:
    """The NHS.UK header's sign-out form, given the CSRF token every form carries."""
    hidden = f'<input type="hidden" name="csrf_token" value="{escape(token)}">'
    return Markup(str(header).replace(SIGN_OUT_FORM, SIGN_OUT_FORM + hidden, 1))


def long_table(params: dict[str, Any]) -> Markup:
    """The NHS.UK responsive table component's markup (its `responsive`,
    `caption`, `captionClasses`, `attributes`, `head` and `rows`), built in
    Python: the component's macro takes milliseconds a row, seconds for the
    work queue's lists."""
    attributes = "".join(f' {escape(k)}="{escape(v)}"' for k, v in (params.get("attributes") or {}).items())
    caption_classes = f" {escape(params['captionClasses'])}" if params.get("captionClasses") else ""
    head = "".join(
        f'<th class="nhsuk-table__header" scope="col" role="columnheader">{escape(h["text"])}</th>'
        for h in params["head"]
    )
    rows = []
    for row in params["rows"]:
        cells = []
        for cell in row:
            content = f"<span>{cell['html']}</span>" if "html" in cell else str(escape(cell.get("text", "")))
            heading = f'<span class="nhsuk-table__heading" aria-hidden="true">{escape(cell["header"])} </span>'
            cells.append(f'<td class="nhsuk-table__cell" role="cell">{heading}{content}</td>')
        rows.append(f'<tr class="nhsuk-table__row" role="row">{"".join(cells)}</tr>')
    return Markup(
        f'<table class="nhsuk-table nhsuk-table--responsive" role="table"{attributes}>'
        f'<caption class="nhsuk-table__caption{caption_classes}">{escape(params["caption"])}</caption>'
        f'<thead class="nhsuk-table__head" role="rowgroup"><tr class="nhsuk-table__row" role="row">{head}</tr></thead>'
        f'<tbody class="nhsuk-table__body">{"".join(rows)}</tbody></table>'
    )


def environment(zone: str, area_name: str) -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(TEMPLATES), PackageLoader("nhsuk_frontend_jinja")]),
        undefined=ChainableUndefined,
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    today = lambda: datetime.now(ZoneInfo(zone)).date()  # noqa: E731
    env.filters["when"] = lambda at: wording.when(at, zone, today=today())
    env.filters["day"] = lambda at: wording.day(at, zone)
    env.filters["obligation"] = lambda o: wording.obligation_words(o, zone, today=today())
    env.filters["rating_name"] = wording.rating_name
    env.filters["who"] = wording.who
    env.filters["yes_no"] = wording.yes_no
    env.globals.update(
        RATINGS=wording.RATINGS,
        RATING_TAGS=wording.RATING_TAGS,
        COHORTS=wording.COHORTS,
        AGE_BANDS=wording.AGE_BANDS,
        STATES=wording.STATES,
        STATE_TAGS=wording.STATE_TAGS,
        RESPONSIBLE=wording.RESPONSIBLE,
        CAUSES=wording.CAUSES,
        area_name=area_name,
        header_with_csrf=header_with_csrf,
        long_table=long_table,
    )
    return env


def render(request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200) -> HTMLResponse:
    env: Environment = request.app.state.templates
    user = session.user(request)
    page = {
        "request": request,
        "user": user,
        "nav": navigation(user, request.url.path),
        "csrf_token": session.csrf_token(request) if user or request.method == "GET" else "",
        "flash": session.take_flash(request),
        **(context or {}),
    }
    return HTMLResponse(env.get_template(template).render(page), status_code=status)
