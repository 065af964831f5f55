"""Issue 12, item 9: each service answers as its OpenAPI document says.
Schemathesis, with every check (status codes, bodies, headers and content
types as documented; schema-valid requests accepted and invalid ones refused;
no server errors; no endpoint that ignores its token), runs against each
service of one running stack, once with a token of each role.

The example count is kept modest (EXAMPLES) so the module takes a few
minutes; a failure prints schemathesis's report with a curl line to
reproduce it."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from dsr_shared.auth import Role
from stack import SERVICES, whole_stack
from support import AUTH_SECRET, token

pytestmark = pytest.mark.stack

EXAMPLES = 5
CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))


@pytest.fixture(scope="module")
def running(infra, tmp_path_factory):
    with whole_stack(infra, f"t{uuid.uuid4().hex[:10]}", tmp_path_factory.mktemp("conformance"), AUTH_SECRET) as stack:
        yield stack


def schemathesis(url: str, role: Role, report: Path) -> subprocess.CompletedProcess:
    command = [
        SCHEMATHESIS, "--config-file", str(CONFIG), "--no-color", "run", f"{url}/openapi.json",
        "--checks", "all", "--max-examples", str(EXAMPLES), "--seed", "12", "--workers", "2",
        "--header", f"Authorization: Bearer {token(role, subject=f'conformance.{role.value}@example.org')}",
        "--report", "junit", "--report-junit-path", str(report),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("service", SERVICES)
def test_the_service_answers_as_its_document_says_to_every_role(running, service, tmp_path):
    failed = {}
    for role in Role:
        result = schemathesis(running.url(service), role, tmp_path / f"{role.value}.xml")
        if result.returncode != 0:
            failed[role.value] = result.stdout[-6000:] + result.stderr[-2000:]
    assert not failed, "\n\n".join(f"=== {service} as {role}\n{report}" for role, report in failed.items())
