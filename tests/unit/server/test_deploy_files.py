"""deploy/: Kubernetes manifests valid against the bundled Kubernetes schemas (offline), the Dockerfile parsed
and checked (multi-stage, non-root, healthcheck), compose and the sample llmkit.toml loadable."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
MANIFESTS = sorted((DEPLOY / "k8s").glob("*.yaml"))


def _resources() -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    out = []
    for path in MANIFESTS:
        out += [(f"{path.name}:{d['kind']}", d) for d in yaml.safe_load_all(path.read_text()) if d]
    return out


@pytest.mark.parametrize(("name", "resource"), _resources(), ids=[n for n, _ in _resources()])
def test_manifest_is_valid_kubernetes(name: str, resource: dict) -> None:  # type: ignore[type-arg]
    import kubernetes_validate

    kubernetes_validate.validate(resource, "1.30.0", strict=True)  # schemas ship inside the package: offline


def test_manifests_cover_the_kinds_and_probes() -> None:
    kinds = {r["kind"] for _, r in _resources()}
    assert {"Deployment", "Service", "ConfigMap", "Secret", "HorizontalPodAutoscaler", "PodDisruptionBudget"} <= kinds
    deployment = next(r for _, r in _resources() if r["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_invalid_manifest_is_caught() -> None:
    import kubernetes_validate

    bad = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"ports": [{"port": "eighty"}]}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, "1.30.0", strict=True)


def test_dockerfile_is_multistage_and_non_root() -> None:
    from dockerfile_parse import DockerfileParser

    parser = DockerfileParser(path=str(DEPLOY / "Dockerfile"))
    instructions = [i["instruction"] for i in parser.structure]
    assert instructions.count("FROM") == 2 and parser.is_multistage
    user = [i["value"] for i in parser.structure if i["instruction"] == "USER"]
    assert user and not user[-1].startswith(("root", "0"))
    assert "HEALTHCHECK" in instructions and "EXPOSE" in instructions
    copies = [i["value"] for i in parser.structure if i["instruction"] == "COPY"]
    assert any("--from=build" in c for c in copies)
    assert all(i["value"].strip() for i in parser.structure)  # no empty instructions


def test_compose_and_sample_config() -> None:
    from llmkit.config import load_settings

    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"llmkit", "postgres", "vllm"} <= set(services)
    assert services["vllm"]["profiles"] == ["vllm"] and "pgvector" in services["postgres"]["image"]
    assert services["llmkit"]["build"]["dockerfile"] == "deploy/Dockerfile"
    settings = load_settings(DEPLOY / "llmkit.toml")
    assert settings.server.auth == "keys"
    configmap = next(r for _, r in _resources() if r["kind"] == "ConfigMap")
    import tomllib

    assert tomllib.loads(configmap["data"]["llmkit.toml"])["server"]["auth"] == "keys"
