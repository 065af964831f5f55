"""Local infrastructure for the Dynamic Support Register: Kafka, SecantusDB,
an SMTP sink, an OpenID Connect provider and the services, each as a plain
OS process."""

from __future__ import annotations

import importlib

# Imported on first use: `python -m dsr_devstack.smtp_sink` must not find
# its own module already imported by the package (runpy warns), and the
# sink has no need for the Kafka and Mongo clients.
_EXPORTS = {
    "DevstackError": "._proc",
    "Timing": "._proc",
    "ManagedProcess": "._proc",
    "free_port": "._proc",
    "Kafka": ".kafka",
    "SecantusDB": ".secantus",
    "SmtpSink": ".smtp_sink",
    "ServiceProcess": ".service",
    "OidcProvider": ".oidc_provider",
    "PERSONAS": ".personas",
    "WEB_CLIENT_ID": ".personas",
    "identity_env": ".identity",
    "Stack": ".stack",
    "SERVICES": ".stack",
    "find_repo_root": ".stack",
    "state_root": ".stack",
    "cache_root": ".stack",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
