"""What the `dsr` command reads from the environment: the services' own
settings (DSR_KAFKA_BOOTSTRAP, DSR_MONGO_URI, DSR_TOPIC_PREFIX,
DSR_AREA_PROFILE), where the services answer, and how it gets its bearer
tokens: its own client credentials at the identity service for what needs
the ops role, a person's token (DSR_TOKEN) for what needs the DSR team."""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from dsr_shared.contract.topology import OPERATED_SERVICES, consumer_group
from dsr_shared.contract.topology import SERVICES as TOPOLOGY
from dsr_shared.platform.auth import Role
from dsr_shared.platform.settings import ServiceSettings

# Each service the command reaches and its HTTP port on the local stack (`make run`).
SERVICES = {name: TOPOLOGY[name].port for name in OPERATED_SERVICES}
IDENTITY_PORT = TOPOLOGY["identity"].port
# The local stack's development secret of the command's client (development mode only).
DEVELOPMENT_CLIENT_SECRET = "dev-only-dsr-ops-client-secret"


class NoToken(Exception):
    pass


class OpsSettings(ServiceSettings):
    service_name: str = "ops"
    # A register access token of a person (a DSR team member: `dsr register`),
    # from the identity service; used for every command when set.
    token: SecretStr | None = None
    # The command's own client at the identity service (role ops).
    identity_url: str = f"http://127.0.0.1:{IDENTITY_PORT}"
    ops_client_id: str = "dsr_ops"
    ops_client_secret: SecretStr | None = None
    referral_url: str = f"http://127.0.0.1:{SERVICES['referral']}"
    rating_url: str = f"http://127.0.0.1:{SERVICES['rating']}"
    scheduler_url: str = f"http://127.0.0.1:{SERVICES['scheduler']}"
    notifier_url: str = f"http://127.0.0.1:{SERVICES['notifier']}"
    hospital_gateway_url: str = f"http://127.0.0.1:{SERVICES['hospital_gateway']}"
    # host:port of the hospital gateway's MLLP listener (`dsr hl7`).
    gateway_mllp: str = "127.0.0.1:2575"
    http_timeout_seconds: float = 10.0

    def url(self, service: str) -> str:
        return getattr(self, f"{service}_url").rstrip("/")

    def group(self, service: str) -> str:
        """The service's consumer group, as ServiceSettings.consumer_group names it."""
        return consumer_group(self.topic_prefix, service)

    def _client_secret(self) -> str | None:
        if self.ops_client_secret is not None:
            return self.ops_client_secret.get_secret_value()
        return DEVELOPMENT_CLIENT_SECRET if self.development_mode else None

    async def bearer(self, client: httpx.AsyncClient, role: Role) -> dict[str, str]:
        """The Authorization header: for the ops role, a token for the command's own
        client (DSR_OPS_CLIENT_ID, DSR_OPS_CLIENT_SECRET) when it has a secret;
        otherwise DSR_TOKEN, a person's token."""
        secret = self._client_secret()
        if role == Role.OPS and secret is not None:
            url = f"{self.identity_url.rstrip('/')}/token"
            answer = await client.post(
                url, data={"grant_type": "client_credentials"}, auth=(self.ops_client_id, secret)
            )
            if answer.status_code != 200:
                raise NoToken(
                    f"the identity service at {self.identity_url} refused the command's client ({answer.status_code})"
                )
            return {"Authorization": f"Bearer {answer.json()['access_token']}"}
        if self.token is not None:
            return {"Authorization": f"Bearer {self.token.get_secret_value()}"}
        raise NoToken(
            f"this needs the {role} role: set DSR_TOKEN to the register access token of a person who holds it"
            + (", or DSR_OPS_CLIENT_SECRET to the command's client secret" if role == Role.OPS else "")
        )
