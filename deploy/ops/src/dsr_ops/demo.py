"""`dsr demo`: a living register of fictional people for a local stack, so a
new user sees ratings, history, what is due and requests waiting at once.

Everything goes through the services' own doors: the demo personas sign in
at the local OpenID provider (its sign-in form accepts any listed subject;
there is no such door on a real provider) and exchange their ID token at the
identity service; referrals, rating changes, updates and removals go to the
services' HTTP APIs with those tokens, and admissions and discharges to the
hospital topics as a hospital would send them. Names come from a short list
of invented ones and NHS numbers from the 999 range, which is never issued;
running it again skips whoever is already on the register."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
from nhs_number import is_valid

from dsr_shared.contract.envelope import new_envelope
from dsr_shared.contract.events import Admitted, Discharged, Event
from dsr_ops import bus
from dsr_ops.settings import OpsSettings

GIVEN = [
    "Ada",
    "Ben",
    "Cara",
    "Dev",
    "Ella",
    "Finn",
    "Gwen",
    "Hari",
    "Isla",
    "Jon",
    "Kit",
    "Lena",
    "Milo",
    "Nia",
    "Owen",
    "Pia",
    "Quin",
    "Rosa",
    "Sami",
    "Tess",
    "Umar",
    "Vera",
    "Wes",
    "Yara",
]
FAMILY = [
    "Ashdale",
    "Brookwell",
    "Cinderby",
    "Dunmore",
    "Elmstead",
    "Fernleigh",
    "Glenholm",
    "Hartwood",
    "Ivybridge",
    "Juniper",
    "Kestrel",
    "Larchmont",
    "Moorfield",
    "Northcote",
    "Oakhurst",
    "Pinegate",
]
RATINGS = ["amber", "red", "green", "amber", "amber", "red", "green", "amber"]
REDIRECT_URI = "http://127.0.0.1/demo-signed-in"


class DemoSettings(OpsSettings):
    people: int = 36
    oidc_issuer: str = "http://127.0.0.1:9400"
    identity_url: str = "http://127.0.0.1:8005"
    oidc_client_id: str = "dsr-web"
    demo_referrer: str = "demo-referrer"
    demo_dsr_team: str = "demo-dsr-team"


@dataclass(frozen=True)
class Person:
    index: int
    given: str
    family: str
    born: date
    nhs_number: str
    rating: str


def people(count: int) -> list[Person]:
    found, seed = [], 0
    for i in range(count):
        while True:  # 999 numbers are never issued: the synthetic test range
            seed += 1
            base = f"999{(seed * 7919) % 1_000_000:06d}"
            candidates = [base + str(d) for d in range(10) if is_valid(base + str(d))]
            if candidates:
                break
        born = (
            date(2008 + i % 8, 1 + i % 12, 1 + i % 27)
            if i % 5 == 0
            else date(1965 + (i * 7) % 38, 1 + i % 12, 1 + i % 27)
        )
        found.append(
            Person(
                i, GIVEN[i % len(GIVEN)], FAMILY[(i * 5) % len(FAMILY)], born, candidates[0], RATINGS[i % len(RATINGS)]
            )
        )
    return found


class Demo:
    def __init__(self, settings: DemoSettings, http: httpx.AsyncClient, say) -> None:
        self.settings, self.http, self.say = settings, http, say
        self.tokens: dict[str, str] = {}

    async def sign_in(self, subject: str) -> str:
        """An access token for a persona: the local provider's sign-in, then the token exchange."""
        if subject in self.tokens:
            return self.tokens[subject]
        provider = self.settings.oidc_issuer.rstrip("/")
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        params = {
            "client_id": self.settings.oidc_client_id,
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "scope": "openid email profile",
            "state": secrets.token_urlsafe(8),
            "nonce": secrets.token_urlsafe(8),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        answer = await self.http.post(f"{provider}/oauth2/authorize", params=params, data={"sub": subject})
        if answer.status_code != 302:
            raise RuntimeError(f"the local provider did not sign {subject} in ({answer.status_code}): is the stack up?")
        code = parse_qs(urlparse(answer.headers["location"]).query)["code"][0]
        answer = await self.http.post(
            f"{provider}/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
            auth=(self.settings.oidc_client_id, "demo"),
        )
        answer.raise_for_status()
        answer = await self.http.post(
            f"{self.settings.identity_url.rstrip('/')}/token",
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "subject_token": answer.json()["id_token"],
                "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            },
        )
        answer.raise_for_status()
        self.tokens[subject] = answer.json()["access_token"]
        return self.tokens[subject]

    async def call(self, who: str, service: str, method: str, path: str, body: Any = None) -> httpx.Response:
        token = await self.sign_in(who)
        return await self.http.request(
            method, f"{self.settings.url(service)}{path}", json=body, headers={"Authorization": f"Bearer {token}"}
        )

    def referral(self, person: Person) -> dict[str, Any]:
        area = self.settings.area
        district = area.geography.postcode_districts[person.index % len(area.geography.postcode_districts)]
        return {
            "submission_id": f"demo-{person.nhs_number}",
            "referral_date": date.today().isoformat(),
            "person": {
                "given_name": person.given,
                "family_name": person.family,
                "date_of_birth": person.born.isoformat(),
                "nhs_number": person.nhs_number,
                "address": {
                    "line1": f"{10 + person.index} Demo Road",
                    "town": "Demo Town",
                    "postcode": f"{district} 1AA",
                },
            },
            "diagnosis": {
                "condition": ["autism", "learning_disability", "both"][person.index % 3],
                "confirmed": True,
                "evidence_reference": "Diagnostic assessment report",
            },
            "consent": {
                "given_by": "the person",
                "given_on": (date.today() - timedelta(days=30 + person.index)).isoformat(),
            },
            "referrer": {
                "name": "Sam Referrer",
                "role": "Community nurse",
                "organisation": "Community trust",
                "email": "sam.referrer@example.org",
            },
            "professionals": [
                {
                    "name": "Pat Social",
                    "role": "Social worker",
                    "organisation": "County council",
                    "email": "pat.social@example.org",
                    "case_holder": True,
                }
            ],
            "current_situation": "Living at home with support; recent changes in routine.",
            "risks": "Distress when routines change; risk of crisis without quick action.",
            "proposed_rating": person.rating,
            "rating_rationale": "Agreed at the referral meeting.",
        }

    async def on_register(self, register_id: str) -> bool:
        for _ in range(60):
            answer = await self.call(self.settings.demo_dsr_team, "rating", "GET", f"/register/{register_id}")
            if answer.status_code == 200:
                return True
            await asyncio.sleep(0.5)
        return False

    async def hospital(self, event: Event) -> None:
        envelope = new_envelope(
            event_type=event.EVENT_TYPE,
            schema_version=event.SCHEMA_VERSION,
            occurred_at=datetime.now(timezone.utc),
            area=self.settings.area.code,
            data=event.model_dump(mode="json"),
        )
        await bus.publish(self.settings, self.settings.topic(event.TOPIC), envelope, event.message_key())

    async def story(self, person: Person) -> str:
        """Refer one person, then give them some history; nothing for someone already loaded."""
        found = await self.call(
            self.settings.demo_dsr_team, "referral", "POST", "/searches/people", {"nhs_number": person.nhs_number}
        )
        if found.status_code == 200 and found.json()["people"]:
            return "already loaded"
        answer = await self.call(self.settings.demo_referrer, "referral", "POST", "/referrals", self.referral(person))
        outcome = answer.json().get("outcome")
        register_id = answer.json().get("register_id")
        if outcome != "accepted" or not register_id or not await self.on_register(register_id):
            return outcome or f"refused ({answer.status_code})"
        team, referrer = self.settings.demo_dsr_team, self.settings.demo_referrer
        i, path = person.index, f"/register/{register_id}"
        if i % 3 == 0:
            await self.call(
                referrer, "rating", "POST", f"{path}/updates", {"text": "Visited at home; settled this week."}
            )
        if i % 8 == 3:
            await self.call(
                team,
                "rating",
                "POST",
                f"{path}/rating",
                {"rating": "red", "rationale": "Placement at risk of breaking down.", "agreed_with_person": True},
            )
        if i % 7 == 4:
            # Admitted after the referral (the newest fact decides the rating); some discharged since.
            await self.hospital(
                Admitted(
                    nhs_number=person.nhs_number,
                    admitted_at=datetime.now(timezone.utc),
                    hospital_ods_code="RXM",
                    bed_type="learning_disability",
                    legal_basis="section_2",
                )
            )
            if i % 2 == 0:
                await asyncio.sleep(1)
                await self.hospital(
                    Discharged(
                        nhs_number=person.nhs_number,
                        discharged_at=datetime.now(timezone.utc),
                        hospital_ods_code="RXM",
                        destination="home",
                    )
                )
        if i % 10 == 9:
            await self.call(
                referrer,
                "rating",
                "POST",
                f"{path}/removal",
                {"reason": "Agreed with the person and their family at a review.", "best_interest_meeting": False},
            )
        if i == self.settings.people - 1:
            await self.call(
                team, "rating", "POST", f"{path}/removal", {"reason": "Settled for a month; agreed to leave."}
            )
        return outcome


async def load(settings: DemoSettings, say) -> dict[str, int]:
    counts: dict[str, int] = {}
    async with httpx.AsyncClient(timeout=settings.http_timeout_seconds) as http:
        demo = Demo(settings, http, say)
        for person in people(settings.people):
            outcome = await demo.story(person)
            counts[outcome] = counts.get(outcome, 0) + 1
            say(f"{person.index + 1}/{settings.people}: {outcome}")
    return counts
