"""When a person came onto the register and left it, as the rating service's
newest timeline says (RatingChanged and PersonRemoved carry it whole, with
its version). This service keeps only those moves: enough to tell whether the
person is on the register now (a late fact can make a removal untrue) and
whether they were at a given time (R-ELIG-4 asks it of a discharge). Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from dsr_shared.contract.events.ratings import Transition


@dataclass(frozen=True)
class Move:
    at: datetime
    on_register: bool  # True: came onto the register; False: left it


def register_moves(timeline: Iterable[Transition]) -> list[Move]:
    """The timeline's entries (from no rating) and exits (to none), in time order."""
    ordered = sorted(timeline, key=lambda t: (t.at, str(t.transition_id)))
    return [Move(t.at, t.to_rating is not None) for t in ordered if t.from_rating is None or t.to_rating is None]


def on_register_at(moves: Sequence[Move], at: datetime) -> bool:
    """Whether the person was on the register at `at`: the last move at or
    before it says (none: not referred yet)."""
    before = [m for m in moves if m.at <= at]
    return bool(before) and before[-1].on_register


def on_register_now(moves: Sequence[Move]) -> bool:
    return bool(moves) and moves[-1].on_register
