"""The HTTP side every service shares: lifespan, health, metrics, request logs."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta

import structlog
import uvicorn
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from dsr_shared.auth import TokenVerifier
from dsr_shared.clock import SimulatedClock, SystemClock, every
from dsr_shared.kafka_gauges import measure as measure_kafka
from dsr_shared.logging import configure_logging
from dsr_shared.messaging import ensure_topics
from dsr_shared.metrics import REGISTRY
from dsr_shared.runtime import Runtime
from dsr_shared.settings import StartupRefused
from dsr_shared.simulated_time import clock_router, load_offset
from dsr_shared.topics import Topic

log = structlog.get_logger()

StartupHook = Callable[[Runtime], Awaitable[None]]
BackgroundTask = Callable[[Runtime], Awaitable[None]]


def health_router(runtime: Runtime, *, broker: bool = True) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health/live")
    async def live() -> dict:
        return {"status": "live"}

    @router.get("/health/ready")
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
        return JSONResponse({"status": "ready" if ok else "not_ready", "checks": checks}, 200 if ok else 503)

    @router.get("/metrics")
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
    uses_broker = bool(topics)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if uses_broker:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(Exception), wait=wait_exponential(max=5), stop=stop_after_delay(120), reraise=True
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
            # Consumer lag and dead-letter sizes for /metrics; real time, not the simulated clock.
            tasks.append(asyncio.create_task(every(SystemClock(), 30, lambda: measure_kafka(settings, list(topics)), "kafka gauges")))
        tasks += [asyncio.create_task(task(runtime)) for task in background]
        log.info("service started", http_port=settings.http_port, area=settings.area.code)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if uses_broker:
                await runtime.broker.stop()
            await runtime.mongo.close()
            log.info("service stopped")

    app = FastAPI(title=title, version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.token_verifier = token_verifier or TokenVerifier.from_settings(settings)
    app.include_router(health_router(runtime, broker=uses_broker))
    if isinstance(runtime.clock, SimulatedClock):
        app.include_router(clock_router(runtime.clock, runtime.db))
    for router in routers:
        app.include_router(router)

    @app.exception_handler(RequestValidationError)
    async def every_reason(request: Request, exc: RequestValidationError) -> JSONResponse:
        """422 with every reason, each with a machine-readable code and a sentence."""
        return JSONResponse({"outcome": "rejected", "reasons": validation_reasons(exc.errors())}, status_code=422)

    @app.middleware("http")
    async def log_request(request: Request, call_next):
        correlation_id = request.headers.get("x-correlation-id") or str(uuid.uuid4())
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
                    route=request.scope.get("route").path if request.scope.get("route") else request.url.path,
                    status=response.status_code,
                    duration_ms=round((time.perf_counter() - started) * 1000, 1),
                )
        response.headers["x-correlation-id"] = correlation_id
        return response

    return app


def validation_reasons(errors) -> list[dict[str, str]]:
    reasons = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path", "header")]
        field = ".".join(location) or "(body)"
        reasons.append({"code": f"schema.{error.get('type', 'invalid')}", "message": f"{field}: {error.get('msg')}", "field": field})
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
