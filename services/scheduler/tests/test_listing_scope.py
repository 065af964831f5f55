"""GET /obligations?people=…: only the people the list's scope admits. Pure."""

from __future__ import annotations

from dsr_scheduler.service import within_scope


def test_people_asked_for_are_kept_within_the_scope():
    assert within_scope(["B", "A", "B"], None) == ["A", "B"]  # the DSR team: everyone
    assert within_scope(["A", "B"], "B") == ["B"]
    assert within_scope(["A", "B"], {"$in": ["B", "C"]}) == ["B"]  # a referrer: theirs among them
    assert within_scope(["A"], {"$in": []}) == []
