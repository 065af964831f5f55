"""What the web front end of a local stack is given: where each service
listens, the local OpenID provider as its identity provider, and plain-http
cookies (development mode only)."""

from __future__ import annotations

from .oidc_provider import OidcProvider
from .personas import WEB_CLIENT_ID

# The local provider accepts any client secret; the web refuses this one outside development mode.
WEB_CLIENT_SECRET = "dev-only-web-client-secret"


def web_env(*, public_url: str, service_urls: dict[str, str], provider: OidcProvider) -> dict[str, str]:
    return {
        **{f"DSR_{name.upper()}_URL": url for name, url in service_urls.items()},
        "DSR_OIDC_ISSUER": provider.issuer,
        "DSR_OIDC_CLIENT_ID": WEB_CLIENT_ID,
        "DSR_OIDC_CLIENT_SECRET": WEB_CLIENT_SECRET,
        "DSR_PUBLIC_URL": public_url,
        "DSR_COOKIE_SECURE": "false",
    }
