"""One instance of the whole system per test module, with the web service in
front, and Chromium (dsr_testing.web.harness has the handles)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from dsr_testing.web.harness import CHROMIUM, RegisterInstance, start_instance, stop_instance


@pytest.fixture(scope="module")
def derbyshire(infra, identity, tmp_path_factory) -> Iterator[RegisterInstance]:
    instance = start_instance(infra, identity, tmp_path_factory.mktemp("derbyshire"), "derbyshire")
    yield instance
    stop_instance(instance)


@pytest.fixture(scope="module")
def staffordshire(infra, identity, tmp_path_factory) -> Iterator[RegisterInstance]:
    instance = start_instance(infra, identity, tmp_path_factory.mktemp("staffordshire"), "staffordshire")
    yield instance
    stop_instance(instance)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        await chromium.close()
