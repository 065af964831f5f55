"""HL7 v2 ADT through the hospital gateway (issue 17): messages acknowledged
per second, and the MLLP round trip (frame sent to ACK read) at p50 and p99,
beside a raw MLLP echo server measured in the same run as the baseline (the
cost of the framing, TCP and this client alone).

Each gateway message is parsed, validated against HL7 v2.4 (hl7apy), mapped
with the area's hospital feeds and, for a stay that matters, published to
Kafka with acks=all before the ACK; "not in scope" messages (a general ward)
are validated and acknowledged without a publish. The gateway runs as its
own process, as deployed.

Needs Kafka and MongoDB: the local ones (`python -m dsr_devstack up
--infra-only`), or DSR_KAFKA_BOOTSTRAP and DSR_MONGO_URI.

    uv run --frozen python bench/hl7_gateway.py [--messages 300] [--connections 1 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from hl7.mllp import start_hl7_server

from dsr_devstack import ServiceProcess, free_port
from dsr_hospital_gateway.samples import MllpSender, Stay, adt

COUNTED = Stay(site="RXM01", ward="WARD33")
GENERAL = Stay(site="RXM01", ward="GEN1", specialty="300")


def nhs_number(seed: int) -> str:
    while True:
        base = f"{(900000000 + seed * 7919) % 1000000000:09d}"
        check = 11 - sum(int(d) * w for d, w in zip(base, range(10, 1, -1), strict=True)) % 11
        if check != 10:
            return base + str(0 if check == 11 else check)
        seed += 1


def messages(count: int, stay: Stay, run: str) -> list[str]:
    at = datetime.now(timezone.utc)
    return [
        adt(
            "A01",
            nhs_number(i),
            stay=stay,
            at=at + timedelta(seconds=i),
            admitted_at=at + timedelta(seconds=i),
            control_id=f"{run}-{i:06d}",
        )
        for i in range(count)
    ]


async def drive(port: int, batch: list[str], connections: int) -> tuple[float, list[float], set[str]]:
    """Send `batch` over `connections` connections at once; (seconds, round trips, ACK codes)."""
    round_trips: list[float] = []
    codes: set[str] = set()
    shares = [batch[i::connections] for i in range(connections)]

    async def one(share: list[str]) -> None:
        async with MllpSender("127.0.0.1", port, timeout=120) as sender:
            for message in share:
                started = time.perf_counter()
                ack = await sender.send(message)
                round_trips.append(time.perf_counter() - started)
                codes.add(ack.code)

    started = time.perf_counter()
    await asyncio.gather(*(one(share) for share in shares))
    return time.perf_counter() - started, round_trips, codes


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def echo_server(port: int):
    async def echo(reader, writer) -> None:
        try:
            while True:
                writer.writeblock(await reader.readblock())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    return await start_hl7_server(echo, "127.0.0.1", port)


def gateway_process(workdir: Path, mllp_port: int) -> ServiceProcess:
    run = f"bench{uuid.uuid4().hex[:6]}"
    env = {
        "DSR_KAFKA_BOOTSTRAP": os.environ.get("DSR_KAFKA_BOOTSTRAP", "127.0.0.1:19092"),
        "DSR_MONGO_URI": os.environ.get(
            "DSR_MONGO_URI", "mongodb://127.0.0.1:27018/?replicaSet=secantus&retryWrites=false"
        ),
        "DSR_TOPIC_PREFIX": f"{run}.",
        "DSR_MONGO_DB": f"{run}_gateway",
        "DSR_AREA_PROFILE": "derbyshire",
        "DSR_MLLP_PORT": str(mllp_port),
        "DSR_LOG_LEVEL": "WARNING",
        # MLLP takes no token; development mode lets the HTTP side start without an identity service.
        "DSR_DEVELOPMENT_MODE": "true",
        "DSR_AUTH_ISSUER": "http://127.0.0.1:8005",
    }
    http_port = free_port()
    env["DSR_HTTP_PORT"] = str(http_port)
    return ServiceProcess(
        "hospital_gateway", "dsr_hospital_gateway", http_port, env, workdir / "gateway.log", start_timeout=180
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()
    rows: list[tuple[str, int, float, list[float]]] = []
    echo_port = free_port()
    server = await echo_server(echo_port)
    with tempfile.TemporaryDirectory() as workdir:
        gateway_port = free_port()
        gateway = gateway_process(Path(workdir), gateway_port)
        await asyncio.to_thread(gateway.start)
        try:
            await drive(gateway_port, messages(10, COUNTED, "warm"), 1)  # first publish, first validation
            for connections in args.connections:
                run = uuid.uuid4().hex[:6]
                for label, stay, tag in (
                    ("gateway, published (acks=all)", COUNTED, "P"),
                    ("gateway, not in scope", GENERAL, "N"),
                ):
                    seconds, trips, codes = await drive(
                        gateway_port, messages(args.messages, stay, f"{run}{tag}"), connections
                    )
                    assert codes == {"AA"}, codes
                    rows.append((label, connections, seconds, trips))
                seconds, trips, _ = await drive(echo_port, messages(args.messages, COUNTED, run), connections)
                rows.append(("raw MLLP echo (baseline)", connections, seconds, trips))
        finally:
            await asyncio.to_thread(gateway.stop)
            server.close()
    print(f"{args.messages} ADT A01 messages per run")
    print(f"{'':32} | {'conns':>5} | {'acked/s':>8} | {'p50 ms':>8} | {'p99 ms':>8} | {'p50 x echo':>10}")
    echo = {c: statistics.median(t) for label, c, _, t in rows if label.startswith("raw")}
    for label, connections, seconds, trips in rows:
        p50 = percentile(trips, 50)
        print(
            f"{label:32} | {connections:>5} | {len(trips) / seconds:>8.1f} | {p50 * 1000:>8.2f} | "
            f"{percentile(trips, 99) * 1000:>8.2f} | {p50 / echo[connections]:>9.0f}x"
        )


if __name__ == "__main__":
    asyncio.run(main())
