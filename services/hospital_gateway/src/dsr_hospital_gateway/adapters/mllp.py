"""The MLLP listener (the `hl7` package's asyncio server), optionally over
TLS. One frame in, one ACK out, per connection in turn; many connections at
once. A frame that is cut short, too large or not framed closes the
connection (the sender resends); the listener goes on."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from asyncio import AbstractServer
from collections.abc import Awaitable, Callable

import structlog
from hl7.mllp import InvalidBlockError, start_hl7_server

from dsr_hospital_gateway.metrics import MESSAGES, REFUSALS
from dsr_hospital_gateway.settings import GatewaySettings

log = structlog.get_logger()

Answer = Callable[[bytes, str], Awaitable[bytes]]


def tls_context(settings: GatewaySettings) -> ssl.SSLContext | None:
    if not settings.mllp_tls_cert_file:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.mllp_tls_cert_file, settings.mllp_tls_key_file)
    if settings.mllp_tls_client_ca_file:
        context.load_verify_locations(settings.mllp_tls_client_ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


async def listen(answer: Answer, settings: GatewaySettings) -> AbstractServer:
    """Bound now (a port already taken fails the start), serving once started."""

    async def connected(reader, writer) -> None:
        peer = writer.get_extra_info("peername")
        peer_host = str(peer[0]) if peer else "?"
        try:
            while True:
                block = await _next_block(reader, settings.mllp_idle_seconds)
                if block is None:
                    return
                writer.writeblock(await answer(block, peer_host))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        except Exception as exc:  # noqa: BLE001 - one connection's failure never stops the listener
            log.error("mllp connection failed", error=type(exc).__name__, peer=peer_host)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    return await start_hl7_server(
        connected,
        settings.mllp_host,
        settings.mllp_port,
        limit=settings.mllp_max_frame_bytes,
        ssl=tls_context(settings),
        start_serving=False,
    )


async def _next_block(reader, idle_seconds: float) -> bytes | None:
    """The next frame; None when the connection should close."""
    try:
        return await asyncio.wait_for(reader.readblock(), idle_seconds)
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            _not_read("truncated_frame")
        return None
    except TimeoutError:
        return None
    except InvalidBlockError:
        _not_read("not_framed")
        return None
    except ValueError:  # over the limit
        _not_read("frame_too_large")
        return None


def _not_read(reason: str) -> None:
    MESSAGES.labels("mllp", "?", "not_read").inc()
    REFUSALS.labels("mllp", reason).inc()
    log.warning("mllp frame not read; connection closed", reason=reason)


async def serve(server: AbstractServer, settings: GatewaySettings) -> None:
    async with server:
        log.info("mllp listening", mllp_port=settings.mllp_port, tls=bool(settings.mllp_tls_cert_file))
        await server.serve_forever()
