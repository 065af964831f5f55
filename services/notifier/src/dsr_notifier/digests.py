"""R-OB-14: the digests before each tracking meeting (domain/digest.py says
what and when). Made from the notifier's own view of the register, once per
meeting: the meeting's marker and its emails are written in one transaction,
and the marker's id (area and meeting time) can be written only once, also
with several notifier processes."""

from __future__ import annotations

import structlog
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from dsr_shared.db import Outgoing
from dsr_shared.runtime import Runtime
from dsr_notifier.adapters.notifications import NotificationStore
from dsr_notifier.adapters.projection import Projection
from dsr_notifier.delivery import Courier
from dsr_notifier.domain.digest import SOURCE_TYPE, UPDATE_KIND, digest_key, digest_source_id, digests
from dsr_notifier.domain.meetings import digest_at, meeting_to_announce
from dsr_notifier.handlers import queued

log = structlog.get_logger()


async def make_digests(runtime: Runtime, store: NotificationStore, projection: Projection, courier: Courier) -> int:
    """Queue the digests of the latest meeting whose digest time has come, if
    not done yet; the number of emails queued (0 when there is nothing to do)."""
    area, now = runtime.settings.area, runtime.clock.now()
    if area.tracking_meeting is None or runtime.settings.rebuild:
        return 0
    meeting_at = meeting_to_announce(area, now, await store.digests_since(now))
    if meeting_at is None:
        return 0
    key = digest_key(area, meeting_at)
    if await store.digest_made(key):
        return 0
    pending = await projection.pending_by(meeting_at)
    contacts = await projection.contacts_for({d["register_id"] for d in pending if d["kind"] == UPDATE_KIND})
    notes = digests(area, meeting_at, now, pending, contacts, await projection.on_register_by_rating(),
                    due_at=digest_at(area, meeting_at))
    source_id = digest_source_id(key)
    rows = [queued(source_id, SOURCE_TYPE, f"digest:{key}", note, now) for note in notes]

    async def work(session: AsyncClientSession) -> list[Outgoing]:
        await store.record_digest(key, meeting_at, now, session)
        await store.enqueue(rows, session)
        return []

    try:
        await runtime.uow.in_transaction(work)
    except DuplicateKeyError:
        return 0  # another process made them
    log.info("tracking meeting digests queued", meeting_at=meeting_at.isoformat(), emails=len(rows))
    courier.poke()
    return len(rows)
