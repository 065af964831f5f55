"""HTTP: discovery and public keys, the token endpoint (OAuth 2.0 style, form
encoded), and the directory for DSR team administrators."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse

from dsr_shared.platform.auth import InvalidToken, KeysUnavailable, Principal, Role, require_roles
from dsr_identity.adapters.clients import ClientRefused, Clients
from dsr_identity.service import Identity, Refused

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


Admin = Annotated[Principal, Depends(require_roles(Role.DSR_ADMIN))]


def _oauth_error(code: int, error: str, description: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=code, headers={**NO_STORE, **(headers or {})}
    )


def issuer_router(identity: Identity, clients: Clients) -> APIRouter:
    router = APIRouter(tags=["tokens"])
    settings = identity.settings

    @router.get("/.well-known/openid-configuration")
    async def configuration() -> dict[str, Any]:
        issuer = settings.auth_issuer.rstrip("/")
        return {
            "issuer": settings.auth_issuer,
            "jwks_uri": f"{issuer}/.well-known/jwks.json",
            "token_endpoint": settings.token_endpoint,
            "grant_types_supported": [TOKEN_EXCHANGE, "client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256", "ES256", "EdDSA"],
        }

    @router.get("/.well-known/jwks.json")
    async def jwks() -> JSONResponse:
        return JSONResponse(identity.keys.jwks(), headers={"Cache-Control": "public, max-age=300"})

    @router.post(
        "/token",
        responses={
            400: {"description": "invalid_request, invalid_grant or unsupported_grant_type"},
            401: {"description": "invalid_client"},
            503: {"description": "a provider's keys cannot be fetched"},
        },
    )
    async def token(request: Request) -> JSONResponse:
        """`grant_type` token-exchange (`subject_token`: an ID token from the area's
        identity provider, `subject_token_type` id_token) or client_credentials."""
        form = await request.form()
        grant_type = form.get("grant_type")
        if grant_type == TOKEN_EXCHANGE:
            subject_token, token_type = form.get("subject_token"), form.get("subject_token_type")
            if not isinstance(subject_token, str) or token_type != ID_TOKEN_TYPE:
                return _oauth_error(
                    400, "invalid_request", f"subject_token and subject_token_type={ID_TOKEN_TYPE} are required"
                )
            try:
                issued = await identity.exchange(subject_token)
            except InvalidToken as exc:
                return _oauth_error(400, "invalid_grant", f"ID token refused: {exc}")
            except KeysUnavailable as exc:
                return _oauth_error(503, "temporarily_unavailable", str(exc), {"Retry-After": "5"})
        elif grant_type == "client_credentials":
            try:
                client = await clients.authenticate(dict(form), request.headers.get("authorization"))
            except ClientRefused as exc:
                return _oauth_error(401, "invalid_client", str(exc), {"WWW-Authenticate": 'Basic realm="dsr"'})
            issued = identity.for_client(client)
        else:
            return _oauth_error(
                400, "unsupported_grant_type", f"grant_type must be {TOKEN_EXCHANGE} or client_credentials"
            )
        return JSONResponse(issued.body(), headers=NO_STORE)

    return router


def directory_router(identity: Identity) -> APIRouter:
    router = APIRouter(tags=["directory"])
    missing = {404: {"description": "No such user"}}

    async def found(user_id: str) -> dict:
        user = await identity.user(user_id)
        if user is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such user")
        return user.view()

    @router.get("/users")
    async def users(
        _: Admin, limit: Annotated[int, Query(ge=1, le=500)] = 100, offset: Annotated[int, Query(ge=0)] = 0
    ) -> dict:
        """Everyone who has signed in, oldest first, with the roles they hold."""
        page, total = await identity.users(limit=limit, offset=offset)
        return {"users": [user.view() for user in page], "total": total, "limit": limit, "offset": offset}

    @router.get("/users/{user_id}", responses=missing)
    async def user(user_id: str, _: Admin) -> dict:
        return await found(user_id)

    async def change(action, admin: Principal, user_id: str, role: Role) -> Any:
        try:
            user = await action(admin, user_id, role)
        except Refused as exc:
            reasons = [{"code": "directory.role", "message": str(exc), "field": "role"}]
            return JSONResponse({"outcome": "rejected", "reasons": reasons}, status_code=422)
        if user is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such user")
        return user.view()

    @router.put(
        "/users/{user_id}/roles/{role}",
        responses={**missing, 422: {"description": "Not a role this user may be given"}},
    )
    async def grant(user_id: str, role: Role, admin: Admin) -> Any:
        """Give the user a role (no change if held); audited."""
        return await change(identity.grant, admin, user_id, role)

    @router.delete("/users/{user_id}/roles/{role}", responses=missing)
    async def revoke(user_id: str, role: Role, admin: Admin) -> Any:
        """Take a role from the user (no change if not held); audited. It takes
        effect at their next token, within the token lifetime."""
        return await change(identity.revoke, admin, user_id, role)

    return router
