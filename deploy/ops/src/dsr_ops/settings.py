"""What the `dsr` command reads from the environment: the services' own
settings (DSR_KAFKA_BOOTSTRAP, DSR_MONGO_URI, DSR_TOPIC_PREFIX,
DSR_AREA_PROFILE, DSR_AUTH_SECRET, DSR_AUTH_ISSUER), plus where the services
answer and the bearer token to show them."""

from __future__ import annotations

from datetime import timedelta

from pydantic import SecretStr

from dsr_shared.auth import Role, issue_token
from dsr_shared.settings import ServiceSettings

# Each service and its HTTP port on the local stack (`make run`).
SERVICES = {"referral": 8001, "rating": 8002, "scheduler": 8003, "notifier": 8004, "hospital_gateway": 8005}
# The services that know a person by register id, and audit by it (`dsr audit`):
# the hospital gateway knows NHS numbers only, and never keeps them.
REGISTER_SERVICES = ("referral", "rating", "scheduler", "notifier")


class OpsSettings(ServiceSettings):
    service_name: str = "ops"
    # A bearer token from the area's identity provider. Without it, one is
    # minted from DSR_AUTH_SECRET: local and development stacks only.
    token: SecretStr | None = None
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
        return f"{self.topic_prefix}dsr-{service}"

    def bearer(self, role: Role) -> dict[str, str]:
        """The Authorization header: DSR_TOKEN, else a short-lived token with
        `role` signed with DSR_AUTH_SECRET (local and development only)."""
        if self.token is not None:
            token = self.token.get_secret_value()
        else:
            token = issue_token(
                self.auth_secret.get_secret_value(), "dsr-ops-command", [role],
                issuer=self.auth_issuer, ttl=timedelta(minutes=5),
            )
        return {"Authorization": f"Bearer {token}"}
