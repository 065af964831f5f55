"""A keyed hash of the NHS number. The referral service puts it on
ReferralAccepted; the rating service hashes the NHS number of a hospital event
with the same key to find the person, so it never has to store NHS numbers.
Without the key the hash cannot be reversed by trying all 10-digit numbers."""

from __future__ import annotations

import hashlib
import hmac


def nhs_number_hash(key: str, nhs_number: str) -> str:
    digits = "".join(ch for ch in nhs_number if ch.isdigit())
    return hmac.new(key.encode(), digits.encode(), hashlib.sha256).hexdigest()
