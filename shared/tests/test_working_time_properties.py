"""Property tests of the working-time calendar (docs/RULES.md "Obligations") against
a brute-force reference that walks minute by minute: Monday-Friday 09:00-17:00
Europe/London, bank holidays of England from the `holidays` library. The
examples always include Easter, Christmas substitute days and both clock changes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dsr_shared.rules.area import Duration, load_profile
from dsr_shared.rules.working_time import WorkingCalendar

LONDON = ZoneInfo("Europe/London")
calendar = WorkingCalendar(load_profile("derbyshire").working_time)
BANK_HOLIDAYS = holidays.country_holidays("GB", subdiv="ENG", years=range(2025, 2029))
MINUTE = timedelta(minutes=1)


def is_working_minute(local: datetime) -> bool:
    return local.weekday() < 5 and local.date() not in BANK_HOLIDAYS and 9 <= local.hour < 17


def reference(start: datetime, minutes: int) -> datetime:
    """Walk the wall clock a minute at a time, counting working minutes.
    Working hours never contain the small hours when the clocks change, so
    walking local wall time is exact."""
    cursor = start.astimezone(LONDON).replace(tzinfo=None, second=0, microsecond=0)
    if start.astimezone(LONDON).second or start.microsecond:
        cursor += MINUTE
    while not is_working_minute(cursor):
        cursor += MINUTE
    counted = 0
    while counted < minutes:
        if is_working_minute(cursor):
            counted += 1
        cursor += MINUTE
    return cursor.replace(tzinfo=LONDON)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)


starts = st.datetimes(
    min_value=datetime(2025, 12, 1), max_value=datetime(2027, 12, 31), timezones=st.just(timezone.utc)
).map(lambda d: d.replace(second=0, microsecond=0))


@settings(max_examples=300, deadline=None)
@given(start=starts, minutes=st.integers(min_value=1, max_value=72 * 60))
@example(start=local(2026, 4, 2, 15, 30), minutes=120)  # Maundy Thursday: Good Friday, Easter Monday
@example(start=local(2027, 3, 25, 16, 0), minutes=72 * 60)  # Easter 2027, 72 working hours (R-OB-1)
@example(start=local(2027, 12, 24, 12, 0), minutes=10 * 8 * 60)  # Christmas 2027: substitute days 27, 28
@example(start=local(2026, 12, 24, 16, 0), minutes=60)  # Boxing Day (observed) Monday 28 December 2026
@example(start=local(2026, 3, 27, 16, 0), minutes=120)  # clocks go forward on Sunday 29 March 2026
@example(start=local(2026, 10, 23, 16, 0), minutes=120)  # clocks go back on Sunday 25 October 2026
@example(start=local(2026, 3, 29, 1, 30), minutes=60)  # 01:30 does not exist that night (clocks go forward)
@example(start=local(2026, 10, 25, 1, 30), minutes=60)  # 01:30 happens twice that night (clocks go back)
def test_working_hours_match_the_minute_by_minute_reference(start, minutes):
    assert calendar.add_working_time(start, timedelta(minutes=minutes)) == reference(start, minutes)


@settings(max_examples=200, deadline=None)
@given(start=starts, days=st.integers(min_value=1, max_value=15))
@example(start=local(2027, 12, 23, 10, 0), days=10)  # R-OB-3 over Christmas 2027
@example(start=local(2026, 10, 22, 9, 0), days=10)  # R-OB-5 across the October clock change
def test_working_days_are_eight_working_hours_each(start, days):
    deadline = calendar.deadline(start, Duration(amount=days, unit="working_days"))
    assert deadline == reference(start, days * 8 * 60)


@settings(max_examples=200, deadline=None)
@given(start=starts)
def test_a_deadline_is_always_inside_working_hours_and_never_before_the_start(start):
    deadline = calendar.deadline(start, Duration(amount=72, unit="working_hours"))
    wall = deadline.astimezone(LONDON)
    assert deadline > start
    assert wall.weekday() < 5 and wall.date() not in BANK_HOLIDAYS
    assert (9, 0) < (wall.hour, wall.minute) <= (17, 0)


@settings(max_examples=200, deadline=None)
@given(start=starts, minutes=st.integers(min_value=1, max_value=5 * 8 * 60))
def test_subtracting_working_time_undoes_adding_it(start, minutes):
    deadline = calendar.add_working_time(start, timedelta(minutes=minutes))
    back = calendar.subtract_working_time(deadline, timedelta(minutes=minutes))
    # Back to the start, or to where its clock started (a start outside working hours).
    assert back == calendar.add_working_time(start, timedelta(0)) or back.astimezone(LONDON).hour == 17
    assert calendar.add_working_time(back, timedelta(minutes=minutes)) == deadline
