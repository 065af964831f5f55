"""A referral in progress travels with its pages, sealed: each page's form
carries the answers so far encrypted and bound to the session (Fernet:
AES with an HMAC), so a draft with a person's name is never kept by this
service, nor put in a cookie or a URL, and a draft from another session or
older than the session's lifetime is refused."""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken


class Drafts:
    def __init__(self, secret: str, lifetime_seconds: int) -> None:
        key = hashlib.sha256(b"dsr-web-referral-draft:" + secret.encode()).digest()
        self.fernet = Fernet(base64.urlsafe_b64encode(key))
        self.lifetime = lifetime_seconds

    def seal(self, answers: dict[str, str], session_key: str) -> str:
        return self.fernet.encrypt(json.dumps({"s": session_key, "a": answers}).encode()).decode()

    def open(self, sealed: str | None, session_key: str) -> dict[str, str]:
        """The answers; empty for a missing, tampered, expired or foreign draft."""
        if not sealed:
            return {}
        try:
            held = json.loads(self.fernet.decrypt(sealed.encode(), ttl=self.lifetime))
        except (InvalidToken, ValueError):
            return {}
        if held.get("s") != session_key:
            return {}
        return {str(k): str(v) for k, v in held.get("a", {}).items()}
