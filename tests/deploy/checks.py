"""Checks of the Dapr resource files and run files, as Dapr documents them (offline)."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # the deploy package: the list of examples and its renderer
SECRET_NAME = re.compile(r"password|secret|token|apikey|api_key|connectionstring|key$", re.IGNORECASE)
SECRET_FIELD = re.compile(r"password|token|api_?key|secret(?!keyref|store)|connectionstring", re.IGNORECASE)
SECRET_VALUE = re.compile(r"\bsk-[A-Za-z0-9_-]{8,}|\bghp_[A-Za-z0-9]{20,}")
APP_ID = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")
RETRY_POLICIES = {"constant", "exponential"}


def load(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def resource_problems(doc: dict[str, Any], where: str) -> list[str]:
    """What a Dapr Component or Resiliency lacks of the fields Dapr requires."""
    problems = []
    if doc.get("apiVersion") != "dapr.io/v1alpha1":
        problems.append(f"{where}: apiVersion must be dapr.io/v1alpha1")
    if not (doc.get("metadata") or {}).get("name"):
        problems.append(f"{where}: metadata.name is required")
    spec = doc.get("spec") or {}
    if doc.get("kind") == "Component":
        if not re.fullmatch(r"[a-z]+\.[a-z0-9.]+", str(spec.get("type", ""))):
            problems.append(f"{where}: spec.type must name a component type such as state.redis")
        if not re.fullmatch(r"v\d+", str(spec.get("version", ""))):
            problems.append(f"{where}: spec.version must be like v1")
        for entry in spec.get("metadata") or []:
            name = entry.get("name")
            if not name:
                problems.append(f"{where}: a metadata entry has no name")
            has_value, has_ref = "value" in entry, "secretKeyRef" in entry
            if has_value == has_ref:
                problems.append(f"{where}: metadata {name!r} needs exactly one of value or secretKeyRef")
            if has_value and SECRET_NAME.search(str(name)) and str(entry["value"]):
                problems.append(f"{where}: metadata {name!r} inlines a secret; use secretKeyRef")
            if has_ref and not {"name", "key"} <= set(entry["secretKeyRef"]):
                problems.append(f"{where}: secretKeyRef of {name!r} needs name and key")
    elif doc.get("kind") == "Resiliency":
        problems += _policy_problems(spec, where)
        policies = spec.get("policies") or {}
        known = {kind: set(policies.get(kind) or {}) for kind in ("timeouts", "retries", "circuitBreakers")}
        for group in (spec.get("targets") or {}).values():
            for target, uses in (group or {}).items():
                for use in [uses, *(uses.get(d) for d in ("inbound", "outbound") if isinstance(uses, dict))]:
                    if not isinstance(use, dict):
                        continue
                    for field, kind in (("timeout", "timeouts"), ("retry", "retries"), ("circuitBreaker", "circuitBreakers")):
                        if field in use and use[field] not in known[kind]:
                            problems.append(f"{where}: target {target!r} uses undefined {field} {use[field]!r}")
    elif doc.get("kind") == "Configuration":
        problems += _configuration_problems(spec, where)
    else:
        problems.append(f"{where}: kind {doc.get('kind')!r} is not a Component, Configuration or Resiliency")
    return problems


def _policy_problems(spec: dict[str, Any], where: str) -> list[str]:
    """Resiliency: ``policies`` and ``targets`` are required; durations in Go's format."""
    problems = [f"{where}: spec.{field} is required" for field in ("policies", "targets") if not spec.get(field)]
    policies = spec.get("policies") or {}
    for name, value in (policies.get("timeouts") or {}).items():
        if not DURATION.fullmatch(str(value)):
            problems.append(f"{where}: timeout {name!r} is not a duration like 30s: {value!r}")
    for name, retry in (policies.get("retries") or {}).items():
        if retry.get("policy") not in RETRY_POLICIES:
            problems.append(f"{where}: retry {name!r} needs policy constant or exponential")
        if retry.get("policy") == "constant" and not DURATION.fullmatch(str(retry.get("duration", ""))):
            problems.append(f"{where}: constant retry {name!r} needs a duration")
        if not isinstance(retry.get("maxRetries", -1), int):
            problems.append(f"{where}: retry {name!r} maxRetries must be a number")
    for name, breaker in (policies.get("circuitBreakers") or {}).items():
        if not re.fullmatch(r"consecutiveFailures\s*(>|>=)\s*\d+", str(breaker.get("trip", ""))):
            problems.append(f"{where}: circuit breaker {name!r} needs a trip such as consecutiveFailures > 5")
        if not DURATION.fullmatch(str(breaker.get("timeout", ""))):
            problems.append(f"{where}: circuit breaker {name!r} needs a timeout duration")
    return problems


def _configuration_problems(spec: dict[str, Any], where: str) -> list[str]:
    """Configuration: workflow concurrency limits are positive numbers, sampling a rate in [0, 1]."""
    problems = []
    workflow = spec.get("workflow") or {}
    for field in ("maxConcurrentWorkflowInvocations", "maxConcurrentActivityInvocations"):
        value = workflow.get(field)
        if value is not None and not (isinstance(value, int) and value > 0):
            problems.append(f"{where}: spec.workflow.{field} must be a positive number, got {value!r}")
    unknown = set(workflow) - {"maxConcurrentWorkflowInvocations", "maxConcurrentActivityInvocations"}
    if unknown:
        problems.append(f"{where}: spec.workflow has unknown fields {sorted(unknown)}")
    tracing = spec.get("tracing")
    if tracing is not None:
        rate = tracing.get("samplingRate")
        try:
            ok = isinstance(rate, str) and 0.0 <= float(rate) <= 1.0
        except ValueError:
            ok = False
        if not ok:
            problems.append(f"{where}: spec.tracing.samplingRate must be a quoted rate between \"0\" and \"1\"")
        otel = tracing.get("otel")
        if otel is not None and not otel.get("endpointAddress"):
            problems.append(f"{where}: spec.tracing.otel needs an endpointAddress")
    return problems


def inlined_secrets(value: Any, where: str) -> list[str]:
    """Secret-looking fields holding a literal: ``password: x``, ``{name: API_KEY, value: x}``.

    Empty values and environment references (``${OPENAI_API_KEY:-}``) pass through what the
    environment holds and are fine; so are ``secretKeyRef`` entries.
    """
    problems = []

    def literal(v: Any) -> bool:
        return isinstance(v, (str, int)) and str(v) != "" and not str(v).startswith("${")

    if isinstance(value, dict):
        named = value.get("name")
        if isinstance(named, str) and SECRET_FIELD.search(named) and literal(value.get("value")):
            problems.append(f"{where}: {named} is given a literal value; use a secret reference")
        for key, item in value.items():
            if isinstance(key, str) and SECRET_FIELD.search(key) and literal(item):
                problems.append(f"{where}: {key} holds a literal; pass it from the environment or a secret")
            problems += inlined_secrets(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problems += inlined_secrets(item, f"{where}[{index}]")
    return problems


def resources_problems(folder: Path) -> list[str]:
    """A resources path must hold valid resources and exactly one workflow-ready state store."""
    problems: list[str] = []
    stores = []
    for path in sorted(folder.glob("*.yaml")):
        for doc in load(path):
            problems += resource_problems(doc, str(path.relative_to(ROOT)))
            spec = doc.get("spec") or {}
            if doc.get("kind") == "Component" and str(spec.get("type", "")).startswith("state."):
                stores.append((path, {e.get("name"): e.get("value") for e in spec.get("metadata") or []}))
        if SECRET_VALUE.search(path.read_text(encoding="utf-8")):
            problems.append(f"{path.relative_to(ROOT)}: holds what looks like an API key")
    if len(stores) != 1:
        problems.append(f"{folder.relative_to(ROOT)}: needs exactly one state store, found {len(stores)}")
    for path, metadata in stores:
        if metadata.get("actorStateStore") != "true":
            problems.append(f"{path.relative_to(ROOT)}: workflows need actorStateStore: \"true\"")
    return problems


def run_line_problems(line: str, known_ids: set[str]) -> list[str]:
    """A ``dapr run --app-id ... --resources-path ... -- python FILE`` line must point at what exists."""
    words = shlex.split(line.replace("\\\n", " "))
    problems = []
    try:
        app_id = words[words.index("--app-id") + 1]
        resources = words[words.index("--resources-path") + 1]
        command = words[words.index("--") + 1:]
    except (ValueError, IndexError):
        return [f"{line!r}: needs --app-id, --resources-path and -- COMMAND"]
    if not APP_ID.fullmatch(app_id):
        problems.append(f"{line!r}: app id {app_id!r} is not a valid Dapr app id")
    if known_ids and app_id not in known_ids:
        problems.append(f"{line!r}: app id {app_id!r} is not an app of dapr.yaml")
    if not (ROOT / resources).is_dir():
        problems.append(f"{line!r}: resources path {resources!r} does not exist")
    scripts = [w for w in command if w.endswith(".py")]
    if command[:1] != ["python"] or not scripts or not (ROOT / scripts[0]).is_file():
        problems.append(f"{line!r}: the command must run an existing python file")
    return problems


def dapr_run_lines(text: str) -> list[str]:
    """Every ``dapr run --app-id`` command of a README (backslash continuations joined)."""
    joined = text.replace("\\\n", " ")
    return [m.group(0) for m in re.finditer(r"dapr run --app-id[^\n`]*", joined)]


def unwired_apps(root: Path, scripts: set[str]) -> list[str]:
    """Example apps (``examples/*/*app.py``) that no entry of deploy/examples.py runs, and entries without a file."""
    apps = {str(p.relative_to(root)) for p in root.glob("examples/*/*app.py")}
    return [f"{a}: not in deploy/examples.py" for a in sorted(apps - scripts)] + [
        f"{s}: in deploy/examples.py but missing" for s in sorted(scripts - apps)]
