"""The four services' HTTP APIs (and the identity service's), called on the
signed-in user's behalf with their register access token. Every rule,
permission and audit stays in the services: this only translates answers
into what a page needs, and says plainly when a service refused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import httpx

Service = Literal["referral", "rating", "scheduler", "notifier", "identity"]
T = TypeVar("T")


class BackendError(Exception):
    """A service answered with a refusal, or not at all."""

    status: int = 502

    def __init__(self, message: str = "", body: Any = None) -> None:
        super().__init__(message)
        self.body = body


class NotSignedIn(BackendError):
    status = 401


class Forbidden(BackendError):
    status = 403


class NotFound(BackendError):
    status = 404


class Conflict(BackendError):
    status = 409


class Rejected(BackendError):
    """422: every reason the service gave, each with a code, a sentence and maybe a field."""

    status = 422

    def __init__(self, reasons: list[dict[str, Any]]) -> None:
        super().__init__("rejected", reasons)
        self.reasons = reasons

    def __str__(self) -> str:
        return "; ".join(r.get("message", "") for r in self.reasons)


class Unavailable(BackendError):
    status = 503


_ERRORS = {401: NotSignedIn, 403: Forbidden, 404: NotFound, 409: Conflict}


# This request's backend calls, (service, seconds), for its Server-Timing header.
_CALLS: ContextVar[list[tuple[str, float]] | None] = ContextVar("backend_calls", default=None)


def timed_calls() -> list[tuple[str, float]]:
    """Start noting the backend calls of the request under way; the list fills as they answer."""
    calls: list[tuple[str, float]] = []
    _CALLS.set(calls)
    return calls


def server_timing(total: float, calls: list[tuple[str, float]]) -> str:
    """`app` first (the whole request), then each service's slowest call and how many there were."""
    entries = [f"app;dur={total * 1000:.1f}"]
    for service in sorted({name for name, _ in calls}):
        took = [seconds for name, seconds in calls if name == service]
        entries.append(f'{service};dur={max(took) * 1000:.1f};desc="slowest of {len(took)}"')
    return ", ".join(entries)


class Backend:
    """One connection pool for the web process; `as_user` binds a token."""

    def __init__(self, urls: dict[Service, str], timeout: float) -> None:
        self.urls = {name: url.rstrip("/") for name, url in urls.items()}
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        self.http = httpx.AsyncClient(timeout=timeout, limits=limits)

    async def close(self) -> None:
        await self.http.aclose()

    def as_user(self, token: str, correlation_id: str | None = None) -> "UserBackend":
        return UserBackend(self, token, correlation_id)

    async def call(
        self,
        service: Service,
        method: str,
        path: str,
        *,
        token: str | None = None,
        correlation_id: str | None = None,
        params: dict[str, Any] | None = None,
        json: Any = None,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        if correlation_id:
            sent["X-Correlation-Id"] = correlation_id
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        started = time.perf_counter()
        try:
            response = await self.http.request(
                method, f"{self.urls[service]}{path}", params=clean, json=json, data=data, headers=sent
            )
        except httpx.HTTPError as exc:
            raise Unavailable(f"the {service} service did not answer") from exc
        finally:
            if (calls := _CALLS.get()) is not None:
                calls.append((service, time.perf_counter() - started))
        if response.status_code == 422:
            body = _json(response)
            reasons = body.get("reasons") if isinstance(body, dict) else None
            if reasons is None and isinstance(body, dict) and isinstance(body.get("detail"), list):
                reasons = [
                    {"code": "schema", "message": str(d.get("msg")), "field": ".".join(map(str, d.get("loc", [])[1:]))}
                    for d in body["detail"]
                ]
            raise Rejected(reasons=reasons or [{"code": "rejected", "message": "The service did not accept this."}])
        if response.status_code in _ERRORS:
            raise _ERRORS[response.status_code](f"{service}: {response.status_code}", _json(response))
        if response.status_code >= 400:
            raise Unavailable(f"the {service} service answered {response.status_code}", _json(response))
        return response


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


async def together(*calls: Awaitable[Any]) -> list[Any]:
    """Several backend calls at once; each result is the value or the BackendError it raised."""
    return list(await asyncio.gather(*calls, return_exceptions=True))


def value_or(result: Any, default: T) -> Any | T:
    """A result from `together`, or `default` when that call was refused (not found, forbidden)."""
    if isinstance(result, (NotFound, Forbidden)):
        return default
    if isinstance(result, BaseException):
        raise result
    return result


@dataclass
class UserBackend:
    """The services' APIs as the signed-in user."""

    backend: Backend
    token: str
    correlation_id: str | None = None

    async def _json(self, service: Service, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.backend.call(
            service, method, path, token=self.token, correlation_id=self.correlation_id, **kwargs
        )
        return _json(response)

    # referral service
    async def submit_referral(self, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        return await self._json(
            "referral", "POST", "/referrals", json=body, headers={"Idempotency-Key": idempotency_key}
        )

    async def demographics(self, register_id: str) -> dict[str, Any]:
        return await self._json("referral", "GET", f"/people/{register_id}")

    async def search_people(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        return (await self._json("referral", "POST", "/searches/people", json=query))["people"]

    async def change_address(self, register_id: str, address: dict[str, Any]) -> dict[str, Any]:
        return await self._json("referral", "PUT", f"/people/{register_id}/address", json=address)

    # rating service
    async def register(self, **filters: Any) -> dict[str, Any]:
        return await self._json("rating", "GET", "/register", params=filters)

    async def caseload(self) -> dict[str, Any]:
        return await self._json("rating", "GET", "/caseload")

    async def record(self, register_id: str) -> dict[str, Any]:
        return await self._json("rating", "GET", f"/register/{register_id}")

    async def _change(self, method: str, path: str, body: dict[str, Any], version: int | None) -> dict[str, Any]:
        headers = {"If-Match": f'"{version}"'} if version is not None else None
        return await self._json("rating", method, path, json=body, headers=headers)

    async def change_rating(self, register_id: str, body: dict[str, Any], version: int | None) -> dict[str, Any]:
        return await self._change("POST", f"/register/{register_id}/rating", body, version)

    async def add_update(self, register_id: str, text: str, version: int | None) -> dict[str, Any]:
        return await self._change("POST", f"/register/{register_id}/updates", {"text": text}, version)

    async def set_professionals(
        self, register_id: str, professionals: list[dict], version: int | None
    ) -> dict[str, Any]:
        return await self._change(
            "PUT", f"/register/{register_id}/professionals", {"professionals": professionals}, version
        )

    async def removal(self, register_id: str, body: dict[str, Any], version: int | None) -> dict[str, Any]:
        return await self._change("POST", f"/register/{register_id}/removal", body, version)

    async def removal_requests(self) -> list[dict[str, Any]]:
        return (await self._json("rating", "GET", "/removal-requests"))["removal_requests"]

    async def unmatched_hospital_events(self) -> dict[str, Any]:
        return await self._json("rating", "GET", "/hospital-events/unmatched")

    # scheduler
    async def obligations(self, **filters: Any) -> list[dict[str, Any]]:
        return (await self._json("scheduler", "GET", "/obligations", params=filters))["obligations"]

    async def obligations_counted(self, **filters: Any) -> dict[str, Any]:
        """The first `limit` of them (soonest due) and `total`, how many there are."""
        return await self._json("scheduler", "GET", "/obligations", params=filters)

    async def complete_obligation(self, obligation_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._json("scheduler", "POST", f"/obligations/{obligation_id}/complete", json=body)

    async def tracking_meeting(self) -> dict[str, Any]:
        return await self._json("scheduler", "GET", "/tracking-meeting")

    # notifier
    async def notifications(self, **filters: Any) -> list[dict[str, Any]]:
        return (await self._json("notifier", "GET", "/notifications", params=filters))["notifications"]

    async def retry_notification(self, notification_id: str) -> dict[str, Any]:
        return await self._json("notifier", "POST", f"/notifications/{notification_id}/retry")

    # identity service: the register's directory of users
    async def users(self, limit: int, offset: int) -> dict[str, Any]:
        return await self._json("identity", "GET", "/users", params={"limit": limit, "offset": offset})

    async def grant_role(self, user_id: str, role: str) -> dict[str, Any]:
        return await self._json("identity", "PUT", f"/users/{user_id}/roles/{role}")

    async def revoke_role(self, user_id: str, role: str) -> dict[str, Any]:
        return await self._json("identity", "DELETE", f"/users/{user_id}/roles/{role}")
