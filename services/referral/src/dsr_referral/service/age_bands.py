"""Time acts on ages: a person on the register who turns 18, or the area's
keyworking age limit (25), moves to another age band, and R-OB-10 follows the
age on the day of the event. Only this service knows dates of birth, so it
compares each person's band today with the band last announced for them, and
announces a change with AgeBandChanged (no date of birth; domain/age_bands.py
decides).

Each person is compared once per area day (`age_band_checked_on`), and again
when a referral (re)enters them or completes their record. The change and its
event are written in one transaction, guarded by the person's document as it
was read, so two processes or a retry announce it once; the event id is
derived from the change itself. Logs carry counts, never a register id next
to a band change: the day of the change would give the birthday away."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from dsr_shared.contract.events import AgeBand, AgeBandChanged
from dsr_shared.platform.db import Outgoing
from dsr_shared.platform.unit_of_work import Transaction
from dsr_referral.domain.age_bands import age_band_change, age_band_event_id
from dsr_referral.service.ports import Ports

log = structlog.get_logger()


class AgeBands:
    def __init__(self, ports: Ports) -> None:
        self.ports = ports
        self.store = ports.store

    async def announce(self) -> int:
        """Announce every age band that differs today from the one last
        announced. Returns how many were announced."""
        now = self.ports.clock.now()
        area = self.ports.settings.area
        today = now.astimezone(ZoneInfo(area.working_time.timezone)).date()
        due = await self.store.due_an_age_check(today)
        if not due:
            return 0
        births = await self.store.births([person["_id"] for person in due])
        unchanged: list[dict[str, Any]] = []
        announced = conflicts = unknown = 0
        for person in due:
            register_id = person["_id"]
            if register_id not in births:
                unknown += 1  # referred automatically on discharge: no date of birth here
                unchanged.append(person)
                continue
            try:
                born, referred_on = (date.fromisoformat(d) for d in births[register_id])
            except ValueError:
                log.warning("age band: the referral's dates cannot be read", register_id=register_id)
                unchanged.append(person)  # looked at again tomorrow
                continue
            band = age_band_change(born, referred_on, person.get("announced_age_band"), today, area.age_bands)
            if band is None:
                unchanged.append(person)
            elif await self._announce(person, band, today, now):
                announced += 1
            else:
                conflicts += 1

        async def checked(transaction: Transaction) -> list[Outgoing]:
            await self.store.age_checked(unchanged, today, transaction)
            return []

        await self.ports.uow.in_transaction(checked)
        log.info(
            "age bands checked",
            checked=len(due),
            announced=announced,
            changed_meanwhile=conflicts,
            no_date_of_birth=unknown,
        )
        return announced

    async def _announce(self, person: dict[str, Any], band: AgeBand, today: date, now: datetime) -> bool:
        """False when another process announced it, or a referral or removal came between."""
        event_id = age_band_event_id(person["_id"], person["referral_id"], band.value, today)
        event = AgeBandChanged(register_id=person["_id"], age_band=band, effective_on=today)

        async def work(transaction: Transaction) -> list[Outgoing]:
            if not await self.store.announce_age_band(person, band.value, today, transaction):
                return []
            return [self.ports.outgoing(event, occurred_at=now, correlation_id=str(event_id), event_id=event_id)]

        return bool(await self.ports.uow.commit_and_publish(work))
