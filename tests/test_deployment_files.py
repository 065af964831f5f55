"""The deployment files, checked without a cluster, Docker or the network:

- deploy/k8s: each area's overlay is rendered here (the small part of
  kustomize it uses; anything else in a kustomization.yaml fails the test) and
  every object is checked against the Kubernetes JSON schemas that the
  kubernetes-validate package bundles, strictly (an unknown field fails);
- docker-compose.yml: against the Compose Specification schema that the
  check-jsonschema package bundles, after interpolation, plus what the schema
  cannot see (health checks, addresses, the profile, the SMTP catcher);
- every DSR_* variable the files set is a field of the service's settings
  class (ServiceSettings, NotifierSettings for the notifier), so a misspelt
  name fails here instead of being ignored by the service.
"""

from __future__ import annotations

import copy
import json
import os
import re
import tomllib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from dsr_identity.settings import IdentitySettings
from dsr_web.settings import WebSettings
from kubernetes_validate.utils import SchemaNotFoundError

from dsr_shared.platform.settings import ServiceSettings
from dsr_shared.rules.area import load_profile
from dsr_hospital_gateway.settings import GatewaySettings
from dsr_notifier.settings import NotifierSettings

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
PROFILES = ROOT / "shared" / "src" / "dsr_shared" / "rules" / "profiles"
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").exists())
# The web front end has no broker and no database: it calls the others over HTTP.
BACKENDS = [s for s in SERVICES if s != "web"]
# The services the web calls: the hospital gateway takes only hospitals' messages.
WEB_CALLS = [s for s in BACKENDS if s != "hospital_gateway"]
AREAS = sorted(p.name for p in (K8S / "areas").iterdir() if (p / "kustomization.yaml").exists())
# An older Kubernetes that managed platforms still run, and the
# newest the installed kubernetes-validate bundles schemas for.
KUBERNETES_VERSIONS = ("1.31", "1.37")


# --- settings ------------------------------------------------------------------


def settings_class(service: str) -> type[ServiceSettings]:
    return {
        "notifier": NotifierSettings,
        "identity": IdentitySettings,
        "web": WebSettings,
        "hospital_gateway": GatewaySettings,
    }.get(service, ServiceSettings)


def k8s_name(service: str) -> str:
    """Kubernetes names take no underscore: hospital_gateway is hospital-gateway there."""
    return service.replace("_", "-")


# Ports besides HTTP, by service: the hospital gateway's MLLP listener.
EXTRA_PORTS = {"hospital_gateway": {"mllp": 2575}}


def variables(cls: type[ServiceSettings]) -> set[str]:
    prefix = cls.model_config["env_prefix"]
    return {f"{prefix}{name}".upper() for name in cls.model_fields}


def unknown_variables(service: str, names: set[str]) -> list[str]:
    return sorted(names - variables(settings_class(service)))


def settings_from(service: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> ServiceSettings:
    """The service's settings from exactly `env` (none of the caller's DSR_*)."""
    for name in [n for n in os.environ if n.upper().startswith("DSR_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return settings_class(service)(_env_file=None)


def test_the_settings_classes_are_what_the_checks_read():
    assert ServiceSettings.model_config["env_prefix"] == NotifierSettings.model_config["env_prefix"] == "DSR_"
    assert {"DSR_KAFKA_BOOTSTRAP", "DSR_MONGO_URI", "DSR_AREA_PROFILE", "DSR_AUTH_ISSUER"} <= variables(ServiceSettings)
    assert {"DSR_SMTP_HOST", "DSR_SMTP_PASSWORD"} <= variables(NotifierSettings) - variables(ServiceSettings)
    assert {"DSR_IDENTITY_SIGNING_KEY", "DSR_IDENTITY_PROVIDERS"} <= variables(IdentitySettings) - variables(
        ServiceSettings
    )
    assert SERVICES == ["hospital_gateway", "identity", "notifier", "rating", "referral", "scheduler", "web"]
    assert WebSettings.model_config["env_prefix"] == "DSR_"
    assert {"DSR_MLLP_PORT", "DSR_QUARANTINE_RETENTION_DAYS"} <= variables(GatewaySettings) - variables(ServiceSettings)


# --- Kubernetes: rendering the overlays ----------------------------------------

KUSTOMIZATION_KEYS = {"apiVersion", "kind", "namespace", "resources", "images"}
IMAGE_KEYS = {"name", "newName", "newTag", "digest"}
CLUSTER_SCOPED = {"Namespace"}


def yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text("utf-8")) if doc is not None]


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    pod = doc.get("spec", {}).get("template", {}).get("spec", {})
    return pod.get("initContainers", []) + pod.get("containers", [])


def set_image(container: dict[str, Any], rule: dict[str, str]) -> None:
    image = container["image"]
    name = re.split(r"@|:(?=[^/:]*$)", image, maxsplit=1)[0]
    if name != rule["name"]:
        return
    new = rule.get("newName", name)
    if "digest" in rule:
        container["image"] = f"{new}@{rule['digest']}"
    elif "newTag" in rule:
        container["image"] = f"{new}:{rule['newTag']}"
    else:
        container["image"] = new + image[len(name) :]


def kustomize(directory: Path, seen: set[Path]) -> list[dict[str, Any]]:
    """`kustomize build directory`, for the fields the project uses."""
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text("utf-8"))
    unknown = set(spec) - KUSTOMIZATION_KEYS
    assert not unknown, f"{directory}/kustomization.yaml uses {sorted(unknown)}: render it in this test too"
    assert (spec["apiVersion"], spec["kind"]) == ("kustomize.config.k8s.io/v1beta1", "Kustomization")
    docs: list[dict[str, Any]] = []
    for entry in spec.get("resources", []):
        path = (directory / entry).resolve()
        assert path.exists(), f"{directory}/kustomization.yaml: {entry} does not exist"
        seen.add(path / "kustomization.yaml" if path.is_dir() else path)
        docs += kustomize(path, seen) if path.is_dir() else yaml_documents(path)
    for rule in spec.get("images", []):
        assert set(rule) <= IMAGE_KEYS and "name" in rule, rule
        for doc in docs:
            for container in containers(doc):
                set_image(container, rule)
    if "namespace" in spec:
        for doc in docs:
            if doc["kind"] in CLUSTER_SCOPED:
                # kustomize leaves a Namespace's name alone: it must be the one.
                if doc["kind"] == "Namespace":
                    assert doc["metadata"]["name"] == spec["namespace"], directory
                continue
            doc["metadata"]["namespace"] = spec["namespace"]
    return docs


@cache
def _rendered(area: str) -> tuple[list[dict[str, Any]], frozenset[Path]]:
    seen: set[Path] = set()
    docs = kustomize(K8S / "areas" / area, seen)
    keys = [(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in docs]
    assert len(keys) == len(set(keys)), f"{area}: an object is defined twice"
    return docs, frozenset(seen)


def rendered(area: str) -> list[dict[str, Any]]:
    return copy.deepcopy(_rendered(area)[0])


def secret_template(area: str) -> dict[str, Any]:
    (doc,) = yaml_documents(K8S / "areas" / area / "secret.template.yaml")
    return doc


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def test_every_manifest_is_deployed_by_an_overlay_or_is_the_secret_template():
    used = set().union(*(_rendered(area)[1] for area in AREAS)) | {
        (K8S / "areas" / a / "kustomization.yaml") for a in AREAS
    }
    templates = {K8S / "areas" / a / "secret.template.yaml" for a in AREAS}
    files = set(K8S.rglob("*.yaml")) | set(K8S.rglob("*.yml"))
    assert files - used - templates == set(), "files no overlay deploys"
    assert AREAS == ["derbyshire", "staffordshire"]


# --- Kubernetes: the schemas ------------------------------------------------


def schema_errors(doc: dict[str, Any], version: str) -> str | None:
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(p) for p in exc.path) or "(top)"
        return f"{doc['kind']}/{doc['metadata']['name']}: {where}: {exc.message}"
    except SchemaNotFoundError as exc:
        return exc.message
    return None


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("area", AREAS)
def test_an_area_matches_the_kubernetes_schemas(area: str, version: str):
    docs = rendered(area) + [secret_template(area)]
    errors = [e for e in (schema_errors(doc, version) for doc in docs) if e]
    assert not errors, "\n".join(errors)


def test_the_kubernetes_schema_check_rejects_a_misspelt_field_and_a_wrong_type():
    deployment = find(rendered(AREAS[0]), "Deployment", "rating")
    probe = deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    probe["httpGett"] = probe.pop("httpGet")
    assert "httpGett" in (schema_errors(deployment, KUBERNETES_VERSIONS[-1]) or "")
    deployment = find(rendered(AREAS[0]), "Deployment", "rating")
    deployment["spec"]["replicas"] = "2"
    assert "replicas" in (schema_errors(deployment, KUBERNETES_VERSIONS[-1]) or "")
    assert "Couldn't find schema" in schema_errors(
        {"apiVersion": "v1", "kind": "Nonsense", "metadata": {"name": "x"}}, KUBERNETES_VERSIONS[-1]
    )


# --- Kubernetes: what the schemas cannot see -------------------------------


def container_env(docs: list[dict[str, Any]], container: dict[str, Any], secret: dict[str, Any]) -> dict[str, str]:
    """The variables a container gets, with their values (secrets: the placeholders)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        assert set(source) == {"configMapRef"}, "envFrom: ConfigMaps only (secrets by key, to each service its own)"
        env.update(find(docs, "ConfigMap", source["configMapRef"]["name"])["data"])
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        elif "secretKeyRef" in var["valueFrom"]:
            ref = var["valueFrom"]["secretKeyRef"]
            assert ref["name"] == secret["metadata"]["name"], ref
            assert ref["key"] in secret["stringData"], f"{ref['key']} is not in the secret template"
            env[var["name"]] = secret["stringData"][ref["key"]]
        else:
            ref = var["valueFrom"]["configMapKeyRef"]
            env[var["name"]] = find(docs, "ConfigMap", ref["name"])["data"][ref["key"]]
    return env


@pytest.mark.parametrize("area", AREAS)
def test_every_variable_an_area_sets_is_a_setting_of_its_service(area: str, monkeypatch: pytest.MonkeyPatch):
    docs, secret = rendered(area), secret_template(area)
    for service in SERVICES:
        (container,) = find(docs, "Deployment", k8s_name(service))["spec"]["template"]["spec"]["containers"]
        env = container_env(docs, container, secret)
        assert unknown_variables(service, set(env)) == [], service
        # And the values parse: numbers are numbers, booleans booleans.
        with monkeypatch.context() as patch:
            settings = settings_from(service, env, patch)
        if service == "web":
            assert settings.cookie_secure and settings.behind_proxy and settings.public_url.startswith("https://")
            assert {
                settings.referral_url,
                settings.rating_url,
                settings.scheduler_url,
                settings.notifier_url,
                settings.identity_url,
            } == {f"http://{s}:8000" for s in WEB_CALLS}
            continue
        assert settings.rebuild is False and settings.simulated_clock is False
        assert settings.http_host == "0.0.0.0"
        assert settings.kafka_bootstrap and "replicaSet=" in settings.mongo_uri
        assert settings.topic_replication >= 3, "the platform's Kafka: more than one copy of each message"


@pytest.mark.parametrize("area", AREAS)
def test_each_service_gets_only_the_secrets_it_needs(area: str):
    docs = rendered(area)
    needs = {
        # Only the identity service can sign a token; the others verify with its public keys.
        "identity": {"DSR_IDENTITY_SIGNING_KEY"},
        "referral": {"DSR_NHS_HASH_KEY"},
        "rating": {"DSR_NHS_HASH_KEY"},
        "scheduler": set(),
        "notifier": {"DSR_SMTP_USERNAME", "DSR_SMTP_PASSWORD"},
        "web": {"DSR_SESSION_SECRET", "DSR_OIDC_CLIENT_SECRET"},
        "hospital_gateway": set(),
    }
    for service in SERVICES:
        (container,) = find(docs, "Deployment", k8s_name(service))["spec"]["template"]["spec"]["containers"]
        secrets = {v["name"] for v in container.get("env", []) if "secretKeyRef" in v.get("valueFrom", {})}
        assert secrets == needs[service], service
    for doc in docs:
        assert doc["kind"] != "Secret", "the Secret is created apart (an apply must not reset it)"
        if doc["kind"] == "ConfigMap":
            assert not any(word in key for key in doc["data"] for word in ("SECRET", "KEY", "PASSWORD", "USERNAME"))


@pytest.mark.parametrize("area", AREAS)
def test_the_secret_template_holds_only_marked_placeholders(area: str):
    secret = secret_template(area)
    assert secret["metadata"] == {
        "name": "dsr-secrets",
        "namespace": f"dsr-{area}",
        "labels": {"app.kubernetes.io/part-of": "dsr"},
    }
    web = {"DSR_SESSION_SECRET", "DSR_OIDC_CLIENT_SECRET"}
    assert set(secret["stringData"]) == {
        "DSR_IDENTITY_SIGNING_KEY",
        "DSR_NHS_HASH_KEY",
        "DSR_SMTP_USERNAME",
        "DSR_SMTP_PASSWORD",
        *web,
    }
    assert unknown_variables("web", web) == []
    assert all(value.startswith("PLACEHOLDER-CHANGE-ME") for value in secret["stringData"].values())
    assert unknown_variables("notifier", set(secret["stringData"]) - {"DSR_IDENTITY_SIGNING_KEY"} - web) == []
    assert unknown_variables("identity", {"DSR_IDENTITY_SIGNING_KEY"}) == []


@pytest.mark.parametrize("area", AREAS)
def test_the_area_profile_is_the_shipped_one_and_loads_from_its_path(
    area: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    docs = rendered(area)
    profile = find(docs, "ConfigMap", "dsr-area-profile")["data"]["area.toml"]
    shipped = (PROFILES / f"{area}.toml").read_text("utf-8")
    assert profile == shipped, (
        f"copy shared/src/dsr_shared/rules/profiles/{area}.toml into deploy/k8s/areas/{area}/config.yaml"
    )
    config = find(docs, "ConfigMap", "dsr-config")["data"]
    for service in SERVICES:
        pod = find(docs, "Deployment", k8s_name(service))["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        (volume,) = [v for v in pod["volumes"] if v.get("configMap", {}).get("name") == "dsr-area-profile"]
        (mount,) = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
        (item,) = volume["configMap"]["items"]
        assert item["key"] == "area.toml" and mount.get("readOnly") is True and "subPath" not in mount
        assert f"{mount['mountPath']}/{item['path']}" == config["DSR_AREA_PROFILE"], service
    # The loader takes a path ending in .toml and merges it with defaults.toml.
    path = tmp_path / "area.toml"
    path.write_text(profile, "utf-8")
    loaded = settings_from("rating", {"DSR_AREA_PROFILE": str(path)}, monkeypatch).area
    assert loaded == load_profile(area)
    assert loaded.code == tomllib.loads(shipped)["code"] and loaded.obligation_rules


@pytest.mark.parametrize("area", AREAS)
def test_each_service_runs_safely_with_probes_limits_and_metrics(area: str):
    docs = rendered(area)
    assert (
        find(docs, "Namespace", f"dsr-{area}")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        == "restricted"
    )
    port = int(find(docs, "ConfigMap", "dsr-config")["data"]["DSR_HTTP_PORT"])
    for service in SERVICES:
        deployment = find(docs, "Deployment", k8s_name(service))
        assert deployment["metadata"]["namespace"] == f"dsr-{area}"
        template = deployment["spec"]["template"]
        labels = deployment["spec"]["selector"]["matchLabels"]
        assert labels.items() <= template["metadata"]["labels"].items()
        pod = template["spec"]
        (container,) = pod["containers"]
        assert re.fullmatch(rf"dsr/{k8s_name(service)}:[\w.-]+", container["image"]), container["image"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"http": port, **EXTRA_PORTS.get(service, {})}
        probes = {kind: container[kind]["httpGet"] for kind in ("startupProbe", "livenessProbe", "readinessProbe")}
        assert probes["readinessProbe"]["path"] == "/health/ready"
        assert probes["livenessProbe"]["path"] == probes["startupProbe"]["path"] == "/health/live"
        assert all(ports.get(p["port"], p["port"]) == port for p in probes.values())
        startup = container["startupProbe"]
        assert startup["periodSeconds"] * startup["failureThreshold"] > 120, "start-up waits up to 120 s for Kafka"
        annotations = template["metadata"]["annotations"]
        assert annotations == {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(port),
            "prometheus.io/path": "/metrics",
        }
        for bound in ("requests", "limits"):
            assert set(container["resources"][bound]) == {"cpu", "memory"}, (service, bound)
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False and security["readOnlyRootFilesystem"] is True
        assert security["capabilities"]["drop"] == ["ALL"]
        tmp = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
        assert tmp, "a writable /tmp beside the read-only root"
        svc = find(docs, "Service", k8s_name(service))
        assert svc["spec"]["selector"] == labels
        extra = [(number, name) for name, number in EXTRA_PORTS.get(service, {}).items()]
        assert [(p["port"], p["targetPort"]) for p in svc["spec"]["ports"]] == [(port, "http"), *extra]


@pytest.mark.parametrize("area", AREAS)
def test_rating_and_scheduler_scale_and_the_notifier_runs_alone(area: str):
    docs = rendered(area)
    deployments = {s: find(docs, "Deployment", k8s_name(s))["spec"] for s in SERVICES}
    assert deployments["rating"]["replicas"] >= 2 and deployments["scheduler"]["replicas"] >= 2
    # One notifier, and never two during a rollout.
    assert deployments["notifier"]["replicas"] == 1
    assert deployments["notifier"]["strategy"] == {"type": "Recreate"}
    for service in ("referral", "rating", "scheduler", "web", "hospital_gateway"):
        assert deployments[service]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


# --- docker-compose.yml ------------------------------------------------------------

COMPOSE = ROOT / "docker-compose.yml"
COMPOSE_ENV = {
    "DSR_NHS_HASH_KEY": "test-nhs-hash-key",
    "DSR_IDENTITY_SIGNING_KEY": "test-signing-key",
    "DSR_IDENTITY_PROVIDERS": '[{"name": "p", "issuer": "https://idp.invalid", "client_id": "web"}]',
    "DSR_SESSION_SECRET": "test-session-secret-for-compose-0123456789",
    "DSR_OIDC_ISSUER": "https://idp.invalid",
    "DSR_OIDC_CLIENT_SECRET": "test-oidc-client-secret",
}
_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<bare>\w+)")


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?error} and $$."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg")
        current = env.get(name)
        unset = current is None or (current == "" and op and op.startswith(":"))
        if op and op.endswith("-"):
            return arg if unset else current
        if op and op.endswith("?") and unset:
            raise KeyError(f"{name}: {arg}")
        return current or ""

    return _VARIABLE.sub(one, value)


@cache
def _compose_raw() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text("utf-8"))  # resolves the << merges


def compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    return interpolate(copy.deepcopy(_compose_raw()), COMPOSE_ENV if env is None else env)


@cache
def compose_validator() -> jsonschema.protocols.Validator:
    text = resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text("utf-8")
    schema = json.loads(text)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def compose_errors(doc: dict[str, Any]) -> list[str]:
    return [f"{'.'.join(map(str, e.path)) or '(top)'}: {e.message}" for e in compose_validator().iter_errors(doc)]


def test_compose_matches_the_compose_specification_schema():
    errors = compose_errors(compose())
    assert not errors, "\n".join(errors)


def test_the_compose_schema_check_rejects_a_misspelt_key():
    doc = compose()
    doc["services"]["rating"]["healthchek"] = doc["services"]["rating"].pop("healthcheck")
    doc["services"]["notifier"]["depends_on"]["smtp"]["condition"] = "service_ready"
    errors = " ".join(compose_errors(doc))
    assert "healthchek" in errors and "service_ready" in errors


def test_compose_refuses_to_start_without_the_secrets():
    for missing in (
        "DSR_NHS_HASH_KEY",
        "DSR_IDENTITY_SIGNING_KEY",
        "DSR_IDENTITY_PROVIDERS",
        "DSR_SESSION_SECRET",
        "DSR_OIDC_ISSUER",
        "DSR_OIDC_CLIENT_SECRET",
    ):
        with pytest.raises(KeyError, match=missing):
            compose({k: v for k, v in COMPOSE_ENV.items() if k != missing})


def test_every_compose_service_is_health_checked_and_waited_for():
    services = compose()["services"]
    for name, service in services.items():
        assert "healthcheck" in service, name
        for dependency, how in service.get("depends_on", {}).items():
            assert dependency in services, (name, dependency)
            assert how["condition"] == "service_healthy", (name, dependency)
    for name in BACKENDS:
        # The identity service has no broker.
        assert set(services[name]["depends_on"]) >= ({"mongo"} if name == "identity" else {"kafka", "mongo"})
    assert "smtp" in services["notifier"]["depends_on"]
    assert set(services["web"]["depends_on"]) == set(WEB_CALLS)


def dockerfile() -> tuple[dict[str, str], str]:
    """The run stage's ENV and USER (the stage every service's image is, or starts from)."""
    text = (ROOT / "deploy" / "Dockerfile").read_text("utf-8")
    (run_stage,) = [stage for stage in text.split("\nFROM ") if stage.startswith("python:3.11-slim AS runtime")]
    env: dict[str, str] = {}
    for line in run_stage.splitlines():
        if line.startswith("ENV "):
            env.update(pair.split("=", 1) for pair in line[4:].split())
    (user,) = [line.split()[1] for line in run_stage.splitlines() if line.startswith("USER ")]
    return env, user


def test_the_image_sets_only_known_variables_and_runs_unprivileged():
    env, user = dockerfile()
    dsr = {k for k in env if k.startswith("DSR_")}
    assert dsr and unknown_variables("referral", dsr) == []
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "numeric and not root (Kubernetes checks runAsNonRoot by number)"
    assert env["DSR_HTTP_HOST"] == "0.0.0.0"


def test_compose_services_are_wired_to_their_settings(monkeypatch: pytest.MonkeyPatch):
    doc = compose()
    services = doc["services"]
    image_env, _ = dockerfile()
    kafka = services["kafka"]["environment"]
    mongo = services["mongo"]
    replica_set = mongo["command"][mongo["command"].index("--replSet") + 1]
    assert f"_id: '{replica_set}'" in " ".join(mongo["healthcheck"]["test"])
    smtp = services["smtp"]["environment"]
    web = {k: str(v) for k, v in services["web"]["environment"].items()}
    assert unknown_variables("web", set(web)) == []
    with monkeypatch.context() as patch:
        settings = settings_from("web", {**image_env, **web}, patch)
    assert {
        settings.referral_url,
        settings.rating_url,
        settings.scheduler_url,
        settings.notifier_url,
        settings.identity_url,
    } == {f"http://{s}:8000" for s in WEB_CALLS}
    assert services["web"]["build"]["target"] == "web"
    for name in BACKENDS:
        service = services[name]
        assert service["build"]["args"]["SERVICE"] == name
        env = {k: str(v) for k, v in service["environment"].items()}
        assert all(k.startswith("DSR_") for k in env), name
        assert unknown_variables(name, set(env)) == [], name
        with monkeypatch.context() as patch:
            settings = settings_from(name, {**image_env, **env}, patch)
        assert settings.service_name == name
        # Kafka and MongoDB as the other containers offer them.
        assert f"PLAINTEXT://{settings.kafka_bootstrap}" in kafka["KAFKA_ADVERTISED_LISTENERS"].split(",")
        assert re.fullmatch(rf"mongodb://mongo:27017/\?replicaSet={replica_set}", settings.mongo_uri)
        # The HTTP port (and the MLLP port): published, health-checked.
        extra = [str(settings.mllp_port)] if name == "hospital_gateway" else []
        assert [p.split(":")[-1] for p in service["ports"]] == [str(settings.http_port), *extra]
        assert f"127.0.0.1:{settings.http_port}/health/ready" in " ".join(service["healthcheck"]["test"])
        # The area profile: mounted read-only from a shipped profile, and it loads.
        mounts = {v.split(":")[1]: v for v in service["volumes"]}
        source, target, mode = mounts[settings.area_profile].split(":")
        assert mode == "ro" and target == settings.area_profile
        shipped = (ROOT / source).resolve()
        assert shipped.parent == PROFILES.resolve() and shipped.exists()
        assert load_profile(str(shipped)).code
        if name == "notifier":
            assert settings.smtp_host == "smtp" and settings.smtp_starttls is False
            assert smtp["MP_SMTP_BIND_ADDR"].endswith(f":{settings.smtp_port}")
    # Every area's profile can be chosen (DSR_AREA), and only those.
    for area in AREAS:
        volumes = compose({**COMPOSE_ENV, "DSR_AREA": area})["services"]["rating"]["volumes"]
        assert (ROOT / volumes[0].split(":")[0]).resolve() == (PROFILES / f"{area}.toml").resolve()


def test_the_dlq_replay_script_compiles():
    # The runbook pipes it into a service's pod (deploy/ops/tests runs it).
    compile((ROOT / "deploy" / "ops" / "src" / "dsr_ops" / "dlq.py").read_text("utf-8"), "dlq.py", "exec")


def test_compose_keeps_kafka_data_on_its_volume():
    kafka = compose()["services"]["kafka"]
    (volume,) = kafka["volumes"]
    assert volume.split(":")[1] == kafka["environment"]["KAFKA_LOG_DIRS"]
