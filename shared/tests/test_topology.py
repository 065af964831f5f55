"""The topology is written once and the services keep to it: each service's
consumer reads exactly the topics dsr_shared.contract.topology lists for it, and a
subscription to an unlisted topic is refused before the service starts."""

from __future__ import annotations

import importlib

import pytest

from dsr_shared.contract.topics import Topic
from dsr_shared.contract.topology import REGISTER_SERVICES, SERVICES
from dsr_shared.platform.consuming import consumed_topics, subscribe
from dsr_shared.platform.runtime import Runtime
from dsr_shared.platform.settings import ServiceSettings

BUILT_HERE = [name for name in SERVICES if name != "web"]  # the web reads no topic and builds differently


@pytest.mark.parametrize("name", BUILT_HERE)
def test_each_service_reads_what_the_topology_lists(name, monkeypatch):
    monkeypatch.setenv("DSR_TOPIC_PREFIX", "x.")
    monkeypatch.setenv("DSR_DEVELOPMENT_MODE", "true")  # the identity service's keys and providers
    app = importlib.import_module(f"dsr_{name}.app").build_app()
    settings = app.state.settings
    reads = set(consumed_topics(app.state.runtime.broker))
    assert reads == {settings.topic(t) for t in SERVICES[name].reads}


def test_a_subscription_the_topology_does_not_list_is_refused():
    settings = ServiceSettings(service_name="scheduler")
    runtime = Runtime.build(settings)
    with pytest.raises(ValueError, match="dsr.hospital.admissions"):
        subscribe(runtime.broker, settings, {Topic.ADMISSIONS: {}})


def test_the_register_services_each_have_a_consumer_group_and_write_their_own_topic():
    assert REGISTER_SERVICES == ("referral", "rating", "scheduler", "notifier")
    written = [t for name in REGISTER_SERVICES for t in SERVICES[name].writes]
    assert len(written) == len(set(written)), "one writer per topic"
    assert SERVICES["rating"].consumer_group("p.") == "p.dsr-rating"
