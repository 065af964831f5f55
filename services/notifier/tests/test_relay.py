"""The notifier and a real aiosmtpd relay. As production has it: STARTTLS
(the certificate verified against a CA from settings) and a login, both
required; a recipient the relay refuses for good (550) is marked failed and
announced, stays visible, and can be retried; the rest is delivered. And a
notifier killed while sending: its emails go out once its lease has run out."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from email import message_from_bytes, policy
from pathlib import Path

import httpx
import pytest
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from dsr_shared.platform.auth import Role
from dsr_testing.notifier import ON_CALL, TEAM, area_profile_file, assert_names_no_one, register_id
from dsr_testing.support import auth, eventually

USER, PASSWORD = "dsr-notifier", "relay-password-for-tests"
REFUSED = "left.the.trust@example.org"


def certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made for this test."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make the test certificate")
    cert, key = directory / "relay.crt", directory / "relay.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


class Relay:
    """Takes mail only over TLS from a logged-in client; refuses REFUSED for good."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.logins: list[tuple[bool, bool]] = []

    def authenticate(self, server, session, envelope, mechanism, data) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (USER.encode(), PASSWORD.encode())
        self.logins.append((ok, session.ssl is not None))
        return AuthResult(success=ok)

    async def handle_RCPT(self, server, session, envelope, address, options) -> str:
        if address == REFUSED:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        self.received.append(
            {
                "to": envelope.rcpt_tos,
                "tls": session.ssl is not None,
                "authenticated": session.authenticated,
                "content": envelope.content,
            }
        )
        return "250 Message accepted for delivery"


async def test_starttls_login_and_a_recipient_refused_for_good(notifier_service, tmp_path):
    cert, key = certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    relay = Relay()
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(
            relay,
            hostname="localhost",
            tls_context=context,
            require_starttls=True,
            authenticator=relay.authenticate,
            auth_required=True,
            auth_require_tls=True,
        ),
        "127.0.0.1",
        0,
    )
    port = server.sockets[0].getsockname()[1]
    try:
        profile = area_profile_file(tmp_path, escalation_contacts=[ON_CALL, REFUSED])
        svc = await notifier_service(
            smtp_port=port,
            DSR_AREA_PROFILE=str(profile),
            DSR_SMTP_STARTTLS="true",
            DSR_SMTP_USERNAME=USER,
            DSR_SMTP_PASSWORD=PASSWORD,
            DSR_SMTP_CA_FILE=str(cert),
        )
        rid = register_id()
        escalation = await svc.rated(rid, "red")

        async def settled():
            found = await svc.notifications(source_event_id=str(escalation.event_id))
            states = {n["recipient"]: n["state"] for n in found}
            return states if states == {TEAM: "sent", ON_CALL: "sent", REFUSED: "failed"} else None

        await eventually(settled, timeout=60)
        assert sorted(tuple(r["to"]) for r in relay.received) == sorted([(ON_CALL,), (TEAM,)])
        assert all(r["tls"] and r["authenticated"] for r in relay.received)
        assert relay.logins and all(ok and tls for ok, tls in relay.logins)
        assert_names_no_one([message_from_bytes(r["content"], policy=policy.default) for r in relay.received])

        [refused] = await svc.notifications(recipient=REFUSED)
        assert refused["last_error"].startswith("550") and refused["attempts"] == 1

        def failures():
            return [e["data"] for e in svc.published("NotificationFailed").values()]

        [failure] = await eventually(failures, timeout=30)
        assert failure["permanent"] is True and failure["recipient"] == REFUSED and failure["register_id"] == rid

        # Kept visible; someone can send it again (it fails again here: the relay still refuses it).
        async with httpx.AsyncClient(timeout=10) as http:
            retry = f"{svc.url}/notifications/{refused['notification_id']}/retry"
            again = await http.post(retry, headers=auth(Role.DSR_TEAM))
            assert again.status_code == 200 and again.json()["state"] == "pending"
            await eventually(lambda: len(failures()) == 2, timeout=30)
            [sent, *_] = await svc.notifications(recipient=TEAM)
            not_failed = await http.post(
                f"{svc.url}/notifications/{sent['notification_id']}/retry", headers=auth(Role.OPS)
            )
            assert not_failed.status_code == 409
            unknown = await http.post(f"{svc.url}/notifications/nothing-here/retry", headers=auth(Role.OPS))
            assert unknown.status_code == 404
            referrer = await http.post(retry, headers=auth(Role.REFERRER))
            assert referrer.status_code == 403
        assert len(relay.received) == 2
    finally:
        server.close()
        await server.wait_closed()


class StallingRelay:
    """Holds the first message unanswered (as if the relay were slow) until told
    to refuse it; takes every later one."""

    def __init__(self) -> None:
        self.arrived, self.release = asyncio.Event(), asyncio.Event()
        self.tries = 0
        self.accepted: list[bytes] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.tries += 1
        if self.tries == 1:
            self.arrived.set()
            await self.release.wait()
            return "451 4.3.0 Try again later"
        self.accepted.append(envelope.original_content)
        return "250 Message accepted for delivery"


async def test_a_notifier_killed_while_sending_sends_once_its_lease_has_run_out(notifier_service):
    relay = StallingRelay()
    server = await asyncio.get_running_loop().create_server(lambda: SMTP(relay, hostname="localhost"), "127.0.0.1", 0)
    try:
        svc = await notifier_service(smtp_port=server.sockets[0].getsockname()[1], DSR_SMTP_LEASE_SECONDS="3")
        escalation = await svc.rated(register_id(), "red")  # two emails, claimed together
        await asyncio.wait_for(relay.arrived.wait(), 60)
        svc.process.kill()  # SIGKILL with the first email unanswered
        relay.release.set()
        svc.process.start()

        async def delivered():
            found = await svc.notifications(source_event_id=str(escalation.event_id))
            return found if len(found) == 2 and all(n["state"] == "sent" for n in found) else None

        found = await eventually(delivered, timeout=60)
        assert {n["recipient"] for n in found} == {TEAM, ON_CALL}
        assert len(relay.accepted) == 2, "an email was lost or sent twice"
        messages = [message_from_bytes(m, policy=policy.default) for m in relay.accepted]
        assert len({m["Message-ID"] for m in messages}) == 2
        assert all(n["attempts"] == 2 for n in found)  # claimed by the killed process, then by the new one
    finally:
        relay.release.set()
        server.close()
        await server.wait_closed()
