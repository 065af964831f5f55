"""The gateway's settings (prefix DSR_), beside every service's."""

from __future__ import annotations

from pydantic import Field

from dsr_shared.platform.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    service_name: str = "hospital_gateway"
    # The MLLP listener the trusts' integration engines send HL7 v2 ADT to.
    mllp_host: str = "127.0.0.1"
    mllp_port: int = 2575
    # TLS on the MLLP port: the gateway's certificate and key (PEM); with a CA
    # bundle, only senders with a certificate it signed may connect.
    mllp_tls_cert_file: str | None = None
    mllp_tls_key_file: str | None = None
    mllp_tls_client_ca_file: str | None = None
    # A larger frame closes the connection (ADT messages are a few kB).
    mllp_max_frame_bytes: int = Field(default=1_048_576, ge=1024)
    # A connection that sends nothing for this long is closed.
    mllp_idle_seconds: float = 600.0
    # MSH-11 processing ids taken (P: production); others are refused (AR).
    mllp_processing_ids: list[str] = Field(default_factory=lambda: ["P"])
    # How long an unparseable message is kept for the operations team, and
    # how long a message control id (MSH-10) is remembered to drop repeats.
    quarantine_retention_days: float = Field(default=30, gt=0)
    control_id_retention_days: float = Field(default=30, gt=0)
    # Tests only: exit after Kafka acknowledged a message's events and before
    # the HL7 ACK is written, to show that a resend records one admission.
    exit_after_publish_for_tests: bool = False
