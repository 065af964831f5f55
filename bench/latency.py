"""How long the register takes to act on a hospital admission, at a steady rate
(issue 16): the admission published → RatingChanged(blue) → the first
ObligationScheduled it causes, and → the admission email accepted by the SMTP
sink; p50/p95/p99, from Kafka timestamps (CreateTime, set by each producer)
and the sink's receive time (the Maildir file's time).

The whole stack as in production on one machine: the four services as
processes on a real Kafka and SecantusDB (the test suite's infrastructure and
world), for people already on the register (referred first, over HTTP; the
measurement starts once every service has caught up). Beside it, in the same
run, the raw floor: one produce→consume hop with acks=all plus one indexed
upsert on the same database, measured while the system is quiet and again
during the admissions. Each hop is then given as a ratio to the floor.

Each service logs every handled event with its duration: the same run prints
the handlers' time per event type during the admissions (where the time goes).

    uv run python bench/latency.py [--rate 20] [--duration 60] [--profile derbyshire]
"""

from __future__ import annotations

import argparse
import asyncio
import email.parser
import email.policy
import json
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

from harness import (
    Floor,
    LoadSampler,
    load_average,
    machine,
    register_infrastructure,
    running_world,
    summary,
    wait_until_quiet,
)

from dsr_shared.contract.envelope import new_envelope
from dsr_testing.support import TopicReader


class Mailbox:
    """The sink's Maildir, read incrementally: headers only, once per file."""

    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir
        self.seen: dict[str, tuple[float, str | None, str | None]] = {}
        self._parser = email.parser.BytesHeaderParser(policy=email.policy.default)

    def scan(self) -> int:
        for sub in ("new", "cur"):
            folder = self.maildir / sub
            if not folder.is_dir():
                continue
            for f in folder.iterdir():
                if f.name in self.seen:
                    continue
                with open(f, "rb") as fh:
                    head = self._parser.parse(fh)
                self.seen[f.name] = (f.stat().st_mtime_ns / 1e6, head["X-DSR-Register-Id"], head["X-DSR-Kind"])
        return len(self.seen)

    def received(self, kind: str) -> dict[str, float]:
        """register id → when the first email of this kind for them arrived (epoch ms)."""
        out: dict[str, float] = {}
        for at, register_id, k in self.seen.values():
            if k == kind and register_id and (register_id not in out or at < out[register_id]):
                out[register_id] = at
        return out


async def refer_everyone(world, count: int, concurrency: int = 6) -> dict[str, str]:
    """NHS number → register id, for `count` people referred amber."""
    gate = asyncio.Semaphore(concurrency)
    people: dict[str, str] = {}

    async def one() -> None:
        async with gate:
            nhs = world.new_nhs_number()
            answer = await world.refer(nhs, "amber")
            people[nhs] = answer.get("register_id") or await world.register_id_of(nhs)

    await asyncio.gather(*(one() for _ in range(count)))
    return people


def events_by_person(reader: TopicReader, topic: str, event_type: str) -> dict[str, list[tuple[float, dict]]]:
    found: dict[str, list[tuple[float, dict]]] = defaultdict(list)
    for record in reader.on(topic):
        try:
            body = json.loads(record.value)
        except ValueError:
            continue
        if body.get("event_type") == event_type:
            found[body["data"]["register_id"]].append((record.timestamp, body["data"]))
    return found


def handler_times(log_files: dict[str, Path], since: datetime, until: datetime) -> dict[tuple[str, str], list[float]]:
    """(service, event type) → the handler's durations (ms) logged in the window."""
    out: dict[tuple[str, str], list[float]] = defaultdict(list)
    for service, path in log_files.items():
        for line in path.read_text(errors="replace").splitlines():
            if '"event handled"' not in line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            at = datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00"))
            if since <= at <= until:
                out[(service, entry.get("event_type", "?"))].append(entry["duration_ms"])
    return out


def row(name: str, s: dict, floor: dict | None) -> str:
    text = f"{name:<44} {s['n']:>5} {s['p50']:>9.0f} {s['p95']:>9.0f} {s['p99']:>9.0f}"
    if floor:
        text += f"   {s['p50'] / floor['p50']:>6.1f}x {s['p99'] / floor['p99']:>6.1f}x"
    return text


async def measure(args, infra, identity, folder: Path) -> None:
    async with running_world(infra, identity, folder, args.profile) as world:
        prefix = world.prefix
        groups = [f"{prefix}dsr-{s}" for s in ("rating", "scheduler", "notifier")]
        mailbox = Mailbox(world.smtp.maildir)
        count = round(args.rate * args.duration)
        reader = TopicReader(infra.kafka_bootstrap, f"{prefix}dsr.ratings", f"{prefix}dsr.obligations")
        await reader.__aenter__()
        try:
            print(f"referring {count} people (load average {load_average():.1f}) ...", flush=True)
            started = time.monotonic()
            people = await refer_everyone(world, count)
            waited = await wait_until_quiet(infra.kafka_bootstrap, groups, mailbox.scan, timeout=args.setup_timeout)
            print(
                f"  referred in {time.monotonic() - started - waited:.0f}s; every service caught up {waited:.0f}s later",
                flush=True,
            )

            async with Floor(infra.kafka_bootstrap, infra.mongo_uri) as floor:
                with LoadSampler() as quiet_load:
                    quiet_floor = await floor.run(args.floor_hops, args.floor_rate)
                print(f"floor while quiet: {len(quiet_floor)} hops (load average {quiet_load.describe()})", flush=True)

                print(f"admitting {count} people at {args.rate}/s for {args.duration}s ...", flush=True)
                admitted_at: dict[str, float] = {}
                window_start = datetime.now(timezone.utc)
                with LoadSampler() as busy_load:
                    busy_floor_task = asyncio.create_task(
                        floor.run(max(1, round(args.duration * args.floor_rate_under_load)), args.floor_rate_under_load)
                    )
                    sent = await admit_at_rate(world, people, args.rate, admitted_at)
                    busy_floor = await busy_floor_task
                    done = await wait_for_everyone(reader, mailbox, people, admitted_at, args.drain_timeout)
                window_end = datetime.now(timezone.utc)
        finally:
            await reader.__aexit__(None, None, None)

        report(
            args,
            people,
            admitted_at,
            reader,
            mailbox,
            quiet_floor,
            busy_floor,
            quiet_load,
            busy_load,
            sent,
            done,
            handler_times(
                {s: folder / f"{s}.log" for s in ("rating", "scheduler", "notifier")}, window_start, window_end
            ),
        )


async def admit_at_rate(world, people: dict[str, str], rate: float, admitted_at: dict[str, float]) -> float:
    """Publish one admission per person, evenly spaced; the achieved rate."""
    producer = world.feed.producer
    topic = f"{world.prefix}dsr.hospital.admissions"
    pending = []
    started = time.monotonic()
    for n, (nhs, register_id) in enumerate(people.items()):
        await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
        data = {
            "nhs_number": nhs,
            "admitted_at": datetime.now(timezone.utc).isoformat(),
            "hospital_ods_code": "RXM",
            "bed_type": "learning_disability",
            "secure": False,
            "legal_basis": "section_3",
        }
        envelope = new_envelope(
            event_type="Admitted",
            schema_version=1,
            occurred_at=datetime.now(timezone.utc),
            area=world.area.code,
            data=data,
            event_id=uuid.uuid4(),
        )
        future = await producer.send(topic, envelope.model_dump_json().encode(), key=nhs.encode())
        pending.append((register_id, future))
    for register_id, future in pending:
        admitted_at[register_id] = (await future).timestamp
    return len(pending) / (time.monotonic() - started)


async def wait_for_everyone(
    reader, mailbox: Mailbox, people: dict[str, str], admitted_at: dict[str, float], timeout: float
) -> bool:
    """Until every admitted person has their blue rating, an obligation and the email."""
    deadline = time.monotonic() + timeout
    wanted = set(people.values())
    while time.monotonic() < deadline:
        mailbox.scan()
        if wanted <= set(mailbox.received("admission")):
            blue = blue_ratings(reader, admitted_at)
            scheduled = first_scheduled(reader, admitted_at)
            if wanted <= set(blue) and wanted <= set(scheduled):
                return True
        await asyncio.sleep(1)
    return False


def blue_ratings(reader, admitted_at: dict[str, float]) -> dict[str, float]:
    out = {}
    for register_id, found in events_by_person(reader, reader_topic(reader, "dsr.ratings"), "RatingChanged").items():
        times = [t for t, data in found if data.get("to_rating") == "blue" and t >= admitted_at.get(register_id, 1e18)]
        if times:
            out[register_id] = min(times)
    return out


def first_scheduled(reader, admitted_at: dict[str, float]) -> dict[str, float]:
    out = {}
    for register_id, found in events_by_person(
        reader, reader_topic(reader, "dsr.obligations"), "ObligationScheduled"
    ).items():
        times = [t for t, _ in found if t >= admitted_at.get(register_id, 1e18)]
        if times:
            out[register_id] = min(times)
    return out


def reader_topic(reader: TopicReader, suffix: str) -> str:
    return next(t for t in reader.consumer.subscription() if t.endswith(suffix))


def report(
    args, people, admitted_at, reader, mailbox, quiet_floor, busy_floor, quiet_load, busy_load, sent, done, handlers
) -> None:
    blue = blue_ratings(reader, admitted_at)
    scheduled = first_scheduled(reader, admitted_at)
    emailed = mailbox.received("admission")
    ids = [rid for rid in people.values() if rid in admitted_at]

    def span(a: dict[str, float], b: dict[str, float]) -> list[float]:
        return [b[r] - a[r] for r in ids if r in a and r in b]

    floor_q, floor_b = summary(quiet_floor), summary(busy_floor)
    print()
    print(f"machine: {machine()}")
    print(
        f"admissions: {len(ids)} at {sent:.1f}/s (asked {args.rate}/s for {args.duration}s), profile {args.profile}; "
        f"load average while admitting {busy_load.describe()}, floor while quiet {quiet_load.describe()}"
    )
    if not done:
        print(
            f"NOT COMPLETE within {args.drain_timeout:.0f}s: blue {len(blue)}, scheduled {len(scheduled)}, "
            f"emailed {len(emailed)} of {len(ids)}"
        )
    print()
    print(f"{'latency (ms)':<44} {'n':>5} {'p50':>9} {'p95':>9} {'p99':>9}   {'p50/fl':>7} {'p99/fl':>7}")
    print(row("floor (hop + upsert), system quiet", floor_q, None))
    print(row("floor (hop + upsert), during admissions", floor_b, None))
    print(row("admission → RatingChanged(blue)", summary(span(admitted_at, blue)), floor_q))
    print(row("RatingChanged → first ObligationScheduled", summary(span(blue, scheduled)), floor_q))
    print(row("RatingChanged → admission email at the sink", summary(span(blue, emailed)), floor_q))
    print(row("admission → first ObligationScheduled", summary(span(admitted_at, scheduled)), floor_q))
    print(row("admission → admission email at the sink", summary(span(admitted_at, emailed)), floor_q))
    print(
        "ratios: to the floor measured while quiet (p50 to its p50, p99 to its p99); a hop through one service "
        "is one floor at best"
    )
    print()
    print(
        f"{'handler time during admissions (ms)':<44} {'n':>5} {'p50':>9} {'p95':>9} {'p99':>9}   {'p50/fl':>7} "
        f"{'total s':>7}"
    )
    for (service, event_type), values in sorted(handlers.items(), key=lambda kv: -sum(kv[1])):
        s = summary(values)
        print(
            f"{service + ' ' + event_type:<44} {s['n']:>5} {s['p50']:>9.0f} {s['p95']:>9.0f} {s['p99']:>9.0f}   "
            f"{s['p50'] / floor_q['p50']:>6.1f}x {sum(values) / 1000:>7.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0, help="admissions a second")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of admissions")
    parser.add_argument("--profile", default="derbyshire", choices=["derbyshire", "staffordshire"])
    parser.add_argument("--floor-hops", type=int, default=100, help="floor hops while quiet")
    parser.add_argument("--floor-rate", type=float, default=10.0, help="floor hops a second while quiet")
    parser.add_argument("--floor-rate-under-load", type=float, default=2.0, help="floor hops a second while admitting")
    parser.add_argument("--setup-timeout", type=float, default=1800.0, help="seconds for the referrals to settle")
    parser.add_argument("--drain-timeout", type=float, default=900.0, help="seconds for the last admission to finish")
    parser.add_argument("--keep", type=Path, help="a folder to keep the logs and mail in")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="dsr-latency-"))
    folder.mkdir(parents=True, exist_ok=True)
    with register_infrastructure(folder) as (infra, identity):
        asyncio.run(measure(args, infra, identity, folder / "world"))


if __name__ == "__main__":
    main()
