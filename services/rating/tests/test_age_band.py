"""A person's age band moves on while they are on the register (R-OB-10: the
age on the day of the event): the referral service announces it with
AgeBandChanged on dsr.referrals, the record keeps it, and what the register
announces carries the band of the time each change happened. The newest
announcement wins on the record in any order."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dsr_testing.support import eventually


async def consumed(svc, event_type: str) -> float:
    """How many messages of a type on dsr.referrals the service has finished with."""
    text = (await svc.http.get(f"{svc.url}/metrics")).text
    labels = (f'topic="{svc.topic("dsr.referrals")}"', f'event_type="{event_type}"', 'outcome="processed"')
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("dsr_events_consumed_total{") and all(label in line for label in labels)
    )


async def test_a_new_age_band_is_kept_and_goes_out_with_the_next_rating_change(rating_service):
    svc = await rating_service("derbyshire")
    now = datetime.now(timezone.utc)
    young, nhs = svc.new_person()
    await svc.accept(young, nhs, "amber", age_band="young_adult", at=now - timedelta(days=40))
    entered = await eventually(lambda: svc.published("RatingChanged", young))
    assert entered[0]["data"]["age_band"] == "young_adult"
    version = (await svc.person(young)).json()["version"]

    # The 25th birthday: delivered twice; then an older announcement arrives late.
    turned = await svc.age_band_changed(young, "adult", at=now - timedelta(days=10))
    await svc.age_band_changed(young, "adult", at=now - timedelta(days=10), event_id=turned)
    await svc.age_band_changed(young, "young_adult", at=now - timedelta(days=20))
    await eventually(lambda: _at_least(consumed(svc, "AgeBandChanged"), 3))
    view = (await svc.person(young)).json()
    assert view["age_band"] == "adult" and view["cohort"] == "adult" and view["rating"] == "amber"
    assert view["version"] == version + 1  # the change counts once; the duplicate and the older one not at all
    assert len(svc.published("RatingChanged", young)) == 1  # a band alone announces nothing

    assert (await svc.change(young, "red")).status_code == 200
    changed = await eventually(
        lambda: len(svc.published("RatingChanged", young)) == 2 and svc.published("RatingChanged", young)
    )
    assert changed[1]["data"]["to_rating"] == "red" and changed[1]["data"]["age_band"] == "adult"

    # Out of order: the band change before the referral it follows. The record
    # waits unseen; the entry goes out with the band of its own time (as it
    # would have in time order), and the record shows the newer band.
    early, nhs = svc.new_person()
    await svc.age_band_changed(early, "adult", at=now - timedelta(days=1))
    await eventually(lambda: _at_least(consumed(svc, "AgeBandChanged"), 4))
    assert (await svc.person(early)).status_code == 404  # not on the register yet
    await svc.accept(early, nhs, "amber", age_band="young_adult", at=now - timedelta(days=2))
    entered = await eventually(lambda: svc.published("RatingChanged", early))
    assert entered[0]["data"]["age_band"] == "young_adult"
    assert (await svc.person(early)).json()["age_band"] == "adult"


async def _at_least(value, n: float) -> bool:
    return (await value) >= n
