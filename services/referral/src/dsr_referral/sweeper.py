"""Time acts on ages: a person on the register who turns 18, or the area's
keyworking age limit (25), moves to another age band, and R-OB-10 follows the
age on the day of the event. Only this service knows dates of birth, so it
compares each person's band today with the band last announced for them, and
announces a change with AgeBandChanged (no date of birth).

Each person is compared once per area day (`age_band_checked_on`), and again
when a referral (re)enters them or completes their record. The change and its event are written in one
transaction, guarded by the person's document as it was read, so two processes
or a retry announce it once; the event id is derived from the change itself.
Logs carry counts, never a register id next to a band change: the day of the
change would give the birthday away."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from pymongo.asynchronous.client_session import AsyncClientSession

from dsr_shared.db import Outgoing
from dsr_shared.envelope import derived_event_id
from dsr_shared.events import AgeBandChanged
from dsr_shared.runtime import Runtime
from dsr_referral.adapters.referrals import ReferralStore
from dsr_referral.domain.eligibility import age_band_on

log = structlog.get_logger()


def age_band_event_id(register_id: str, referral_id: str, age_band: str, effective_on: date) -> uuid.UUID:
    """The same change of the same person, on the same referral and day, always has the same id."""
    basis = uuid.uuid5(uuid.NAMESPACE_URL, f"dsr:age-band:{register_id}:{referral_id}:{effective_on.isoformat()}")
    return derived_event_id(basis, f"{AgeBandChanged.EVENT_TYPE}:{age_band}")


async def announce_age_bands(runtime: Runtime, store: ReferralStore) -> int:
    """Announce every age band that differs today from the one last announced.
    Returns how many were announced."""
    now = runtime.clock.now()
    area = runtime.settings.area
    today = now.astimezone(ZoneInfo(area.working_time.timezone)).date()
    due = await store.due_an_age_check(today)
    if not due:
        return 0
    births = await store.births([person["_id"] for person in due])
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
        # Announced before this field existed: the band ReferralAccepted carried.
        was = person.get("announced_age_band") or age_band_on(born, referred_on, area.keyworking_age_limit).value
        band = age_band_on(born, today, area.keyworking_age_limit).value
        if band == was:
            unchanged.append(person)
            continue
        event_id = age_band_event_id(register_id, person["referral_id"], band, today)
        event = AgeBandChanged(register_id=register_id, age_band=band, effective_on=today)

        async def work(session: AsyncClientSession, person: dict[str, Any] = person, band: str = band,
                       event: AgeBandChanged = event, event_id: uuid.UUID = event_id) -> list[Outgoing]:
            if not await store.announce_age_band(person, band, today, session):
                return []  # another process announced it, or a referral or removal came between
            return [runtime.outgoing(event, occurred_at=now, correlation_id=str(event_id), event_id=event_id)]

        if await runtime.uow.commit_and_publish(work):
            announced += 1
        else:
            conflicts += 1
    await store.age_checked(unchanged, today)
    log.info("age bands checked", checked=len(due), announced=announced, changed_meanwhile=conflicts, no_date_of_birth=unknown)
    return announced
