"""What each service costs the machine when nothing happens (issue 16): resident
memory once started and idle, the CPU it uses while idle over a while, and
the time from a cold start to GET /health/ready answering 200.

The four services as processes on a real Kafka and SecantusDB (the test
suite's infrastructure and world), started one after the other as `make run`
does; nothing is sent to them. CPU is the process's user + system time from
/proc over the idle window, as a share of one core. The machine's load
average is printed beside the figures: on a busy machine the start times grow
with it.

    uv run python bench/footprint.py [--idle 60] [--profile derbyshire]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from harness import load_average, machine, register_infrastructure, running_world

TICKS = os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


async def measure(args, infra, identity, folder: Path) -> None:
    started_load = load_average()
    async with running_world(
        infra, identity, folder, args.profile, DSR_SWEEP_EVERY_SECONDS=str(args.sweep_every)
    ) as world:
        ready = {name: (p.timing.seconds if p.timing else float("nan")) for name, p in world.services.items()}
        pids = {name: p.pid for name, p in world.services.items()}
        await asyncio.sleep(args.settle)  # first sweeps, consumer group joins, index builds
        rss_idle = {name: rss_mb(pid) for name, pid in pids.items()}
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        loads, t0 = [], time.monotonic()
        while time.monotonic() - t0 < args.idle:
            loads.append(load_average())
            await asyncio.sleep(1)
        elapsed = time.monotonic() - t0
        cpu = {name: (cpu_seconds(pid) - cpu_before[name]) / elapsed * 100 for name, pid in pids.items()}
        rss_after = {name: rss_mb(pid) for name, pid in pids.items()}

    print()
    print(f"machine: {machine()}")
    print(
        f"load average: {started_load:.1f} while starting; {sum(loads) / len(loads):.1f} "
        f"(min {min(loads):.1f}, max {max(loads):.1f}) during the idle window of {elapsed:.0f}s"
    )
    print()
    print(f"{'service':<10} {'cold start to ready':>20} {'RSS idle':>10} {'RSS at end':>11} {'CPU idle':>14}")
    for name in world.services:
        print(
            f"{name:<10} {ready[name]:>18.1f} s {rss_idle[name]:>7.0f} MB {rss_after[name]:>8.0f} MB "
            f"{cpu[name]:>8.2f} % core"
        )
    print(
        "cold start: spawn to the first 200 from /health/ready (database and broker reachable, topics made, "
        f"consumer started); sweepers every {args.sweep_every:g} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle to measure CPU over")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds to wait after the start before measuring")
    parser.add_argument("--sweep-every", type=float, default=30.0, help="the sweepers' period (the services' default)")
    parser.add_argument("--profile", default="derbyshire", choices=["derbyshire", "staffordshire"])
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="dsr-footprint-"))
    with register_infrastructure(folder) as (infra, identity):
        asyncio.run(measure(args, infra, identity, folder / "world"))


if __name__ == "__main__":
    main()
