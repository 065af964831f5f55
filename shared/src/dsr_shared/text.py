"""Free text in request bodies, as the schema says and the services enforce
alike: at least one character that is not white space, at most `max_length`
characters as sent (so a document and its check never disagree), then
trimmed."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, StringConstraints


def text(max_length: int) -> type[str]:
    return Annotated[  # type: ignore[return-value]
        str, StringConstraints(min_length=1, max_length=max_length, pattern=r"\S"), AfterValidator(str.strip)
    ]
