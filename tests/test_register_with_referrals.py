"""The register and the referral service together: a removed person returns
only through a new referral, under the same register id (R-RAG-6, R-ID-1);
a discharged person not on the register is referred automatically and rated
amber, with the discharge on their record (R-ELIG-4, R-RAG-4)."""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
from aiokafka import AIOKafkaProducer

from dsr_shared.platform.auth import Role
from dsr_shared.rules.area import load_profile
from dsr_testing.support import auth, enveloped, eventually, referral_body

HASH_KEY = "journey-hash-key"
TEAM = auth(Role.DSR_TEAM, subject="dsr.team@example.org")


async def test_removed_people_return_through_a_new_referral_and_discharges_refer_the_unknown(
    service_process, infra, isolation
):
    env = {"DSR_AREA_PROFILE": "staffordshire", "DSR_NHS_HASH_KEY": HASH_KEY}
    referral = service_process("referral", **env)
    rating = service_process("rating", **env)
    async with httpx.AsyncClient(timeout=30) as http:
        body = referral_body(nhs_number="9434765919", postcode="ST4 6QG", rating="amber")
        first = await http.post(f"{referral.url}/referrals", json=body, headers=auth(Role.REFERRER))
        register_id = first.json()["register_id"]

        async def person():
            answer = await http.get(f"{rating.url}/register/{register_id}", headers=TEAM)
            return answer.json() if answer.status_code == 200 else None

        assert (await eventually(person))["rating"] == "amber"
        removed = await http.post(
            f"{rating.url}/register/{register_id}/removal", json={"reason": "Settled."}, headers=TEAM
        )
        assert removed.status_code == 200
        refused = await http.post(
            f"{rating.url}/register/{register_id}/rating",
            json={"rating": "red", "rationale": "Crisis.", "agreed_with_person": True},
            headers=TEAM,
        )
        assert [r["code"] for r in refused.json()["reasons"]] == ["R-RAG-6.removed"]

        async def referred_again():
            again = referral_body(nhs_number="9434765919", postcode="ST4 6QG", rating="red")
            answer = await http.post(f"{referral.url}/referrals", json=again, headers=auth(Role.REFERRER))
            return answer.json() if answer.json()["outcome"] == "accepted" else None

        back = await eventually(referred_again)  # once the referral service has heard of the removal
        assert back["register_id"] == register_id

        async def on_again():
            view = await person()
            return view if view["status"] == "on_register" else None

        view = await eventually(on_again)
        assert view["rating"] == "red"
        assert [(h["from_rating"], h["to_rating"], h["cause"]) for h in view["history"]] == [
            (None, "amber", "referral"),
            ("amber", None, "removal"),
            (None, "red", "referral"),
        ]

        # R-ELIG-4: a discharge of someone not on the register.
        producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            data = {
                "nhs_number": "9434765870",
                "discharged_at": datetime.now(timezone.utc).isoformat(),
                "hospital_ods_code": "RRE",
            }
            message = enveloped("Discharged", data, area=load_profile("staffordshire").code)
            await producer.send_and_wait(f"{isolation}.dsr.hospital.discharges", message, key=b"9434765870")
        finally:
            await producer.stop()

        async def automatic():
            listing = await http.get(f"{rating.url}/register", headers=TEAM)
            others = [p for p in listing.json()["people"] if p["register_id"] != register_id]
            return others and (await http.get(f"{rating.url}/register/{others[0]['register_id']}", headers=TEAM)).json()

        referred = await eventually(automatic)
        assert referred["rating"] == "amber" and referred["cohort"] == "unknown"
        assert referred["history"][0]["changed_by"] == "system:discharge"
        assert await eventually(lambda: _discharge_recorded(http, rating.url, referred["register_id"])), (
            "the discharge that referred them is on their record"
        )


async def _discharge_recorded(http: httpx.AsyncClient, url: str, register_id: str) -> bool:
    view = (await http.get(f"{url}/register/{register_id}", headers=TEAM)).json()
    return [e["kind"] for e in view["hospital_events"]] == ["discharge"]
