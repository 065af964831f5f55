"""The checked-in OpenAPI documents match the code (`make openapi`)."""

import pytest

from dsr_testing.openapi_docs import DOCS, SERVICES, render


@pytest.mark.parametrize("service", SERVICES)
def test_the_checked_in_openapi_document_is_current(service):
    assert (DOCS / f"{service}.json").read_text() == render(service), (
        f"docs/openapi/{service}.json is stale: run `make openapi`"
    )
