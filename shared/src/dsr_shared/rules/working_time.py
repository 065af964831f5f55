"""Deadlines in the area's working time (docs/RULES.md "Obligations"): Monday to
Friday, day_start to day_end, in the area's time zone, skipping its bank
holidays (from the `holidays` library). Arithmetic is done on local wall-clock
time, which is safe across clock changes because no working day contains the
small hours when clocks move. A clock started outside working hours starts at
the next working start."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
from dateutil.relativedelta import relativedelta

from dsr_shared.rules.area import Duration, WorkingTime


class WorkingCalendar:
    def __init__(self, settings: WorkingTime) -> None:
        self.zone = ZoneInfo(settings.timezone)
        self.day_start: time = settings.day_start
        self.day_end: time = settings.day_end
        self.holidays = holidays.country_holidays(settings.holiday_country, subdiv=settings.holiday_subdivision)
        start, end = (datetime.combine(date.min, t) for t in (self.day_start, self.day_end))
        self.working_day_length: timedelta = end - start

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.holidays

    def _next_working_start(self, day: date) -> datetime:
        day += timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return datetime.combine(day, self.day_start)

    def _clock_start(self, local: datetime) -> datetime:
        if not self.is_working_day(local.date()) or local.time() >= self.day_end:
            return self._next_working_start(local.date())
        if local.time() < self.day_start:
            return datetime.combine(local.date(), self.day_start)
        return local

    def add_working_time(self, at: datetime, amount: timedelta) -> datetime:
        cursor = self._clock_start(at.astimezone(self.zone).replace(tzinfo=None))
        remaining = amount
        while True:
            available = datetime.combine(cursor.date(), self.day_end) - cursor
            if remaining <= available:
                return (cursor + remaining).replace(tzinfo=self.zone)
            remaining -= available
            cursor = self._next_working_start(cursor.date())

    def _previous_working_end(self, day: date) -> datetime:
        day -= timedelta(days=1)
        while not self.is_working_day(day):
            day -= timedelta(days=1)
        return datetime.combine(day, self.day_end)

    def _clock_end(self, local: datetime) -> datetime:
        if not self.is_working_day(local.date()) or local.time() <= self.day_start:
            return self._previous_working_end(local.date())
        if local.time() > self.day_end:
            return datetime.combine(local.date(), self.day_end)
        return local

    def subtract_working_time(self, at: datetime, amount: timedelta) -> datetime:
        """The mirror of add_working_time: the working moment `amount` earlier."""
        cursor = self._clock_end(at.astimezone(self.zone).replace(tzinfo=None))
        remaining = amount
        while True:
            available = cursor - datetime.combine(cursor.date(), self.day_start)
            if remaining <= available:
                return (cursor - remaining).replace(tzinfo=self.zone)
            remaining -= available
            cursor = self._previous_working_end(cursor.date())

    def before(self, at: datetime, duration: Duration) -> datetime:
        """`duration` before `at` (a notice period before a deadline)."""
        unit, amount = duration.unit, duration.amount
        if unit == "working_hours":
            return self.subtract_working_time(at, timedelta(hours=amount))
        if unit == "working_days":
            return self.subtract_working_time(at, self.working_day_length * amount)
        local = at.astimezone(self.zone).replace(tzinfo=None)
        return (local - _calendar_step(unit, amount)).replace(tzinfo=self.zone)

    def deadline(self, at: datetime, duration: Duration) -> datetime:
        """When an obligation started at `at` with this `duration` falls due."""
        unit, amount = duration.unit, duration.amount
        if unit == "working_hours":
            return self.add_working_time(at, timedelta(hours=amount))
        if unit == "working_days":
            return self.add_working_time(at, self.working_day_length * amount)
        local = at.astimezone(self.zone).replace(tzinfo=None)
        return (local + _calendar_step(unit, amount)).replace(tzinfo=self.zone)


def _calendar_step(unit: str, amount: int) -> relativedelta:
    return {
        "calendar_days": relativedelta(days=amount),
        "weeks": relativedelta(weeks=amount),
        "months": relativedelta(months=amount),
    }[unit]
