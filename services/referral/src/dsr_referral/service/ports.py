"""What the use cases use of the running service, in one place: the area's
settings, the clock, the unit of work (the one way into a transaction), the
one way to build an outgoing event (`Runtime.outgoing`), and the stores.
`app.py` takes them from the runtime; the use-case tests give in-memory ones."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from dsr_shared.platform.access import Contacts
from dsr_shared.platform.clock import Clock
from dsr_shared.platform.contacts import ContactsProjection
from dsr_shared.platform.db import Outgoing
from dsr_shared.platform.runtime import Runtime
from dsr_shared.platform.settings import ServiceSettings
from dsr_shared.platform.unit_of_work import UnitOfWork
from dsr_shared.rules.pseudonym import nhs_number_hash
from dsr_referral.adapters.referrals import ReferralStore


class ContactsReader(Protocol):
    async def of(self, register_id: str) -> Contacts | None:
        """Who is listed on the person, as heard from the register (dsr_shared.platform.contacts)."""
        ...


@dataclass(frozen=True)
class Ports:
    settings: ServiceSettings
    clock: Clock
    uow: UnitOfWork
    # Runtime.outgoing: an event of this service, in its envelope, addressed to its topic.
    outgoing: Callable[..., Outgoing]
    store: ReferralStore
    contacts: ContactsReader

    @classmethod
    def of(cls, runtime: Runtime, store: ReferralStore, contacts: ContactsProjection) -> "Ports":
        return cls(runtime.settings, runtime.clock, runtime.uow, runtime.outgoing, store, contacts)

    def nhs_number_hash(self, nhs_number: str) -> str:
        """The pseudonym other services may match on (never the NHS number)."""
        return nhs_number_hash(self.settings.nhs_hash_key.get_secret_value(), nhs_number)
