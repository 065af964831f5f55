"""Request fields whose schema says exactly what the services enforce, so a
document and its check never disagree (the OpenAPI documents are tested
against the running services, schemathesis --checks all).

- Free text: at least one character that is not white space, at most
  `max_length` characters as sent, then trimmed.
- Dates and times: ISO 8601 text only. Pydantic would also read a number
  (or text that is one) as a Unix timestamp, which the schema does not allow.
- Work email addresses: as RFC 5322 has them, but not at the special-use
  domains of RFC 6761 (.test, .invalid, .local, .localhost, .onion, .arpa),
  which the email validator refuses since no mail can reach them."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, EmailStr, StringConstraints, WithJsonSchema

_NUMBER = re.compile(r"^\s*[+-]?\d+(\.\d*)?\s*$")


# White space as every engine that reads a pattern counts it: Python's
# str.isspace (what the trimming removes), Unicode's White_Space (the
# services' regex engine) and ECMA-262's \s (JSON Schema validators). Their
# \s differ (U+0085, U+001C..U+001F), so a pattern names them all.
WHITE_SPACE = r"\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"


def text(max_length: int) -> type[str]:
    return Annotated[  # type: ignore[return-value]
        str,
        StringConstraints(min_length=1, max_length=max_length, pattern=f"[^{WHITE_SPACE}]"),
        AfterValidator(str.strip),
    ]


# An identifier in a query (a register id, a UUID, an email address): printable ASCII, no space.
IDENTIFIER_PATTERN = r"^[\x21-\x7e]+$"


def _not_a_number(value: Any) -> Any:
    """A bare number, or text that is only one, is a mistake for a date, not a timestamp."""
    if (isinstance(value, (int, float)) and not isinstance(value, bool)) or (
        isinstance(value, str) and _NUMBER.match(value)
    ):
        raise ValueError("write a date as YYYY-MM-DD, a time as ISO 8601 with its offset")
    return value


IsoDate = Annotated[date, BeforeValidator(_not_a_number)]
IsoInstant = Annotated[AwareDatetime, BeforeValidator(_not_a_number)]

SPECIAL_USE_DOMAINS = ("test", "invalid", "local", "localhost", "onion", "arpa")
WorkEmail = Annotated[
    EmailStr,
    WithJsonSchema(
        {
            "type": "string",
            "format": "email",
            "maxLength": 254,
            "pattern": rf"^[^@\s]+@([^@\s.]+\.)+(?!({'|'.join(SPECIAL_USE_DOMAINS)})$)[^@\s.]+$",
        }
    ),
]
