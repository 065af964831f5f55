"""The SOP's referral form as pages of questions (one topic per page), the
answers kept as flat text fields, turned into the intake's JSON, and every
reason the intake or a page gives mapped back to its question. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from nhs_number import is_valid as nhs_number_is_valid

Kind = Literal["text", "email", "tel", "textarea", "date", "radios", "checkbox", "nhs_number", "postcode"]
PROFESSIONAL_SLOTS = 3


def field_id(name: str) -> str:
    """The HTML id of a question named by its dotted path."""
    return name.replace(".", "-").replace("_", "-")


def date_field(question_id: str, part: str) -> str:
    """The form field of a date's day, month or year (NHS.UK date input: `id[day]`)."""
    return f"{question_id}[{part}]"


@dataclass(frozen=True)
class Question:
    name: str  # the intake's JSON path, dotted: person.address.postcode
    label: str
    kind: Kind = "text"
    hint: str = ""
    required: bool = False
    options: tuple[tuple[str, str], ...] = ()
    width: str = ""  # an NHS.UK input width class
    autocomplete: str = "off"

    @property
    def id(self) -> str:
        return field_id(self.name)

    @property
    def link(self) -> str:
        """Where an error summary entry points: the first input of the question."""
        return f"{self.id}-day" if self.kind == "date" else self.id


@dataclass(frozen=True)
class Step:
    slug: str
    title: str
    questions: tuple[Question, ...]
    legend: str = ""
    groups: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())


YES_NO = (("yes", "Yes"), ("no", "No"))


def professional_questions(i: int) -> tuple[Question, ...]:
    p = f"professionals.{i}"
    return (
        Question(f"{p}.name", "Name"),
        Question(f"{p}.role", "Role", hint="For example, social worker or community nurse"),
        Question(f"{p}.organisation", "Organisation"),
        Question(f"{p}.email", "Work email address", "email", autocomplete="off"),
        Question(f"{p}.phone", "Work phone number", "tel", width="nhsuk-input--width-20"),
        Question(f"{p}.case_holder", "This professional is the case holder (keeps the record up to date)", "checkbox"),
    )


STEPS: tuple[Step, ...] = (
    Step(
        "person",
        "About the person",
        (
            Question("person.given_name", "First name", required=True),
            Question("person.family_name", "Last name", required=True),
            Question("person.date_of_birth", "Date of birth", "date", "For example, 27 3 2007", required=True),
            Question(
                "person.nhs_number",
                "NHS number",
                "nhs_number",
                "A 10 digit number, like 485 777 3456",
                required=True,
                width="nhsuk-input--width-10",
            ),
        ),
    ),
    Step(
        "address",
        "Where they live",
        (
            Question("person.address.line1", "Address line 1", required=True),
            Question("person.address.line2", "Address line 2 (optional)"),
            Question("person.address.town", "Town or city (optional)", width="nhsuk-u-width-two-thirds"),
            Question("person.address.postcode", "Postcode", "postcode", required=True, width="nhsuk-input--width-10"),
            Question(
                "person.gp_practice_code",
                "GP practice code (optional)",
                hint="The practice's ODS code, like C81001",
                width="nhsuk-input--width-10",
            ),
            Question(
                "person.local_authority_code",
                "Local authority code (optional)",
                hint="The council's ONS code, like E10000007",
                width="nhsuk-input--width-10",
            ),
            Question(
                "person.looked_after_child_placed_out_of_area",
                "A looked-after child placed out of area by one of the area's councils",
                "checkbox",
            ),
            Question(
                "person.placement_funded_by_area_icb", "In a placement out of area funded by this ICB", "checkbox"
            ),
            Question("person.section_117", "Has section 117 aftercare funded by this ICB", "checkbox"),
        ),
        groups=(
            (
                "Placements",
                (
                    "person.looked_after_child_placed_out_of_area",
                    "person.placement_funded_by_area_icb",
                    "person.section_117",
                ),
            ),
        ),
    ),
    Step(
        "diagnosis",
        "Diagnosis",
        (
            Question(
                "diagnosis.condition",
                "What is the diagnosis?",
                "radios",
                required=True,
                options=(
                    ("learning_disability", "Learning disability"),
                    ("autism", "Autism"),
                    ("both", "Learning disability and autism"),
                ),
            ),
            Question("diagnosis.confirmed", "Is the diagnosis confirmed?", "radios", required=True, options=YES_NO),
            Question(
                "diagnosis.evidence_reference",
                "Reference of the evidence of the diagnosis",
                hint="For example, the letter or report and its date",
            ),
        ),
    ),
    Step(
        "consent",
        "Consent",
        (
            Question(
                "basis",
                "Has the person consented to be on the register?",
                "radios",
                required=True,
                options=(
                    ("consent", "Yes, they or someone able to consent for them agreed"),
                    ("best_interest", "No, a best-interest decision was made for them"),
                ),
            ),
            Question("consent.given_by", "Who gave consent?", hint="For example, the person, or their parent"),
            Question("consent.given_on", "Date consent was given", "date", "For example, 5 1 2026"),
            Question("best_interest_decision.decision_maker", "Who made the best-interest decision?"),
            Question(
                "best_interest_decision.decided_on",
                "Date of the best-interest decision",
                "date",
                "For example, 5 1 2026",
            ),
        ),
    ),
    Step(
        "referrer",
        "About you",
        (
            Question("referrer.name", "Your name", required=True, autocomplete="name"),
            Question("referrer.role", "Your role", required=True),
            Question("referrer.organisation", "Your organisation", required=True, autocomplete="organization"),
            Question("referrer.email", "Your work email address", "email", required=True, autocomplete="email"),
            Question(
                "referrer.phone",
                "Your work phone number (optional)",
                "tel",
                width="nhsuk-input--width-20",
                autocomplete="tel",
            ),
        ),
    ),
    Step(
        "professionals",
        "Other professionals involved",
        tuple(q for i in range(PROFESSIONAL_SLOTS) for q in professional_questions(i)),
        groups=tuple(
            (f"Professional {i + 1} (optional)", tuple(q.name for q in professional_questions(i)))
            for i in range(PROFESSIONAL_SLOTS)
        ),
    ),
    Step(
        "situation",
        "Their situation and risks",
        (
            Question("current_situation", "What is the person's current situation?", "textarea"),
            Question("risks", "What are the risks?", "textarea"),
        ),
    ),
    Step(
        "rating",
        "Proposed rating",
        (
            Question(
                "proposed_rating",
                "What rating do you propose?",
                "radios",
                required=True,
                options=(
                    ("red", "Red: in crisis, at risk of hospital admission"),
                    ("amber", "Amber: wellbeing deteriorating, at risk of crisis without quick action"),
                    ("green", "Green: wellbeing settled"),
                ),
            ),
            Question("rating_rationale", "Why this rating?", "textarea", required=True),
            Question("inpatient_now", "Is the person in hospital now?", "radios", required=True, options=YES_NO),
        ),
    ),
)
STEP_BY_SLUG = {step.slug: step for step in STEPS}
QUESTIONS = {q.name: (step, q) for step in STEPS for q in step.questions}


def next_step(slug: str) -> str:
    """The slug after `slug`, or "check" after the last page."""
    slugs = [s.slug for s in STEPS]
    i = slugs.index(slug)
    return slugs[i + 1] if i + 1 < len(slugs) else "check"


def previous_step(slug: str) -> str | None:
    slugs = [s.slug for s in STEPS]
    i = slugs.index(slug) if slug in slugs else len(slugs)
    return slugs[i - 1] if i > 0 else None


def answers_from_form(step: Step, form: dict[str, str]) -> dict[str, str]:
    """This page's answers, as text (a date as its three parts)."""
    found: dict[str, str] = {}
    for q in step.questions:
        if q.kind == "date":
            for part in ("day", "month", "year"):
                found[f"{q.name}-{part}"] = (form.get(date_field(q.id, part)) or "").strip()
        elif q.kind == "checkbox":
            found[q.name] = "yes" if form.get(q.id) else ""
        else:
            found[q.name] = (form.get(q.id) or "").strip()
    return found


def date_of(answers: dict[str, str], name: str) -> date | None:
    try:
        return date(
            int(answers.get(f"{name}-year", "")),
            int(answers.get(f"{name}-month", "")),
            int(answers.get(f"{name}-day", "")),
        )
    except ValueError:
        return None


def _date_given(answers: dict[str, str], name: str) -> bool:
    return any(answers.get(f"{name}-{part}") for part in ("day", "month", "year"))


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$")


def step_errors(step: Step, answers: dict[str, str], today: date) -> dict[str, str]:
    """Question name -> what is wrong, for one page (before the intake sees it)."""
    errors: dict[str, str] = {}
    for q in step.questions:
        value = answers.get(q.name, "")
        label = q.label.removesuffix(" (optional)")
        if q.kind == "date":
            if not _date_given(answers, q.name):
                if q.required:
                    errors[q.name] = f"Enter the {label.lower()}"
            elif (when := date_of(answers, q.name)) is None:
                errors[q.name] = f"{label} must be a real date"
            elif when > today:
                errors[q.name] = f"{label} must be today or in the past"
            continue
        if not value:
            if q.required:
                errors[q.name] = (
                    f"Select an answer: {label.lower()}"
                    if q.kind == "radios"
                    else f"Enter {label[0].lower() + label[1:]}"
                )
            continue
        if q.kind == "nhs_number" and not nhs_number_is_valid(value.replace(" ", "")):
            errors[q.name] = "NHS number must be a valid 10 digit NHS number"
        elif q.kind == "email" and not _EMAIL.match(value):
            errors[q.name] = "Enter an email address in the correct format, like name@example.nhs.uk"
        elif q.kind == "postcode" and not _POSTCODE.match(value.upper()):
            errors[q.name] = "Enter a real postcode, like DE1 2AB"
        elif q.options and value not in dict(q.options):
            errors[q.name] = f"Select an answer: {label.lower()}"
    if step.slug == "consent":
        errors |= _consent_errors(answers)
    if step.slug == "professionals":
        errors |= professional_errors(answers)
    return errors


def _consent_errors(answers: dict[str, str]) -> dict[str, str]:
    errors = {}
    if answers.get("basis") == "consent":
        if not answers.get("consent.given_by"):
            errors["consent.given_by"] = "Enter who gave consent"
        if not _date_given(answers, "consent.given_on"):
            errors["consent.given_on"] = "Enter the date consent was given"
    elif answers.get("basis") == "best_interest":
        if not answers.get("best_interest_decision.decision_maker"):
            errors["best_interest_decision.decision_maker"] = "Enter who made the best-interest decision"
        if not _date_given(answers, "best_interest_decision.decided_on"):
            errors["best_interest_decision.decided_on"] = "Enter the date of the best-interest decision"
    return errors


def professional_errors(answers: dict[str, str], slots: int = PROFESSIONAL_SLOTS) -> dict[str, str]:
    errors = {}
    for i in range(slots):
        p = f"professionals.{i}"
        given = any(answers.get(f"{p}.{part}") for part in ("name", "role", "organisation", "email", "phone"))
        if given or answers.get(f"{p}.case_holder"):
            if not answers.get(f"{p}.name"):
                errors[f"{p}.name"] = f"Enter the name of professional {i + 1}"
            if not answers.get(f"{p}.role"):
                errors[f"{p}.role"] = f"Enter the role of professional {i + 1}"
            email = answers.get(f"{p}.email")
            if email and not _EMAIL.match(email):
                errors[f"{p}.email"] = (
                    f"Enter the email address of professional {i + 1} in the correct format, like name@example.nhs.uk"
                )
    if sum(bool(answers.get(f"professionals.{i}.case_holder")) for i in range(slots)) > 1:
        errors["professionals.0.case_holder"] = "Only one professional can be the case holder"
    return errors


def _text(answers: dict[str, str], name: str) -> str | None:
    return answers.get(name) or None


def referral_body(answers: dict[str, str], today: date, submission_id: str) -> dict[str, Any]:
    """The intake's JSON (ReferralSubmitted) from every page's answers."""
    iso = lambda name: d.isoformat() if (d := date_of(answers, name)) else None  # noqa: E731
    body: dict[str, Any] = {
        "submission_id": submission_id,
        "referral_date": today.isoformat(),
        "person": {
            "given_name": answers.get("person.given_name", ""),
            "family_name": answers.get("person.family_name", ""),
            "date_of_birth": iso("person.date_of_birth"),
            "nhs_number": answers.get("person.nhs_number", "").replace(" ", ""),
            "address": {
                "line1": answers.get("person.address.line1", ""),
                "line2": _text(answers, "person.address.line2"),
                "town": _text(answers, "person.address.town"),
                "postcode": answers.get("person.address.postcode", "").upper(),
            },
            "gp_practice_code": _text(answers, "person.gp_practice_code"),
            "local_authority_code": _text(answers, "person.local_authority_code"),
            "looked_after_child_placed_out_of_area": bool(answers.get("person.looked_after_child_placed_out_of_area")),
            "placement_funded_by_area_icb": bool(answers.get("person.placement_funded_by_area_icb")),
            "section_117": bool(answers.get("person.section_117")),
        },
        "diagnosis": {
            "condition": answers.get("diagnosis.condition") or None,
            "confirmed": answers.get("diagnosis.confirmed") == "yes",
            "evidence_reference": _text(answers, "diagnosis.evidence_reference"),
        },
        "referrer": {
            "name": answers.get("referrer.name", ""),
            "role": answers.get("referrer.role", ""),
            "organisation": answers.get("referrer.organisation", ""),
            "email": answers.get("referrer.email", ""),
            "phone": _text(answers, "referrer.phone"),
        },
        "professionals": professionals(answers),
        "current_situation": answers.get("current_situation", ""),
        "risks": answers.get("risks", ""),
        "proposed_rating": answers.get("proposed_rating") or "amber",
        "rating_rationale": answers.get("rating_rationale", ""),
        "inpatient_now": answers.get("inpatient_now") == "yes",
    }
    if answers.get("basis") == "consent":
        body["consent"] = {"given_by": answers.get("consent.given_by", ""), "given_on": iso("consent.given_on")}
    elif answers.get("basis") == "best_interest":
        body["best_interest_decision"] = {
            "decision_maker": answers.get("best_interest_decision.decision_maker", ""),
            "decided_on": iso("best_interest_decision.decided_on"),
        }
    return body


def professionals(answers: dict[str, str], slots: int = PROFESSIONAL_SLOTS) -> list[dict[str, Any]]:
    """The professionals named in slots professionals.0 … professionals.{slots-1}."""
    found = []
    for i in range(slots):
        p = f"professionals.{i}"
        if not answers.get(f"{p}.name"):
            continue
        found.append(
            {
                "name": answers[f"{p}.name"],
                "role": answers.get(f"{p}.role", ""),
                "organisation": _text(answers, f"{p}.organisation"),
                "email": _text(answers, f"{p}.email"),
                "phone": _text(answers, f"{p}.phone"),
                "case_holder": bool(answers.get(f"{p}.case_holder")),
            }
        )
    return found


# Reasons whose field is not a question: where they belong.
_FIELD_ALIASES = {"consent": "basis", "best_interest_decision": "basis", "referral_date": "rating_rationale"}


def question_for(field_path: str | None) -> Question | None:
    """The question a reason's field belongs to (the intake's dotted path)."""
    if not field_path:
        return None
    path = _FIELD_ALIASES.get(field_path, field_path)
    while path:
        if path in QUESTIONS:
            return QUESTIONS[path][1]
        path = path.rpartition(".")[0]
    return None


def display(answers: dict[str, str], q: Question) -> str:
    """An answer as the check-your-answers page shows it."""
    if q.kind == "date":
        d = date_of(answers, q.name)
        return f"{d.day} {d:%B %Y}" if d else ""
    value = answers.get(q.name, "")
    if q.kind == "checkbox":
        return "Yes" if value else "No"
    return dict(q.options).get(value, value)
