"""Composition root of the web service: settings, the services' client, the
identity provider, the pages, and the protections every response gets."""

from __future__ import annotations

import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from dsr_web import session
from dsr_web.assets import frontend_dist
from dsr_web.backend import Backend, Conflict, Forbidden, NotFound, NotSignedIn, Unavailable, server_timing, timed_calls
from dsr_web.drafts import Drafts
from dsr_web.metrics import PAGE_SECONDS, PAGES, REGISTRY, UNAVAILABLE
from dsr_web.pages import home, meeting, notifications, queue, record, referral, register, users
from dsr_web.pages.common import CsrfFailed, PageRefused, SignInRequired
from dsr_web.rendering import environment, render
from dsr_web.settings import WebSettings
from dsr_web.signin import identity_provider, signin_router

log = structlog.get_logger()
STATIC = Path(__file__).parent / "static"


def content_security_policy(settings: WebSettings) -> str:
    """No inline script or style anywhere; forms post here, or (sign-out) to the provider."""
    provider = urlsplit(settings.oidc_issuer)
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self'",
            "font-src 'self' https://assets.nhs.uk",
            "connect-src 'self'",
            "manifest-src 'self'",
            f"form-action 'self' {provider.scheme}://{provider.netloc}",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ]
    )


def build_app(settings: WebSettings | None = None) -> FastAPI:
    settings = settings or WebSettings()
    backend = Backend(
        {
            "referral": settings.referral_url,
            "rating": settings.rating_url,
            "scheduler": settings.scheduler_url,
            "notifier": settings.notifier_url,
            "identity": settings.identity_url,
        },
        settings.backend_timeout_seconds,
    )
    oauth = identity_provider(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        log.info("service started", http_port=settings.http_port, area=settings.area.code)
        yield
        await backend.close()

    app = FastAPI(title="DSR web", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.backend = backend
    app.state.templates = environment(settings.area.working_time.timezone, settings.area.name)
    app.state.drafts = Drafts(settings.session_secret.get_secret_value(), settings.session_absolute_hours * 3600)

    dist = frontend_dist()
    app.mount("/assets/images", StaticFiles(directory=dist / "assets" / "images"), name="images")
    app.mount("/assets", StaticFiles(directory=dist), name="assets")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/health/live", include_in_schema=False)
    async def live() -> dict:
        return {"status": "live"}

    @app.get("/health/ready", include_in_schema=False)
    async def ready() -> Response:
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    app.include_router(signin_router(settings, oauth, backend))
    for module in (home, referral, record, register, queue, meeting, notifications, users):
        app.include_router(module.router)

    csp = content_security_policy(settings)
    idle, absolute = settings.session_idle_minutes * 60, settings.session_absolute_hours * 3600

    @app.middleware("http")
    async def guard(request: Request, call_next):
        correlation_id = str(uuid.uuid4())
        request.state.correlation_id = correlation_id
        started = time.perf_counter()
        calls = timed_calls()
        static = request.url.path.startswith(("/assets", "/static"))
        if not static and session.timed_out(request, idle, absolute):
            request.session.clear()
            response: Response = RedirectResponse("/session-ended", status_code=303)
        else:
            if not static:
                session.touch(request)
            with structlog.contextvars.bound_contextvars(correlation_id=correlation_id):
                response = await call_next(request)
        _protect(response, csp, static)
        if not static:
            response.headers["Server-Timing"] = server_timing(time.perf_counter() - started, calls)
        if not static and not request.url.path.startswith(("/health", "/metrics")):
            route = request.scope.get("route")
            elapsed = time.perf_counter() - started
            PAGES.labels(getattr(route, "path", "(none)"), str(response.status_code)).inc()
            PAGE_SECONDS.labels(getattr(route, "path", "(none)")).observe(elapsed)
            # The route's template and the register id only: never a query string or form field.
            log.info(
                "request handled",
                method=request.method,
                route=getattr(route, "path", "(none)"),
                register_id=request.scope.get("path_params", {}).get("register_id"),
                status=response.status_code,
                outcome="ok" if response.status_code < 400 else "refused",
                duration_ms=round(elapsed * 1000, 1),
                correlation_id=correlation_id,
            )
        return response

    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.session_secret.get_secret_value(),
        session_cookie=settings.session_cookie,
        max_age=absolute,
        same_site="lax",
        https_only=settings.cookie_secure,
    )
    _handle_errors(app)
    return app


def _protect(response: Response, csp: str, static: bool) -> None:
    headers = response.headers
    headers["Content-Security-Policy"] = csp
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
    # Pages show personal data: never stored by the browser or a proxy.
    headers["Cache-Control"] = "public, max-age=3600" if static else "no-store"
    if not static:
        headers["Pragma"] = "no-cache"


def _handle_errors(app: FastAPI) -> None:
    def problem(request: Request, status: int, title: str, message: str) -> Response:
        return render(request, "problem.jinja", {"title": title, "message": message}, status)

    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, exc: SignInRequired) -> Response:
        target = request.url.path if request.method == "GET" else "/"
        return RedirectResponse(f"/sign-in?next={quote(target)}", status_code=303)

    @app.exception_handler(NotSignedIn)
    async def token_refused(request: Request, exc: NotSignedIn) -> Response:
        request.session.clear()
        return RedirectResponse("/session-ended", status_code=303)

    # Refused by the web's own role rules (PageRefused) or by a service (Forbidden): one page.
    @app.exception_handler(PageRefused)
    @app.exception_handler(Forbidden)
    async def refused(request: Request, exc: Exception) -> Response:
        return problem(
            request,
            403,
            "You do not have access to this page",
            "Your role on the register does not include this page. If you need it, ask the DSR team.",
        )

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        return problem(
            request,
            404,
            "Page not found",
            "If you typed the web address, check it is correct. You can only see people you referred or work with.",
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return await not_found(request, NotFound())
        if exc.status_code == 405:
            return problem(request, 405, "Page not found", "This page cannot be used that way.")
        return problem(request, exc.status_code, "Sorry, there is a problem", "Try again later.")

    @app.exception_handler(Conflict)
    async def conflict(request: Request, exc: Conflict) -> Response:
        return problem(
            request,
            409,
            "The record changed while you were working on it",
            "Someone else changed this record. Go back to the record, check it, and make your change again.",
        )

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, exc: CsrfFailed) -> Response:
        return problem(
            request,
            403,
            "Your form could not be sent",
            "The page was open too long or came from somewhere else. Go back, reload the page and try again.",
        )

    @app.exception_handler(Unavailable)
    async def unavailable(request: Request, exc: Unavailable) -> Response:
        log.warning("service unavailable", error=str(exc))
        UNAVAILABLE.inc()
        return problem(
            request,
            503,
            "Sorry, there is a problem with the service",
            "Part of the register is not answering. Try again in a few minutes.",
        )
