"""Working-time deadlines (docs/RULES.md "Obligations"; R-OB-1, R-OB-5), by
example; test_working_time_properties.py checks them against a
minute-by-minute reference."""

from datetime import datetime
from zoneinfo import ZoneInfo

from dsr_shared.rules.area import Duration, load_profile
from dsr_shared.rules.working_time import WorkingCalendar

LONDON = ZoneInfo("Europe/London")
calendar = WorkingCalendar(load_profile("derbyshire").working_time)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)


def test_r_ob_1_72_working_hours_from_a_monday_morning_is_nine_working_days_later():
    assert calendar.deadline(at(2026, 11, 2, 9), Duration(amount=72, unit="working_hours")) == at(2026, 11, 12, 17)


def test_a_clock_started_on_a_saturday_starts_on_monday_at_nine():
    assert calendar.deadline(at(2026, 11, 21, 14), Duration(amount=8, unit="working_hours")) == at(2026, 11, 23, 17)


def test_easter_good_friday_and_easter_monday_are_skipped():
    # Thursday 2 April 2026, 16:00 + 2 working hours: Good Friday and Easter Monday are bank holidays.
    assert calendar.deadline(at(2026, 4, 2, 16), Duration(amount=2, unit="working_hours")) == at(2026, 4, 7, 10)


def test_r_ob_5_ten_working_days_across_the_october_clock_change():
    # Clocks go back on Sunday 25 October 2026; deadlines stay at local working times.
    due = calendar.deadline(at(2026, 10, 22, 11), Duration(amount=10, unit="working_days"))
    assert due == at(2026, 11, 5, 11)
    assert due.utcoffset().total_seconds() == 0
