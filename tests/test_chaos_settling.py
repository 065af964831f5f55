"""How the chaos run tells a slow register from a stuck one while it settles
(testing/src/dsr_testing/chaos.py): progress is any kind of waiting work going
down since the last look."""

from __future__ import annotations

from dsr_testing.chaos import drained


def test_a_queue_that_grew_after_settling_began_drains_as_it_goes_down():
    assert drained({"emails waiting": 6083}, {"emails waiting": 6001})
    assert drained({"notifier dsr.obligations": 12, "emails waiting": 40}, {"emails waiting": 45})  # lag gone


def test_nothing_going_down_is_no_progress():
    assert not drained({}, {"emails waiting": 5})
    assert not drained({"emails waiting": 5}, {"emails waiting": 5})
    assert not drained({"rating dsr.ratings": 3}, {"rating dsr.ratings": 3, "rating stalled": 1})
