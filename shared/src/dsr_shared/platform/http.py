"""The HTTP side every service shares: lifespan, health, metrics, request
logs, the request body limit, and the operators' outbox endpoints."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import timedelta
from typing import Any

import structlog
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from dsr_shared.contract.topics import Topic
from dsr_shared.platform.audit import VIA, Via
from dsr_shared.platform.audit_api import audit_router
from dsr_shared.platform.auth import TokenVerifier
from dsr_shared.platform.clock import SimulatedClock, SystemClock, every
from dsr_shared.platform.consuming import consumed_topics
from dsr_shared.platform.db import EventTooLarge
from dsr_shared.platform.kafka_gauges import ConsumerProgress
from dsr_shared.platform.kafka_gauges import measure as measure_kafka
from dsr_shared.platform.logging import configure_logging
from dsr_shared.platform.messaging import ensure_topics
from dsr_shared.platform.metrics import REGISTRY
from dsr_shared.platform.openapi import complete_document
from dsr_shared.platform.outbox_api import outbox_router
from dsr_shared.platform.runtime import Runtime
from dsr_shared.platform.settings import StartupRefused
from dsr_shared.platform.simulated_time import clock_router, load_offset

log = structlog.get_logger()

StartupHook = Callable[[Runtime], Awaitable[None]]
# A coroutine, not any awaitable: each runs as its own task.
BackgroundTask = Callable[[Runtime], Coroutine[Any, Any, None]]


# A caller's correlation id is kept when it looks like one; anything else gets a new one.
_CORRELATION_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")


def health_router(runtime: Runtime, progress: ConsumerProgress, *, broker: bool = True) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health/live")
    async def live() -> dict:
        return {"status": "live"}

    @router.get("/health/ready", responses={503: {"description": "The database or the broker does not answer"}})
    async def ready() -> Response:
        checks = {"database": False, **({"broker": False} if broker else {})}
        try:
            await asyncio.wait_for(runtime.db.command("ping"), 2)
            checks["database"] = True
        except Exception:  # noqa: BLE001 - any failure means not ready
            pass
        if broker:
            try:
                checks["broker"] = bool(await runtime.broker.ping(timeout=2))
            except Exception:  # noqa: BLE001
                pass
        ok = all(checks.values())
        # A stalled partition is reported, not made a reason to refuse HTTP
        # traffic: taking the pods out of service would not move it on.
        stalled = [stall.as_dict() for stall in progress.stalled()]
        return JSONResponse(
            {"status": "ready" if ok else "not_ready", "checks": checks, "consumer": {"stalled": stalled}},
            200 if ok else 503,
        )

    @router.get("/health/consumer", responses={503: {"description": "A partition with lag has not moved on"}})
    async def consumer() -> Response:
        """Whether the consumer group moves on: 503 with the partitions whose
        committed offset has not moved for DSR_CONSUMER_STALL_AFTER_SECONDS
        while messages wait (docs/RUNBOOK.md, "A stalled partition")."""
        stalled = [stall.as_dict() for stall in progress.stalled()]
        return JSONResponse({"status": "stalled" if stalled else "moving", "stalled": stalled}, 503 if stalled else 200)

    @router.get("/metrics", response_class=PlainTextResponse, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
    async def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return router


def create_app(
    runtime: Runtime,
    *,
    title: str,
    topics: Sequence[Topic],
    routers: Sequence[APIRouter] = (),
    on_startup: Sequence[StartupHook] = (),
    background: Sequence[BackgroundTask] = (),
    token_verifier: TokenVerifier | None = None,
) -> FastAPI:
    """A service's HTTP app; its lifespan starts and stops the broker too. A
    service with no topics (the identity service) runs without the broker."""
    settings = runtime.settings
    progress = ConsumerProgress(settings.consumer_stall_after_seconds)
    uses_broker = bool(topics)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if uses_broker:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(Exception),
                wait=wait_exponential(max=5),
                stop=stop_after_delay(120),
                reraise=True,
            ):
                with attempt:
                    await ensure_topics(settings, list(topics))
        await runtime.outbox.ensure_indexes()
        await runtime.audit.ensure_indexes()
        if isinstance(runtime.clock, SimulatedClock):
            await load_offset(runtime.db, runtime.clock)
        for hook in on_startup:
            await hook(runtime)
        tasks = []
        if uses_broker:
            await runtime.broker.start()
            relay_after = timedelta(seconds=settings.outbox_relay_after_seconds)
            tasks.append(asyncio.create_task(runtime.outbox.relay_forever(relay_after)))
            # Consumer lag, stalled partitions and dead-letter sizes; real time, not the simulated clock.
            inputs = consumed_topics(runtime.broker)
            tasks.append(
                asyncio.create_task(
                    every(
                        SystemClock(),
                        settings.kafka_gauges_every_seconds,
                        lambda: measure_kafka(settings, inputs, progress),
                        "kafka gauges",
                    )
                )
            )
        tasks += [asyncio.create_task(task(runtime)) for task in background]
        log.info("service started", http_port=settings.http_port, area=settings.area.code)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if uses_broker:
                with suppress(TimeoutError):  # what is not marked by then, the relay publishes again
                    await asyncio.wait_for(runtime.outbox.settled(), 5)
                await runtime.broker.stop()
            await runtime.mongo.close()
            log.info("service stopped")

    app = FastAPI(title=title, version="0.1.0", lifespan=lifespan, dependencies=[Depends(_audit_via)])
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.token_verifier = token_verifier or TokenVerifier.from_settings(settings)
    app.include_router(health_router(runtime, progress, broker=uses_broker))
    if uses_broker:
        app.include_router(outbox_router(runtime))
    if isinstance(runtime.clock, SimulatedClock):
        app.include_router(clock_router(runtime.clock, runtime.db))
    for router in routers:
        app.include_router(router)
    app.include_router(audit_router(runtime.audit))
    complete_document(app)

    @app.exception_handler(RequestValidationError)
    async def every_reason(request: Request, exc: RequestValidationError) -> JSONResponse:
        """422 with every reason, each with a machine-readable code and a sentence."""
        return JSONResponse({"outcome": "rejected", "reasons": validation_reasons(exc.errors())}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def refusal(request: Request, exc: StarletteHTTPException) -> Response:
        """FastAPI's answer, except that a 405 names every method of the path in
        `Allow` (Starlette names only those of the first route that has it)."""
        if exc.status_code != 405:
            return await http_exception_handler(request, exc)
        methods = {m.strip() for m in (exc.headers or {}).get("Allow", "").split(",") if m.strip()}
        for template, operations in app.openapi()["paths"].items():
            if compile_path(template)[0].match(request.url.path):
                methods |= {method.upper() for method in operations}
        if "GET" in methods:
            methods.add("HEAD")  # as Starlette answers it
        return JSONResponse(
            {"detail": exc.detail}, 405, headers={**(exc.headers or {}), "Allow": ", ".join(sorted(methods))}
        )

    @app.exception_handler(EventTooLarge)
    async def too_large_to_publish(request: Request, exc: EventTooLarge) -> JSONResponse:
        """Nothing was committed: the change would make an event over the broker's limit."""
        reason = {"code": "event.too_large", "message": str(exc), "field": "(body)"}
        return JSONResponse({"outcome": "rejected", "reasons": [reason]}, status_code=422)

    @app.middleware("http")
    async def log_request(request: Request, call_next):
        given = request.headers.get("x-correlation-id", "")
        correlation_id = given if 0 < len(given) <= 128 and set(given) <= _CORRELATION_ID_CHARS else str(uuid.uuid4())
        request.state.correlation_id = correlation_id
        started = time.perf_counter()
        with structlog.contextvars.bound_contextvars(correlation_id=correlation_id):
            response = await call_next(request)
            if not request.url.path.startswith(("/health", "/metrics")):
                log.info(
                    "request handled",
                    register_id=request.path_params.get("register_id"),
                    outcome="ok" if response.status_code < 400 else "refused",
                    method=request.method,
                    route=route.path if (route := request.scope.get("route")) else request.url.path,
                    status=response.status_code,
                    duration_ms=round((time.perf_counter() - started) * 1000, 1),
                )
        response.headers["x-correlation-id"] = correlation_id
        return response

    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)
    return app


class BodyLimit:
    """Refuses a request body over `limit` bytes with 413: at once when its
    Content-Length says so, else as soon as that many bytes have arrived."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            await JSONResponse(self._refusal(), status_code=413)(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                # Raised while the app reads the body: FastAPI answers it, as any HTTPException.
                raise HTTPException(413, self._refusal()["reasons"][0]["message"])
            return message

        await self.app(scope, limited, send)

    def _refusal(self) -> dict:
        message = f"the request body is over {self.limit} bytes"
        return {
            "outcome": "rejected",
            "reasons": [{"code": "request.too_large", "message": message, "field": "(body)"}],
        }


async def _audit_via(request: Request) -> None:
    """Which endpoint an audited action came through (an async dependency runs
    in the request's own context, so the endpoint sees what it sets)."""
    route = request.scope.get("route")
    endpoint = f"{request.method} {route.path if route else request.url.path}"
    VIA.set(Via(endpoint, getattr(request.state, "correlation_id", None)))


def validation_reasons(errors) -> list[dict[str, str]]:
    reasons = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path", "header")]
        field = ".".join(location) or "(body)"
        reasons.append(
            {
                "code": f"schema.{error.get('type', 'invalid')}",
                "message": f"{field}: {error.get('msg')}",
                "field": field,
            }
        )
    return reasons


def run(build_app: Callable[[], FastAPI], *, nhs_hash_key: bool = False) -> None:
    """A service's process entry point. Refuses to start (exit status 78, the
    reason on stderr naming the setting) on unsafe settings outside development
    mode; `nhs_hash_key`: the service hashes NHS numbers, so needs a real key."""
    try:
        app = build_app()
        app.state.settings.refuse_unsafe(nhs_hash_key=nhs_hash_key)
    except StartupRefused as exc:
        print(f"refusing to start: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(78) from None
    settings = app.state.settings
    configure_logging(settings.service_name, settings.log_level)
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_config=None, access_log=False)
