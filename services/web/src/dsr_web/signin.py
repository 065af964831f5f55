"""Sign-in: authorization code with PKCE at the area's identity provider
(Authlib), then the ID token is exchanged at the identity service for a
short-lived register access token (RFC 8693). Sign-out ends the session at
the provider too when it offers an end_session_endpoint."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import structlog
from authlib.integrations.starlette_client import OAuth, OAuthError
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from dsr_web import session
from dsr_web.backend import Backend, BackendError
from dsr_web.rendering import render
from dsr_web.settings import WebSettings

log = structlog.get_logger()

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
# Renew the register access token this long before it expires.
RENEW_BEFORE_SECONDS = 30


def identity_provider(settings: WebSettings) -> OAuth:
    oauth = OAuth()
    key = settings.private_key_pem()
    client_kwargs = {"scope": settings.oidc_scope, "code_challenge_method": "S256"}
    extra = {}
    if key:
        client_kwargs["token_endpoint_auth_method"] = "private_key_jwt"
        headers = {"kid": settings.oidc_private_key_id} if settings.oidc_private_key_id else None
        extra["client_auth_methods"] = [PrivateKeyJWT(headers=headers)]
        secret = key
    else:
        client_kwargs["token_endpoint_auth_method"] = "client_secret_post"
        secret = settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None
    oauth.register(
        "provider",
        client_id=settings.oidc_client_id,
        client_secret=secret,
        server_metadata_url=f"{settings.oidc_issuer.rstrip('/')}/.well-known/openid-configuration",
        client_kwargs=client_kwargs,
        **extra,
    )
    return oauth


def local_path(target: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _public_url(request: Request, settings: WebSettings, path: str) -> str:
    base = settings.public_url.rstrip("/") if settings.public_url else str(request.base_url).rstrip("/")
    return f"{base}{path}"


async def exchange(backend: Backend, id_token: str) -> dict:
    """The register access token for the holder of `id_token`."""
    response = await backend.call(
        "identity",
        "POST",
        "/token",
        data={"grant_type": TOKEN_EXCHANGE, "subject_token": id_token, "subject_token_type": ID_TOKEN_TYPE},
    )
    return response.json()


async def access_token(request: Request, backend: Backend) -> str | None:
    """The user's register access token, renewed from their ID token when it is
    about to expire; None when that is no longer possible (sign in again)."""
    if "user" not in request.session:
        return None
    if request.session.get("access_expires", 0) - time.time() > RENEW_BEFORE_SECONDS:
        return request.session["access_token"]
    try:
        answer = await exchange(backend, request.session["id_token"])
    except BackendError:
        return None
    session.renew_access(request, answer["access_token"], int(answer.get("expires_in", 300)))
    return answer["access_token"]


def signin_router(settings: WebSettings, oauth: OAuth, backend: Backend) -> APIRouter:
    router = APIRouter()

    @router.get("/sign-in")
    async def sign_in(request: Request, next: str | None = None) -> Response:
        request.session["next"] = local_path(next)
        extra = {"acr_values": settings.oidc_acr_values} if settings.oidc_acr_values else {}
        try:
            return await oauth.provider.authorize_redirect(
                request, _public_url(request, settings, "/signed-in"), **extra
            )
        except Exception as exc:  # noqa: BLE001 - the provider is down or misconfigured
            log.warning("identity provider unreachable", error=type(exc).__name__)
            return render(
                request,
                "problem.jinja",
                {
                    "title": "Sign-in is not available",
                    "message": "The sign-in service is not answering. Try again in a few minutes.",
                },
                503,
            )

    @router.get("/signed-in")
    async def callback(request: Request) -> Response:
        next_path = request.session.get("next", "/")
        try:
            token = await oauth.provider.authorize_access_token(request)
        except OAuthError as exc:
            log.info("sign-in refused", outcome="refused", error=exc.error)
            return render(
                request,
                "problem.jinja",
                {"title": "You could not be signed in", "message": "Sign-in did not complete. Start again."},
                400,
            )
        id_token = token.get("id_token")
        claims = token.get("userinfo") or {}
        try:
            answer = await exchange(backend, id_token)
        except BackendError as exc:
            log.warning("token exchange refused", outcome="refused", status=exc.status)
            message = "The register did not accept your sign-in. Try again, or contact the DSR team."
            return render(request, "problem.jinja", {"title": "You could not be signed in", "message": message}, 502)
        session.start(
            request,
            id_token=id_token,
            access_token=answer["access_token"],
            expires_in=int(answer.get("expires_in", 300)),
            name=claims.get("name"),
        )
        log.info("signed in", outcome="ok")
        return RedirectResponse(local_path(next_path), status_code=303)

    @router.post("/sign-out")
    async def sign_out(request: Request) -> Response:
        id_token = request.session.get("id_token")
        request.session.clear()
        signed_out = _public_url(request, settings, "/signed-out")
        try:
            metadata = await oauth.provider.load_server_metadata()
        except Exception:  # noqa: BLE001 - the provider is down: the register session has ended anyway
            metadata = {}
        end_session = metadata.get("end_session_endpoint")
        if end_session and id_token:
            query = urlencode(
                {
                    "id_token_hint": id_token,
                    "post_logout_redirect_uri": signed_out,
                    "client_id": settings.oidc_client_id,
                }
            )
            return RedirectResponse(f"{end_session}?{query}", status_code=303)
        return RedirectResponse("/signed-out", status_code=303)

    return router
