"""Checks that docker-compose.yml wires every example to a sidecar the way Dapr needs (offline)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from checks import ROOT


def flags(command: list[str]) -> dict[str, str]:
    """``["./daprd", "--app-id", "a", "--log-level", "info"]`` -> ``{"--app-id": "a", ...}``."""
    return {word: command[i + 1] for i, word in enumerate(command[:-1]) if word.startswith("--")}


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Bind mounts of a service: container path -> host path (relative to the compose file)."""
    found = {}
    for volume in service.get("volumes") or []:
        source, target, *_ = str(volume).split(":")
        found[target] = source
    return found


def _serves_on(services: dict[str, Any], address: str, image: str, what: str) -> list[str]:
    host, _, port = address.rpartition(":")
    service = services.get(host)
    if service is None:
        return [f"{what} address {address!r} names no service"]
    problems = []
    if service.get("image") != image:
        problems.append(f"{what} service {host!r} runs {service.get('image')!r}, expected {image!r}")
    if flags(service.get("command") or []).get("--port") != port:
        problems.append(f"{what} service {host!r} does not listen on port {port}")
    return problems


def compose_problems(compose: dict[str, Any], examples: Any, runtime: str, root: Path = ROOT) -> list[str]:
    """What keeps an example of ``examples`` from running beside its sidecar under compose."""
    services: dict[str, Any] = compose.get("services") or {}
    problems: list[str] = []
    daprd = f"daprio/daprd:{runtime}"
    for example in examples:
        app = services.get(example.app_id)
        if app is None:
            problems.append(f"{example.app_id}: no compose service runs this example")
            continue
        sidecars = [name for name, s in services.items() if s.get("network_mode") == f"service:{example.app_id}"]
        if len(sidecars) != 1:
            problems.append(f"{example.app_id}: needs one sidecar with network_mode service:{example.app_id}, found {sidecars}")
            continue
        name, sidecar = sidecars[0], services[sidecars[0]]
        where = f"{name} (sidecar of {example.app_id})"
        if sidecar.get("image") != daprd:
            problems.append(f"{where}: image {sidecar.get('image')!r}, expected {daprd!r} (the SDK's runtime)")
        given = flags(sidecar.get("command") or [])
        if given.get("--app-id") != example.app_id:
            problems.append(f"{where}: --app-id {given.get('--app-id')!r}, expected {example.app_id!r}")
        mounts = _mounts(sidecar)
        resources = given.get("--resources-path")
        source = mounts.get(str(resources))
        if source is None or not (root / source).is_dir():
            problems.append(f"{where}: --resources-path {resources!r} is not a mounted components folder")
        for target, source in mounts.items():
            if source.startswith(".") and not (root / source).exists():
                problems.append(f"{where}: mounts {source!r}, which does not exist")
        config = given.get("--config")
        if config is not None and config not in mounts:
            problems.append(f"{where}: --config {config!r} is not mounted")
        for flag, image, what in (("--placement-host-address", f"daprio/placement:{runtime}", "placement"),
                                  ("--scheduler-host-address", f"daprio/scheduler:{runtime}", "scheduler")):
            if flag not in given:
                problems.append(f"{where}: {flag} is missing (workflows need the {what} service)")
            else:
                problems += [f"{where}: {p}" for p in _serves_on(services, given[flag], image, what)]
        env = {k: str(v) for k, v in (app.get("environment") or {}).items()}
        if env.get("DAPR_GRPC_PORT") != given.get("--dapr-grpc-port", "50001"):
            problems.append(f"{example.app_id}: DAPR_GRPC_PORT {env.get('DAPR_GRPC_PORT')!r} is not its sidecar's "
                            f"--dapr-grpc-port {given.get('--dapr-grpc-port', '50001')!r}")
        http_port = given.get("--dapr-http-port", "3500")
        probe = " ".join((app.get("healthcheck") or {}).get("test") or [])
        if f":{http_port}/v1.0/healthz" not in probe:
            problems.append(f"{example.app_id}: its healthcheck does not probe the sidecar's /v1.0/healthz on {http_port}")
        build = app.get("build") or {}
        args = build.get("args") or {}
        if args.get("EXAMPLE") != example.script or args.get("EXTRAS") != example.extra:
            problems.append(f"{example.app_id}: builds {args!r}, expected EXAMPLE={example.script} EXTRAS={example.extra}")
        if example.script not in " ".join(app.get("command") or []):
            problems.append(f"{example.app_id}: its command does not run {example.script}")
        needs = app.get("depends_on") or {}
        if (needs.get("redis") or {}).get("condition") != "service_healthy":
            problems.append(f"{example.app_id}: must start once redis is healthy")
        if example.app_id not in (sidecar.get("depends_on") or {}):
            problems.append(f"{where}: must depend on {example.app_id}, whose network namespace it joins")
    redis_probe = ((services.get("redis") or {}).get("healthcheck") or {}).get("test") or []
    if "redis-cli" not in redis_probe or "ping" not in redis_probe:
        problems.append("redis: needs a redis-cli ping healthcheck")
    scheduler = services.get("scheduler") or {}
    data_dir = flags(scheduler.get("command") or []).get("--etcd-data-dir")
    if data_dir is None or data_dir not in _mounts(scheduler):
        problems.append("scheduler: its --etcd-data-dir must be a volume (it holds the scheduler's jobs)")
    for name, service in services.items():
        tag = str(service.get("image", "")).rpartition(":")[2]
        if "image" in service and (":" not in service["image"] or tag in {"", "latest", "edge"}):
            problems.append(f"{name}: image {service['image']!r} is not pinned to a version")
    return problems
