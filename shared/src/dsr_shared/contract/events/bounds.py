"""Maximum sizes of what events carry. Every text and list in an event is
bounded, so that the largest event there can be still fits in one Kafka
message (a test builds it: shared/tests/test_bounds.py). The HTTP request
models use the same bounds, so what a request may hold, its event can carry."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, StringConstraints

# Identifiers: register ids, ODS and ONS codes, rule ids, event type names.
Code = Annotated[str, StringConstraints(max_length=64)]
# A person's or organisation's name, a role, an address line, a title.
Name = Annotated[str, StringConstraints(max_length=200)]
# Who did something: the subject of a token (an email or an identity provider's id).
Subject = Annotated[str, StringConstraints(max_length=256)]
Phone = Annotated[str, StringConstraints(max_length=40)]
# A rationale, a reason, an outcome: what a person writes in a few paragraphs.
Text = Annotated[str, StringConstraints(max_length=4000)]
# The record's own words: an update, the current situation, the risks.
LongText = Annotated[str, StringConstraints(max_length=10000)]

# People around a person, actions of a meeting, reasons for a decision.
MAX_ITEMS = 50
MAX_REASONS = 50


def _cut_to(limit: int) -> Any:
    """Text a system writes: cut to `limit` characters, never refused."""

    def cut(value: Any) -> Any:
        return value[:limit] if isinstance(value, str) else value

    return Annotated[str, BeforeValidator(cut), StringConstraints(max_length=limit)]


# Why a referral was refused, in a sentence.
Sentence = _cut_to(1000)
# What a system says about a fault (a mail relay's answer).
ErrorText = _cut_to(2000)
