"""deploy/: Kubernetes manifests valid against the bundled Kubernetes schemas (offline), the Dockerfile parsed
and checked (multi-stage, non-root, healthcheck), compose and the sample llmkit.toml loadable."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
#: What `kubectl apply -f deploy/k8s/` applies, and the Secret's example (created by hand: no credentials here).
MANIFESTS = sorted([*(DEPLOY / "k8s").glob("*.yaml"), DEPLOY / "k8s" / "secret.yaml.example"])


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
    # one pod at a time on the SQLite files of the data volume (keys, traces), whatever the HPA may do
    hpa = next(r for _, r in _resources() if r["kind"] == "HorizontalPodAutoscaler")
    claim = next(r for _, r in _resources() if r["kind"] == "PersistentVolumeClaim")
    assert deployment["spec"]["replicas"] == hpa["spec"]["maxReplicas"] == 1
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"] and deployment["spec"]["strategy"]["type"] == "Recreate"
    assert not any("password" in p.read_text().lower() for p in (DEPLOY / "k8s").glob("*.yaml"))  # none applied


def test_the_image_installs_what_the_manifests_use() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert ".[local,serve,postgres]" in dockerfile  # compose and the Secret point the store at PostgreSQL
    assert "all-minilm-l6-v2-q8" in dockerfile  # the default embedder
    makefile = (DEPLOY.parent / "Makefile").read_text()
    pinned = (line for line in makefile.splitlines() if line.startswith("LLAMA_CPP_VERSION"))
    version = next(pinned).split(":=")[1].strip()
    assert f"LLAMA_CPP_VERSION={version}" in dockerfile  # the llama.cpp the tests ran


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
