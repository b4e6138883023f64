"""deploy/ cannot run here (no Docker, no cluster): parse it and check it agrees with the app."""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

import pytest
import yaml

from mlops_course.serving.__main__ import build_parser, listen_address
from mlops_course.serving.app import create_app
from mlops_course.serving.settings import (
    DEFAULT_PORT,
    ENV_PREFIX,
    HEALTH_PATH,
    METRICS_PATH,
    PREDICT_PATH,
    READY_PATH,
    ServingSettings,
)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SETTINGS_FIELDS = {field.name for field in dataclasses.fields(ServingSettings)}
CLI_ONLY_ENV = {"HOST", "PORT"}  # read by the CLI, not part of the app settings


def load_all(name: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all((DEPLOY / name).read_text()) if doc]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def assert_env_known(names: list[str]) -> None:
    for name in names:
        if name.startswith(ENV_PREFIX):
            suffix = name.removeprefix(ENV_PREFIX)
            assert suffix.lower() in SETTINGS_FIELDS or suffix in CLI_ONLY_ENV, name


@pytest.fixture(scope="module")
def app_paths(tmp_path_factory) -> set[str]:
    settings = ServingSettings(
        model_uri="unused", log_path=tmp_path_factory.mktemp("d") / "l.sqlite"
    )
    return {route.path for route in create_app(settings).routes}


def test_the_app_serves_the_paths_deploy_uses(app_paths: set[str]) -> None:
    assert {HEALTH_PATH, READY_PATH, METRICS_PATH, PREDICT_PATH} <= app_paths


def test_dockerfile() -> None:
    instructions = dockerfile_instructions()
    by_name: dict[str, list[str]] = {}
    for name, args in instructions:
        by_name.setdefault(name, []).append(args)
    base = by_name["FROM"][0]
    assert "slim" in base and ":" in base and not base.endswith(":latest")
    assert base.split(":")[1][0].isdigit()  # an exact version tag, e.g. 3.11.7-slim-...
    user = by_name["USER"][-1]
    assert user not in ("root", "0")
    assert instructions.index(("USER", user)) > max(
        i for i, (name, _) in enumerate(instructions) if name == "RUN"
    )  # the switch comes after the last RUN: the service process never runs as root
    assert by_name["EXPOSE"] == [str(DEFAULT_PORT)]
    env = dockerfile_env()
    command = yaml.safe_load(by_name["CMD"][0])  # exec form is a JSON array
    assert command[:3] == ["python", "-m", "mlops_course.serving"]
    # The address the CLI resolves in the image: the one EXPOSE and HEALTHCHECK use.
    assert listen_address(build_parser().parse_args(command[3:]), env) == ("0.0.0.0", DEFAULT_PORT)
    healthcheck = by_name["HEALTHCHECK"][0]
    assert "os.environ['MLOPS_SERVING_PORT']" in healthcheck and HEALTH_PATH in healthcheck
    assert_env_known(list(env))
    # Only hashed pins are installed; the package itself runs from source.
    assert "requirements.lock" in " ".join(by_name["RUN"])
    assert not any("pip install" in run and "-r" not in run for run in by_name["RUN"])
    assert env["PYTHONPATH"] == "/app/src" and "src ./src" in by_name["COPY"]


def test_kubernetes_deployment_probes_ports_and_resources() -> None:
    (deployment,) = load_all("k8s/deployment.yaml")
    assert deployment["kind"] == "Deployment"
    pod = deployment["spec"]["template"]
    assert (
        deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    )
    (container,) = pod["spec"]["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"http": DEFAULT_PORT}
    for probe, path in (("livenessProbe", HEALTH_PATH), ("readinessProbe", READY_PATH)):
        http_get = container[probe]["httpGet"]
        assert http_get["path"] == path
        assert ports.get(http_get["port"], http_get["port"]) == DEFAULT_PORT
    resources = container["resources"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources[kind])
    assert resources["limits"]["memory"].endswith(("Mi", "Gi"))
    limit_mib = int(resources["limits"]["memory"][:-2]) * (
        1024 if resources["limits"]["memory"].endswith("Gi") else 1
    )
    assert limit_mib >= 700  # measured RSS with two models stays below this
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == METRICS_PATH
    assert annotations["prometheus.io/port"] == str(DEFAULT_PORT)
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    env = container_env(container)
    assert_env_known(list(env))
    settings = ServingSettings.from_env(env)  # the manifest's environment is valid settings
    assert settings.model_uri.startswith("models:/") and settings.model_uri.endswith("@champion")


def container_env(container: dict) -> dict[str, str]:
    """The container's environment; a value from a Secret becomes a placeholder."""
    return {
        item["name"]: item["value"] if "value" in item else f"<{item['valueFrom']}>"
        for item in container["env"]
    }


def dockerfile_env() -> dict[str, str]:
    pairs = (part.split("=", 1) for name, args in dockerfile_instructions() if name == "ENV"
             for part in shlex.split(args))  # fmt: skip
    return dict(pairs)


def test_admin_is_never_open_to_the_network_without_a_token() -> None:
    image = dockerfile_env()
    host = image["MLOPS_SERVING_HOST"]
    assert not ServingSettings.from_env(image).admin_exposed(host)  # plain `docker run`
    (deployment,) = load_all("k8s/deployment.yaml")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    pod = ServingSettings.from_env(image | container_env(container))
    assert pod.admin_enabled and pod.admin_token  # A/B switching in the cluster, with a token
    secret = next(i for i in container["env"] if i["name"] == "MLOPS_SERVING_ADMIN_TOKEN")
    assert "secretKeyRef" in secret["valueFrom"]  # never a token written in the manifest


def test_kubernetes_service_and_autoscaler_point_at_the_deployment() -> None:
    (deployment,) = load_all("k8s/deployment.yaml")
    (service,) = load_all("k8s/service.yaml")
    (hpa,) = load_all("k8s/hpa.yaml")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    port_names = {
        p["name"] for p in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
    }
    assert all(p["targetPort"] in port_names | {DEFAULT_PORT} for p in service["spec"]["ports"])
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def test_prometheus_scrapes_the_metrics_path() -> None:
    (config,) = load_all("prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    local = jobs["delivery-delay-service"]
    assert local["metrics_path"] == METRICS_PATH
    targets = [t for static in local["static_configs"] for t in static["targets"]]
    assert targets == [f"127.0.0.1:{DEFAULT_PORT}"]


def test_in_cluster_prometheus_keeps_the_annotated_pods() -> None:
    (config_map,) = load_all("k8s/prometheus-config.yaml")
    assert config_map["kind"] == "ConfigMap"
    config = yaml.safe_load(config_map["data"]["prometheus.yml"])
    (job,) = config["scrape_configs"]
    assert job["kubernetes_sd_configs"] == [{"role": "pod"}]
    keep = next(rule for rule in job["relabel_configs"] if rule.get("action") == "keep")
    assert keep["source_labels"] == ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"]
    (deployment,) = load_all("k8s/deployment.yaml")
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == keep["regex"] == "true"


def test_readme_says_docker_cannot_run_here() -> None:
    text = (DEPLOY / "README.md").read_text()
    assert "cannot run" in text and "test_deploy.py" in text
