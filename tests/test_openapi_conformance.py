"""Issue 12, item 9: each service answers as its OpenAPI document says.
Schemathesis, with every check (status codes, bodies, headers and content
types as documented; schema-valid requests accepted and invalid ones refused;
no server errors; no endpoint that ignores its token), runs against each
service of one running stack, with a token of each role on the operations
that admit the role (tests/endpoints.py; on the others every answer is the
403 tests/test_access_per_person.py checks), and without a token on the
health and metrics endpoints.

The example count is kept modest (EXAMPLES) so the module takes a few
minutes; a failure prints schemathesis's report with a curl line to
reproduce it. One worker: Python 3.11's parser is not safe to call from two
threads at once, and schemathesis's generators call it."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from dsr_shared.platform.auth import Role
from dsr_testing.endpoints import ENDPOINTS, UNTOUCHED
from dsr_testing.stack import WITH_GATEWAY, whole_stack
from dsr_testing.support import token

pytestmark = pytest.mark.stack

EXAMPLES = 3
CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))


@pytest.fixture(scope="module")
def running(infra, identity, tmp_path_factory):
    with whole_stack(
        infra, identity, f"t{uuid.uuid4().hex[:10]}", tmp_path_factory.mktemp("conformance"), gateway=True
    ) as stack:
        yield stack


def operations_of(service: str, role: Role | None) -> list[str]:
    """Schemathesis's names ("GET /audit") of the operations `role` may call; without one, the open ones."""
    if role is None:
        return [f"GET {path}" for path in sorted(UNTOUCHED)]
    return sorted(
        f"{method} {path}"
        for (s, method, path), (allowed, _, _) in ENDPOINTS.items()
        if s == service and role in allowed
    )


def schemathesis(url: str, role: Role | None, operations: list[str], report: Path) -> subprocess.CompletedProcess:
    only = "^(" + "|".join(re.escape(name) for name in operations) + ")$"
    subject = f"conformance.{role.value if role else 'anonymous'}@example.org"
    command = [
        SCHEMATHESIS,
        "--config-file",
        str(CONFIG),
        "--no-color",
        "run",
        f"{url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        "12",
        "--workers",
        "1",
        # No stateful phase: the documents declare no links between operations.
        "--phases",
        "examples,coverage,fuzzing",
        "--include-name-regex",
        only,
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
        *(["--header", f"Authorization: Bearer {token(role, subject=subject)}"] if role else []),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=900)


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("service", WITH_GATEWAY)
def test_the_service_answers_as_its_document_says_to_every_role(running, service, tmp_path):
    failed, ran = {}, []
    for role in [None, *Role]:
        operations = operations_of(service, role)
        if not operations:
            continue
        result = schemathesis(running.url(service), role, operations, tmp_path / f"{role or 'anonymous'}.xml")
        ran.append(role)
        if result.returncode != 0:
            failed[str(role)] = result.stdout[-6000:] + result.stderr[-2000:]
    assert not failed, "\n\n".join(f"=== {service} as {role}\n{report}" for role, report in failed.items())
    assert Role.DSR_TEAM in ran and Role.AUDITOR in ran
