"""R-ID-1: the register identifier. Random (so it says nothing of the NHS
number), short, in Crockford base32 (no I, L, O, U: easy to read aloud and
type), with the area code in front and a check character at the end that
catches a mistyped character or two swapped neighbours (but for the one swap
Luhn cannot see: the alphabet's first and last characters, 0 and Z).
Form: QJ2-7KD4-X9MQ-R (area, 8 random characters, check)."""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def check_character(body: str) -> str:
    """Luhn mod 32: catches every single wrong character and every swap of
    two neighbouring characters except 0Z/Z0 (Luhn's blind spot: both weigh
    the same in either place). Changing the algorithm would change the check
    character of every identifier already issued."""
    n = len(ALPHABET)
    total, factor = 0, 2
    for ch in reversed(body):
        addend = factor * ALPHABET.index(ch)
        total += addend // n + addend % n
        factor = 1 if factor == 2 else 2
    return ALPHABET[(n - total % n) % n]


def new_register_id(area_code: str) -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(8))
    return f"{area_code}-{body[:4]}-{body[4:]}-{check_character(body)}"


def is_valid_register_id(register_id: str) -> bool:
    parts = register_id.upper().split("-")
    if len(parts) != 4 or len(parts[1] + parts[2]) != 8:
        return False
    body = parts[1] + parts[2]
    return all(ch in ALPHABET for ch in body) and check_character(body) == parts[3]
