"""The notifier's use cases, which own every transaction of the service:
events become queued emails (notifying.py), and the sender sends them and
records each outcome with its event (sending.py)."""

from dsr_notifier.service.notifying import NotifierService, Retried
from dsr_notifier.service.sending import Courier

__all__ = ["Courier", "NotifierService", "Retried"]
