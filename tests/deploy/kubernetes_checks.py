"""Checks of deploy/kubernetes: Kubernetes schemas (offline, kubernetes-validate), Dapr fields, wiring."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from checks import inlined_secrets, load, resource_problems

KUBERNETES_VERSION = "1.30"
"""The Kubernetes API the manifests must validate against (schemas ship in kubernetes-validate)."""

NOT_APPLIED = {"kustomization.yaml", "secret.example.yaml"}
LOG_LEVELS = {"debug", "info", "warn", "error", "fatal", "panic"}


def schema_problems(doc: dict[str, Any], where: str) -> list[str]:
    """A Kubernetes object against the official schema of ``KUBERNETES_VERSION``, strictly (no unknown fields)."""
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{where}: {'.'.join(map(str, exc.path))}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{where}: no Kubernetes {KUBERNETES_VERSION} schema for {doc.get('apiVersion')}/{doc.get('kind')}"]
    return []


def _deployment_problems(doc: dict[str, Any], where: str, configurations: set[str], secrets: set[str]) -> list[str]:
    problems = []
    template = doc["spec"]["template"]
    notes = (template.get("metadata") or {}).get("annotations") or {}
    if notes.get("dapr.io/enabled") != "true":
        problems.append(f"{where}: needs the annotation dapr.io/enabled: \"true\"")
    if notes.get("dapr.io/config") not in configurations:
        problems.append(f"{where}: dapr.io/config {notes.get('dapr.io/config')!r} names no Configuration here")
    if notes.get("dapr.io/log-level", "info") not in LOG_LEVELS:
        problems.append(f"{where}: dapr.io/log-level must be one of {sorted(LOG_LEVELS)}")
    pod = template["spec"]
    for container in pod["containers"]:
        name = f"{where}: container {container['name']!r}"
        context = {**(pod.get("securityContext") or {}), **(container.get("securityContext") or {})}
        if context.get("runAsNonRoot") is not True or context.get("runAsUser") in (None, 0):
            problems.append(f"{name} must run as a non-root user")
        resources = container.get("resources") or {}
        if not {"cpu", "memory"} <= set(resources.get("requests") or {}) or "memory" not in (resources.get("limits") or {}):
            problems.append(f"{name} needs cpu and memory requests and a memory limit")
        if "livenessProbe" not in container:
            problems.append(f"{name} needs a liveness probe")
        for env in container.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("secretKeyRef")
            if ref is not None and ref.get("name") not in secrets:
                problems.append(f"{name}: {env['name']} refers to Secret {ref.get('name')!r}, which no file here defines")
            if ref is not None and ref.get("optional") is not True:
                problems.append(f"{name}: {env['name']} must be optional (the app runs offline without a key)")
    return problems


def kubernetes_problems(folder: Path, examples: Any, image_of: Any) -> list[str]:
    """What keeps ``kubectl apply -k folder`` from deploying every example, with its sidecar, safely."""
    problems: list[str] = []
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text(encoding="utf-8"))
    listed = list(kustomization.get("resources") or [])
    files = {p.name for p in folder.glob("*.yaml")}
    problems += [f"kustomization.yaml: lists {name}, which does not exist" for name in listed if name not in files]
    problems += [f"{name}: not listed in kustomization.yaml" for name in sorted(files - set(listed) - NOT_APPLIED)]
    docs = [(name, doc) for name in [*listed, *sorted(NOT_APPLIED - {"kustomization.yaml"})] if name in files
            for doc in load(folder / name)]
    configurations = {d["metadata"]["name"] for _, d in docs if d.get("kind") == "Configuration"}
    secrets = {d["metadata"]["name"] for _, d in docs if d.get("kind") == "Secret"}
    deployments: dict[str, tuple[str, dict[str, Any]]] = {}
    for name, doc in docs:
        where = f"{folder.name}/{name}"
        problems += inlined_secrets(doc, where)
        if str(doc.get("apiVersion", "")).startswith("dapr.io/"):
            problems += resource_problems(doc, where)
            continue
        invalid = schema_problems(doc, where)
        problems += invalid
        if doc.get("kind") == "Deployment" and not invalid:
            notes = doc["spec"]["template"].get("metadata", {}).get("annotations") or {}
            deployments[notes.get("dapr.io/app-id", "")] = (where, doc)
            problems += _deployment_problems(doc, where, configurations, secrets)
    stores = [d for _, d in docs if d.get("kind") == "Component" and str(d["spec"].get("type", "")).startswith("state.")]
    if len(stores) != 1 or {e.get("name"): e.get("value") for e in stores[0]["spec"].get("metadata") or []}.get(
            "actorStateStore") != "true":
        problems.append(f"{folder.name}: needs exactly one state store, with actorStateStore: \"true\"")
    for example in examples:
        if example.app_id not in deployments:
            problems.append(f"{example.app_id}: no Deployment with dapr.io/app-id {example.app_id!r}")
            continue
        where, doc = deployments[example.app_id]
        (container, *_) = doc["spec"]["template"]["spec"]["containers"]
        if container.get("image") != image_of(example):
            problems.append(f"{where}: runs {container.get('image')!r}, expected {image_of(example)!r}")
        if example.script not in " ".join(container.get("command") or []) + " ".join(container.get("args") or []):
            problems.append(f"{where}: does not run {example.script}")
    return problems
