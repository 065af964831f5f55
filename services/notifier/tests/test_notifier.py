"""Issue 6 acceptance: the notifier as its own process, on the real broker
and database, with a real SMTP server (aiosmtpd). Each kind of message reaches
the right people, once, naming the person only by register identifier; the
tracking-meeting digests go out once per meeting; while the SMTP server is down
nothing is lost, and once it is back everything is delivered once."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

from dsr_shared.rules.area import load_profile
from dsr_notifier.domain.meetings import digest_at
from dsr_testing.notifier import (
    COMMISSIONER,
    LEAKY,
    ON_CALL,
    PERSONAL,
    REFERRER,
    TEAM,
    assert_names_no_one,
    register_id,
)
from dsr_testing.support import eventually

CASEY = {"name": "Casey Holder", "role": "Community nurse", "email": "Casey.Holder@example.org", "case_holder": True}
DANA = {"name": "Dana Other", "role": "Social worker", "email": "dana.other@example.org"}
PAT = {"name": "Pat Keeper", "role": "Case manager", "email": "pat.keeper@example.org", "case_holder": True}
ADMISSION = {
    "hospital_ods_code": "RXM",
    "admitted_at": "2026-11-20T22:15:00+00:00",
    "bed_type": "learning_disability",
    "secure": False,
    "legal_basis": "section_3",
}
LINK = "https://dsr.staffordshire.invalid/register/"


def received(svc) -> Counter:
    return Counter((m["To"], m["X-DSR-Kind"], m["X-DSR-Register-Id"]) for m in svc.emails())


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


async def test_each_kind_of_message_reaches_the_right_people_once_and_names_no_one(notifier_service):
    svc = await notifier_service()
    r1, r2, r3, r4, r5, r6, r7 = (register_id() for _ in range(7))
    soon = datetime.now(timezone.utc) + timedelta(days=2)
    expected: Counter = Counter()

    def expect(recipient: str, kind: str, rid: str | None) -> None:
        expected[(recipient, kind, rid)] += 1

    # Outcomes and the register's events; they also tell the notifier who r1's and r6's case holders are.
    accepted = await svc.accepted(r1, professionals=[CASEY, DANA])
    expect(REFERRER, "referral_accepted", r1)
    await svc.rejected()
    expect(REFERRER, "referral_rejected", None)
    escalation = await svc.rated(r2, "red")
    expect(TEAM, "escalation", r2)
    expect(ON_CALL, "escalation", r2)
    await svc.rated(r3, "blue", cause="admission", hospital=ADMISSION)
    expect(TEAM, "admission", r3)
    await svc.rated(r4, "green")  # no email: what green demands is announced when due
    await svc.removed(r4, "green_month_ended")
    expect(TEAM, "person_removed", r4)
    await svc.removed(r5, "dsr_team")  # no email: the team removed them
    await svc.professionals(r6, [PAT])
    await svc.update_added(r6)
    expect(TEAM, "update_added", r6)
    await svc.rated(r7, "amber", None, cause="referral")  # no email
    await eventually(lambda: received(svc) == expected, timeout=60)
    await eventually(lambda: svc.db["people"].find_one({"_id": r7, "rating": "amber"}))

    # A further referral for someone on the register: the DSR team, saying when it proposes more than the record has.
    await svc.further_referral(r7, "red")
    expect(TEAM, "further_referral", r7)
    await svc.further_referral(r2, "amber")
    expect(TEAM, "further_referral", r2)

    # Obligations, to whoever is responsible.
    await svc.obligation("ObligationDue", r1, "R-OB-11", "case_holder_update", "case_holder", soon)
    expect("casey.holder@example.org", "obligation_due", r1)
    await svc.obligation("ObligationDue", r6, "R-OB-11", "case_holder_update", "case_holder", soon)
    expect("pat.keeper@example.org", "obligation_due", r6)
    await svc.obligation("ObligationDue", r7, "R-OB-12", "case_holder_update", "case_holder", soon)
    expect(TEAM, "obligation_due", r7)  # nobody known for r7: the DSR team
    await svc.obligation("ObligationDue", r1, "R-OB-9", "oversight_visit", "commissioner", soon)
    expect(COMMISSIONER, "obligation_due", r1)
    await svc.obligation(
        "ObligationDue", r1, "R-OB-10", "keyworking_offer", "keyworking_service", soon, needs_own_consent=True
    )
    expect(TEAM, "obligation_due", r1)
    await svc.obligation(
        "ObligationDue", r1, "R-OB-15", "cetr_action", "Action.Owner@example.org", soon, title=f"Phone {LEAKY}"
    )
    expect("action.owner@example.org", "obligation_due", r1)
    await svc.obligation("ObligationDue", r1, "R-OB-15", "cetr_action", f"Dr {LEAKY}", soon, title=LEAKY)
    expect(TEAM, "obligation_due", r1)  # an owner with no address: the DSR team
    overdue = await svc.obligation("ObligationOverdue", r1, "R-OB-11", "case_holder_update", "case_holder", soon)
    expect("casey.holder@example.org", "obligation_overdue", r1)
    expect(TEAM, "obligation_overdue", r1)
    # A removal request comes as an update and a request: the team hears once.
    await svc.update_added(r1, kind="removal_request")
    await svc.removal_requested(r1)
    expect(TEAM, "removal_requested", r1)

    # The same events delivered again. After each, on the same partition, an event
    # with an email of its own: once those arrive, the duplicates have been read.
    await svc.send("dsr.ratings", escalation, r2)
    await svc.send("dsr.obligations", overdue, r1)
    await svc.send("dsr.referrals", accepted, r1)
    await svc.update_added(r2)
    expect(TEAM, "update_added", r2)
    await svc.obligation("ObligationDue", r1, "R-OB-3", "initial_dsp_meeting", "dsr_team", soon)
    expect(TEAM, "obligation_due", r1)
    await svc.accepted(r1, professionals=[CASEY])  # a new referral of the same person: a new event
    expect(REFERRER, "referral_accepted", r1)
    await eventually(lambda: received(svc) == expected, timeout=60)

    messages = svc.emails()
    assert_names_no_one(messages)
    assert len({m["Message-ID"] for m in messages}) == len(messages) == sum(expected.values())
    for message in messages:
        text, html = text_of(message), message.get_body(("html",)).get_content()
        assert message["Delivered-To"] == message["To"]
        assert "Staffordshire and Stoke-on-Trent Dynamic Support Register" in text
        assert message["X-DSR-Notification-Id"] in message["Message-ID"]
        rid = message["X-DSR-Register-Id"]
        if rid:
            assert rid in message["Subject"] and rid in text
            assert f"{LINK}{rid}" in text and f'href="{LINK}{rid}"' in html
    by_kind = {}
    for message in messages:
        by_kind.setdefault(message["X-DSR-Kind"], []).append(text_of(message))
    assert any(
        "What is needed: Case-holder update (amber) (R-OB-11)\nBy when: " in t for t in by_kind["obligation_due"]
    )
    assert any("own consent" in t for t in by_kind["obligation_due"])
    assert any("An action recommended at a C(E)TR" in t for t in by_kind["obligation_due"])
    assert all("Was due by: " in t for t in by_kind["obligation_overdue"])
    assert all("Community C(E)TR (R-OB-1), by " in t for t in by_kind["escalation"])
    assert "RXM" in by_kind["admission"][0] and "(R-OB-7), by " in by_kind["admission"][0]
    assert "[R-ELIG-2.no_consent, consent]" in by_kind["referral_rejected"][0]
    assert "best-interest meeting" in by_kind["removal_requested"][0]
    further = {
        m["X-DSR-Register-Id"]: (m["Subject"], text_of(m)) for m in messages if m["X-DSR-Kind"] == "further_referral"
    }
    assert "proposing a higher rating" in further[r7][0] and "HIGHER rating than the current one: red" in further[r7][1]
    assert "HIGHER" not in further[r2][1] and "the record says red" in further[r2][1]
    assert "Initial DSP meeting (R-OB-3)" in by_kind["referral_accepted"][0]

    # What was sent, to whom, when, for which event; and NotificationSent for each.
    recorded = await svc.notifications()
    assert len(recorded) == len(messages)
    assert all(n["state"] == "sent" and n["sent_at"] and n["attempts"] == 1 for n in recorded)
    assert {n["notification_id"] for n in recorded} == {m["X-DSR-Notification-Id"] for m in messages}
    for_escalation = await svc.notifications(source_event_id=str(escalation.event_id))
    assert {(n["recipient"], n["template"], n["source_event_type"]) for n in for_escalation} == {
        (TEAM, "escalation", "RatingChanged"),
        (ON_CALL, "escalation", "RatingChanged"),
    }

    async def all_announced():
        sent = svc.published("NotificationSent")
        return {e["data"]["notification_id"] for e in sent.values()} == {n["notification_id"] for n in recorded}

    await eventually(all_announced, timeout=30)
    # The window in which a crash would send an email twice is measured for each email.
    metrics = (await svc.http.get(f"{svc.url}/metrics")).text
    count = next(line for line in metrics.splitlines() if line.startswith("dsr_notifier_unrecorded_send_seconds_count"))
    assert float(count.split()[-1]) == len(messages)
    for event in svc.published("NotificationSent").values():
        assert not any(personal in str(event) for personal in PERSONAL)


async def test_a_digest_before_each_tracking_meeting_to_the_team_and_each_case_holder(notifier_service):
    svc = await notifier_service()
    area = load_profile("staffordshire")  # the test profile keeps its meeting: Thursday 09:30
    now = await svc.now()
    meeting = area.next_tracking_meeting(now)
    if digest_at(area, meeting) <= now:
        meeting = area.next_tracking_meeting(meeting + timedelta(minutes=1))
    r1, r2, r3, r4 = (register_id() for _ in range(4))

    await svc.accepted(r1, professionals=[CASEY])
    await svc.professionals(r2, [PAT])
    await svc.rated(r1, "amber", None, cause="referral")
    await svc.rated(r2, "green")
    await svc.rated(r3, "amber", None, cause="referral")
    await svc.removed(r3, "dsr_team")

    async def scheduled(rid, rule, kind, responsible, due_at, obligation_id=None):
        return await svc.obligation(
            "ObligationScheduled", rid, rule, kind, responsible, due_at, obligation_id=obligation_id
        )

    await scheduled(r1, "R-OB-3", "initial_dsp_meeting", "dsr_team", meeting - timedelta(hours=1))
    await scheduled(r1, "R-OB-11", "case_holder_update", "case_holder", meeting - timedelta(hours=2))
    await scheduled(r1, "R-OB-4", "follow_up_dsp_meeting", "dsr_team", meeting + timedelta(days=3))  # after the meeting
    await scheduled(r2, "R-OB-11", "case_holder_update", "case_holder", meeting - timedelta(hours=3))
    done = str(uuid.uuid4())
    await scheduled(r3, "R-OB-1", "community_cetr", "dsr_team", meeting - timedelta(hours=4), done)
    await svc.obligation(
        "ObligationCompleted",
        r3,
        "R-OB-1",
        "community_cetr",
        "dsr_team",
        meeting - timedelta(hours=4),
        obligation_id=done,
        completed_at=now.isoformat(),
        outcome="held",
        completed_by=TEAM,
    )
    await scheduled(
        r4, "R-OB-12", "case_holder_update", "case_holder", meeting - timedelta(hours=5)
    )  # no one known: the team

    async def projected():
        obligations = svc.db["obligations"]
        return (
            await obligations.count_documents({}) == 6
            and await obligations.count_documents({"state": "done"}) == 1
            and await svc.db["contacts"].count_documents({}) == 2
            and await svc.db["people"].count_documents({"on_register": True}) == 2
            and await svc.db["people"].count_documents({"on_register": False}) == 1
        )

    await eventually(projected, timeout=60)
    await svc.advance_clock(to=digest_at(area, meeting) + timedelta(minutes=1))

    def digests():
        return [m for m in svc.emails() if m["X-DSR-Kind"].startswith("digest_")]

    await eventually(lambda: len(digests()) == 3, timeout=60)
    by_recipient = {m["To"]: m for m in digests()}
    assert set(by_recipient) == {TEAM, "casey.holder@example.org", "pat.keeper@example.org"}
    team = text_of(by_recipient[TEAM])
    assert meeting.strftime("%A %d %B %Y, 09:30") in team
    assert f"- amber (wellbeing deteriorating), 1: {r1}\n" in team and f"- green (settled), 1: {r2}\n" in team
    assert f"{r1}: Initial DSP meeting (R-OB-3), due" in team
    assert f"{r1}: Case-holder update (amber) (R-OB-11)" in team and f"{r2}: Case-holder update (amber)" in team
    assert f"{r4}: Case-holder update (green) (R-OB-12)" in team
    assert "Follow-up DSP meeting" not in team and r3 not in team
    casey, pat = text_of(by_recipient["casey.holder@example.org"]), text_of(by_recipient["pat.keeper@example.org"])
    assert r1 in casey and r2 not in casey and r4 not in casey
    assert r2 in pat and r1 not in pat
    assert all(m["X-DSR-Register-Id"] is None for m in digests())
    assert_names_no_one(svc.emails())

    # The next meeting's digest comes a week on; the first meeting's went out once.
    following = meeting + timedelta(days=7)
    await svc.advance_clock(to=digest_at(area, following) + timedelta(minutes=1))
    await eventually(lambda: sum(m["X-DSR-Kind"] == "digest_team" for m in digests()) == 2, timeout=60)
    # A notifier not running at a digest time (here: the clock jumps over the
    # digest time and the meeting) sends that meeting's digest at once, late.
    third = following + timedelta(days=7)
    await svc.advance_clock(to=third + timedelta(hours=26))
    await eventually(lambda: sum(m["X-DSR-Kind"] == "digest_team" for m in digests()) == 3, timeout=60)
    team_digests = [m for m in digests() if m["X-DSR-Kind"] == "digest_team"]
    for week in (meeting, following, third):
        assert sum(week.strftime("%d %B %Y, 09:30") in text_of(m) for m in team_digests) == 1
    late = [m for m in team_digests if third.strftime("%d %B %Y, 09:30") in text_of(m)][0]
    assert "(sent late)" in late["Subject"] and "Sent late: it was due" in text_of(late)
    assert not any("late" in m["Subject"] for m in team_digests if m is not late)
    message_ids = [m["Message-ID"] for m in svc.emails()]
    assert len(message_ids) == len(set(message_ids))
    sources = {n["source_event_type"] for n in await svc.notifications(recipient=TEAM)}
    assert sources == {"TrackingMeetingDigest"}


async def test_while_the_mail_server_is_down_nothing_is_lost_and_once_back_everything_goes_once(notifier_service):
    svc = await notifier_service(DSR_SMTP_ALERT_AFTER_ATTEMPTS="3")
    svc.smtp.stop()
    people = [register_id() for _ in range(3)]
    for rid in people:
        await svc.rated(rid, "red")  # the team and the escalation contact
        await svc.accepted(rid)  # the referrer
    expected = 3 * len(people)

    # Consuming does not wait for the relay: every email is queued, and retried with backoff.
    async def stuck():
        found = await svc.notifications()
        return len(found) == expected and all(n["state"] != "sent" and n["attempts"] >= 3 for n in found)

    await eventually(stuck, timeout=90)
    alerts = await eventually(
        lambda: (
            [e for e in svc.published("NotificationFailed").values() if not e["data"]["permanent"]]
            if len(svc.published("NotificationFailed")) >= expected
            else None
        ),
        timeout=30,
    )
    assert len({e["data"]["notification_id"] for e in alerts}) == expected
    assert svc.emails() == []

    svc.smtp.start()  # the same port

    async def all_sent():
        found = await svc.notifications()
        return all(n["state"] == "sent" for n in found) and len(found) == expected

    await eventually(all_sent, timeout=60)
    messages = svc.emails()
    assert len(messages) == expected
    assert len({m["Message-ID"] for m in messages}) == expected, "an email was sent twice"
    assert Counter(m["To"] for m in messages) == {TEAM: 3, ON_CALL: 3, REFERRER: 3}
    assert_names_no_one(messages)

    async def all_announced():
        return len({e["data"]["notification_id"] for e in svc.published("NotificationSent").values()}) == expected

    await eventually(all_announced, timeout=30)
