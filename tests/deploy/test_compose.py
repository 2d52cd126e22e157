"""docker-compose.yml: every example beside its own sidecar, wired as Dapr workflows need."""

from __future__ import annotations

import copy

import pytest
from checks import ROOT, inlined_secrets, load, resource_problems
from compose_checks import compose_problems

from deploy.examples import DAPR_RUNTIME_VERSION, EXAMPLES


@pytest.fixture()
def compose() -> dict:
    (doc,) = load(ROOT / "docker-compose.yml")
    return doc


def test_every_example_runs_beside_a_sidecar_in_its_network_namespace(compose: dict) -> None:
    assert compose_problems(compose, EXAMPLES, DAPR_RUNTIME_VERSION) == []
    assert len(compose["services"]) == 3 + 2 * len(EXAMPLES)  # redis, placement, scheduler; app and sidecar each


def test_the_compose_file_inlines_no_key_and_passes_model_keys_from_the_environment(compose: dict) -> None:
    assert inlined_secrets(compose, "docker-compose.yml") == []
    for example in EXAMPLES:
        assert compose["services"][example.app_id]["environment"]["OPENAI_API_KEY"] == "${OPENAI_API_KEY:-}"


def test_the_checks_catch_a_miswired_sidecar(compose: dict) -> None:
    weather, refund, crew = (e.app_id for e in EXAMPLES[:3])
    broken = copy.deepcopy(compose)
    services = broken["services"]
    services[f"{weather}-dapr"]["network_mode"] = f"service:{refund}"            # two sidecars for refund, none for weather
    command = services[f"{refund}-dapr"]["command"]
    command[command.index("--scheduler-host-address") + 1] = "scheduler:6060"   # the wrong port
    command[command.index("--app-id") + 1] = "someone-else"
    services[f"{crew}-dapr"]["image"] = "daprio/daprd:1.15.0"                    # not the SDK's runtime
    services[f"{crew}-dapr"]["volumes"] = []                                     # no resources mounted
    services[crew]["environment"]["DAPR_GRPC_PORT"] = "50002"
    services[crew]["depends_on"]["redis"] = {"condition": "service_started"}
    services["redis"]["image"] = "redis:latest"
    services["scheduler"]["volumes"] = []
    del services[crew]["healthcheck"]
    services[crew]["environment"]["DAPR_API_TOKEN"] = "hunter22"

    problems = "\n".join(compose_problems(broken, EXAMPLES, DAPR_RUNTIME_VERSION))
    assert f"{weather}: needs one sidecar with network_mode service:{weather}, found []" in problems
    assert f"{refund}: needs one sidecar" in problems
    assert f"expected 'daprio/daprd:{DAPR_RUNTIME_VERSION}'" in problems
    assert "--resources-path '/components' is not a mounted components folder" in problems
    assert f"{crew}: DAPR_GRPC_PORT '50002' is not its sidecar's --dapr-grpc-port '50001'" in problems
    assert f"{crew}: its healthcheck does not probe the sidecar's /v1.0/healthz" in problems
    assert f"{crew}: must start once redis is healthy" in problems
    assert "redis: image 'redis:latest' is not pinned" in problems
    assert "scheduler: its --etcd-data-dir must be a volume" in problems
    assert "DAPR_API_TOKEN holds a literal" in "\n".join(inlined_secrets(broken, "docker-compose.yml"))

    services[f"{weather}-dapr"]["network_mode"] = f"service:{weather}"
    services.pop(f"{refund}-dapr")
    refund_sidecar = copy.deepcopy(compose["services"][f"{refund}-dapr"])
    refund_sidecar["command"][refund_sidecar["command"].index("--scheduler-host-address") + 1] = "scheduler:6060"
    services[f"{refund}-dapr"] = refund_sidecar
    assert "scheduler service 'scheduler' does not listen on port 6060" in "\n".join(
        compose_problems(broken, EXAMPLES, DAPR_RUNTIME_VERSION))


def test_the_compose_state_store_is_the_components_one_on_the_redis_service() -> None:
    (overlay,) = load(ROOT / "deploy" / "compose" / "statestore.yaml")
    (original,) = load(ROOT / "components" / "statestore.yaml")
    assert resource_problems(overlay, "deploy/compose/statestore.yaml") == []
    assert (overlay["metadata"], overlay["spec"]["type"], overlay["spec"]["version"]) == (
        original["metadata"], original["spec"]["type"], original["spec"]["version"])
    overlay_fields, original_fields = ({e["name"]: e["value"] for e in doc["spec"]["metadata"]} for doc in (overlay, original))
    assert overlay_fields.pop("redisHost") == "redis:6379"
    original_fields.pop("redisHost")
    assert overlay_fields == original_fields == {"actorStateStore": "true"}
