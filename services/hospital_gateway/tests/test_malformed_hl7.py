"""What a trust's feed may get wrong never stops the listener: frames that are
not HL7, hypothesis-generated segments, wrong encoding characters, a missing
PID, an invalid NHS number, truncated frames and a 10 MB frame each get an
AE/AR or a closed connection, and a valid message sent right after is
acknowledged AA. Unparseable frames are kept for the operations role only,
and nothing of their content reaches the logs."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsr_shared.platform.auth import Role
from dsr_hospital_gateway.samples import Ack, adt
from dsr_testing.support import auth

NHS_NUMBER = "9434765919"
START, END = b"\x0b", b"\x1c\x0d"


def framed(text: str | bytes) -> bytes:
    return START + (text.encode("utf-8") if isinstance(text, str) else text) + END


def valid() -> str:
    return adt("A01", NHS_NUMBER, at=datetime.now(timezone.utc), admitted_at=datetime.now(timezone.utc))


async def answer_or_close(gateway, frame: bytes) -> str:
    """The ACK code for one raw frame on a fresh connection, or "closed"."""
    async with gateway.sender() as sender:
        try:
            return Ack.of(await sender.send_raw(frame)).code
        except (asyncio.IncompleteReadError, ConnectionError):
            return "closed"


async def still_listening(gateway) -> None:
    [ack] = await gateway.send(valid())
    assert ack.code == "AA", ack.raw


SEGMENT_IDS = st.sampled_from(["MSH", "EVN", "PID", "PV1", "MRG", "ZMH", "XXX", "PI", ""])
FIELD = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
SEGMENTS = st.lists(st.builds(lambda s, fs: "|".join([s, *fs]), SEGMENT_IDS, st.lists(FIELD, max_size=12)), max_size=6)


async def test_bad_frames_are_answered_or_closed_and_the_listener_goes_on(hospital_gateway):
    gateway = await hospital_gateway(DSR_MLLP_MAX_FRAME_BYTES="1048576")
    header = "MSH|^~\\&|PAS|RXM|DSR|DSR|20260105103000||ADT^A01^ADT_A01|BAD-{}|P|2.4"
    body = valid().split("\r", 1)[1]
    cases = {
        "not hl7": framed("hello, this is not HL7"),
        "wrong encoding characters": framed(valid().replace("MSH|^~\\&|", "MSH|#!?@|", 1)),
        "not utf-8": framed(valid().encode("utf-8").replace(b"Testperson", b"Test\xff\xfeperson")),
        "missing PID": framed("\r".join(s for s in valid().split("\r") if not s.startswith("PID"))),
        "invalid NHS number": framed(valid().replace(f"{NHS_NUMBER}^^^NHS", "9434765918^^^NHS")),
        "no NHS number": framed(valid().replace(f"{NHS_NUMBER}^^^NHS^NH", "123456^^^RXM^MR")),
        "version 2.3": framed(header.format(1).replace("|2.4", "|2.3") + "\r" + body),
        "training message": framed(header.format(2).replace("|P|", "|T|") + "\r" + body),
        "unsupported event": framed(valid().replace("ADT^A01^ADT_A01", "ADT^A04^ADT_A01", 1)),
        "not framed": b"MSH|^~\\&|no start block" + END,
    }
    expected = {
        "not hl7": "AR",
        "wrong encoding characters": {"AR", "AE"},
        "not utf-8": "AR",
        "missing PID": "AE",
        "invalid NHS number": "AE",
        "no NHS number": "AE",
        "version 2.3": "AR",
        "training message": "AR",
        "unsupported event": "AR",
        "not framed": "closed",
    }
    for name, frame in cases.items():
        got = await answer_or_close(gateway, frame)
        wanted = expected[name]
        assert got in (wanted if isinstance(wanted, set) else {wanted}), (name, got)
        await still_listening(gateway)

    # A frame cut short (the sender drops the connection) and a 10 MB frame.
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.mllp_port)
    writer.write(START + valid().encode()[:60])
    await writer.drain()
    writer.close()
    await still_listening(gateway)
    huge = framed("MSH|^~\\&|PAS|RXM|DSR|DSR|20260105||ADT^A01^ADT_A01|HUGE|P|2.4\rZZZ|" + "x" * 10_000_000)
    assert await answer_or_close(gateway, huge) == "closed"
    await still_listening(gateway)

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(SEGMENTS, st.booleans())
    def generated(segments: list[str], with_header: bool) -> None:
        text = "\r".join(([header.format("GEN")] if with_header else []) + segments)
        code = asyncio.run_coroutine_threadsafe(answer_or_close(gateway, framed(text)), loop).result(120)
        assert code in {"AA", "AE", "AR", "closed"}

    loop = asyncio.get_running_loop()
    await asyncio.to_thread(generated)
    await still_listening(gateway)

    # Unparseable frames are kept for the operations role only, with the reason.
    async with httpx.AsyncClient(timeout=30) as http:
        assert (await http.get(f"{gateway.url}/quarantine", headers=auth(Role.DSR_TEAM))).status_code == 403
        assert (await http.get(f"{gateway.url}/quarantine")).status_code == 401
        listing = (await http.get(f"{gateway.url}/quarantine", headers=auth(Role.OPS))).json()["messages"]
        reasons = {m["reason"] for m in listing}
        assert {"no_msh", "not_text"} <= reasons, reasons
        kept = next(m for m in listing if m["reason"] == "not_text")
        assert "content" not in kept
        read = await http.get(f"{gateway.url}/quarantine/{kept['quarantine_id']}", headers=auth(Role.OPS))
        assert "Test" in read.json()["content"]
        assert (
            await http.delete(f"{gateway.url}/quarantine/{kept['quarantine_id']}", headers=auth(Role.OPS))
        ).status_code == 204
        metrics = (await http.get(f"{gateway.url}/metrics")).text
        assert 'dsr_gateway_refusals_total{channel="mllp",reason="frame_too_large"}' in metrics

    log = gateway.process.log_file.read_text()
    assert "Testperson" not in log and NHS_NUMBER not in log and "9434765918" not in log
