"""deploy/kubernetes: valid against the Kubernetes schemas offline, Dapr-ready, one Deployment per example."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from checks import ROOT, load
from kubernetes_checks import KUBERNETES_VERSION, kubernetes_problems, schema_problems

from deploy.examples import EXAMPLES
from deploy.render import image

FOLDER = ROOT / "deploy" / "kubernetes"


def test_the_manifests_validate_and_deploy_every_example_with_a_sidecar() -> None:
    assert kubernetes_problems(FOLDER, EXAMPLES, image) == []


def test_the_schemas_are_the_ones_shipped_for_the_pinned_kubernetes_version() -> None:
    (deployment,) = load(FOLDER / f"{EXAMPLES[0].app_id}.yaml")
    assert schema_problems(deployment, "deployment") == []
    deployment["spec"]["replicas"] = "two"
    assert schema_problems(deployment, "deployment") == ["deployment: spec.replicas: 'two' is not of type 'integer', 'null'"]
    deployment["spec"]["replicas"] = 2
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}  # a typo is not accepted
    (problem,) = schema_problems(deployment, "deployment")
    assert "'livenesProbe' was unexpected" in problem
    assert schema_problems({"apiVersion": "dapr.io/v1alpha1", "kind": "Component"}, "c") == [
        f"c: no Kubernetes {KUBERNETES_VERSION} schema for dapr.io/v1alpha1/Component"]


def _write(path: Path, docs: list[dict]) -> None:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))


def test_the_checks_catch_a_missing_deployment_an_inlined_key_and_a_root_container(tmp_path: Path) -> None:
    broken = tmp_path / "kubernetes"
    shutil.copytree(FOLDER, broken)
    weather, refund, crew = EXAMPLES[:3]
    (broken / f"{weather.app_id}.yaml").unlink()
    (deployment,) = load(broken / f"{refund.app_id}.yaml")
    pod = deployment["spec"]["template"]["spec"]
    pod["securityContext"]["runAsNonRoot"] = False
    container = pod["containers"][0]
    container["env"].append({"name": "OPENAI_API_KEY", "value": "sk-not-a-real-key-but-looks-like-one"})
    del container["livenessProbe"]
    deployment["spec"]["template"]["metadata"]["annotations"]["dapr.io/config"] = "nowhere"
    _write(broken / f"{refund.app_id}.yaml", [deployment])
    (deployment,) = load(broken / f"{crew.app_id}.yaml")
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": "http"}]
    _write(broken / f"{crew.app_id}.yaml", [deployment])
    (store,) = load(broken / "statestore.yaml")
    store["spec"]["metadata"] = [m for m in store["spec"]["metadata"] if m["name"] != "actorStateStore"]
    _write(broken / "statestore.yaml", [store])
    (broken / "stray.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: stray}\n")

    problems = "\n".join(kubernetes_problems(broken, EXAMPLES, image))
    assert f"kustomization.yaml: lists {weather.app_id}.yaml, which does not exist" in problems
    assert f"{weather.app_id}: no Deployment with dapr.io/app-id" in problems
    assert "stray.yaml: not listed in kustomization.yaml" in problems
    assert "must run as a non-root user" in problems
    assert "needs a liveness probe" in problems
    assert "OPENAI_API_KEY is given a literal value" in problems
    assert "dapr.io/config 'nowhere' names no Configuration here" in problems
    assert f"kubernetes/{crew.app_id}.yaml: spec.template.spec.containers.0.ports.0.containerPort" in problems
    assert 'needs exactly one state store, with actorStateStore: "true"' in problems


def test_model_keys_come_from_an_optional_secret_whose_example_holds_no_key() -> None:
    (secret,) = load(FOLDER / "secret.example.yaml")
    assert set(secret["stringData"].values()) == {""}
    for example in EXAMPLES:
        (deployment,) = load(FOLDER / f"{example.app_id}.yaml")
        env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
        ref = env["OPENAI_API_KEY"]["valueFrom"]["secretKeyRef"]
        assert (ref["name"], ref["optional"]) == (secret["metadata"]["name"], True)
