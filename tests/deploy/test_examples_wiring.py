"""The single list of examples: every example app is in it, and every file rendered from it is current."""

from __future__ import annotations

import ast
import re
import shutil
import tomllib
from pathlib import Path

from checks import ROOT, SECRET_VALUE, dapr_run_lines, inlined_secrets, load, resource_problems, unwired_apps

from deploy import render
from deploy.examples import DAPR_RUNTIME_VERSION, EXAMPLES

DEPLOYMENT_FILES = sorted({*ROOT.glob("components/**/*.yaml"), *ROOT.glob("deploy/**/*.yaml"),
                           ROOT / "dapr.yaml", ROOT / "docker-compose.yml", ROOT / "Dockerfile"})


def test_every_example_app_is_in_the_list_of_examples() -> None:
    assert unwired_apps(ROOT, {e.script for e in EXAMPLES}) == []
    assert len({e.app_id for e in EXAMPLES}) == len(EXAMPLES)


def _serves(source: str) -> bool:
    """Whether an app defines a ``--serve`` option and calls ``serve()`` (what the containers run)."""
    calls = [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)]
    option = any(isinstance(c.func, ast.Attribute) and c.func.attr == "add_argument"
                 and any(isinstance(a, ast.Constant) and a.value == "--serve" for a in c.args) for c in calls)
    return option and any(isinstance(c.func, ast.Name) and c.func.id == "serve" for c in calls)


def test_every_example_the_containers_run_with_serve_has_that_option() -> None:
    for example in EXAMPLES:
        assert _serves((ROOT / example.script).read_text()), f"{example.script} has no --serve that calls serve()"
        assert f"exec {' '.join(example.command)}" in render.app_shell(example).replace("'", "")
    assert not _serves("import argparse\nargparse.ArgumentParser().add_argument('--serve')\n")


def test_a_new_example_app_without_an_entry_is_caught(tmp_path: Path) -> None:
    for example in EXAMPLES:
        (tmp_path / example.script).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / example.script).write_text("")
    (tmp_path / "examples" / "smolagents").mkdir()
    (tmp_path / "examples" / "smolagents" / "app.py").write_text("")
    (tmp_path / "examples" / "crewai" / "app.py").unlink()
    assert unwired_apps(tmp_path, {e.script for e in EXAMPLES}) == [
        "examples/smolagents/app.py: not in deploy/examples.py",
        "examples/crewai/app.py: in deploy/examples.py but missing",
    ]


def test_the_rendered_files_are_up_to_date() -> None:
    assert render.stale() == [], "run: python -m deploy.render"


def test_a_hand_edited_or_missing_rendered_file_is_caught(tmp_path: Path) -> None:
    for path, text in render.rendered().items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    assert render.stale(tmp_path) == []
    compose = tmp_path / "docker-compose.yml"
    compose.write_text(compose.read_text().replace("daprio/daprd:", "daprio/daprd:1.0.0-"))
    (tmp_path / "deploy" / "kubernetes" / f"{EXAMPLES[-1].app_id}.yaml").unlink()
    assert render.stale(tmp_path) == ["docker-compose.yml", f"deploy/kubernetes/{EXAMPLES[-1].app_id}.yaml"]


def test_every_example_has_its_dapr_run_line_in_its_readme() -> None:
    for example in EXAMPLES:
        readme = ROOT / Path(example.script).parent / "README.md"
        lines = dapr_run_lines(readme.read_text())
        assert any(f"--app-id {example.app_id} " in line and example.script in line
                   and "--resources-path ./components" in line for line in lines), (readme, lines)


def test_the_sidecar_runtime_is_the_one_the_pinned_sdk_pairs_with() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (pin,) = [d for d in project["dependencies"] if re.match(r"dapr\b(?!-)", d)]
    lower = re.search(r">=\s*(\d+)\.(\d+)", pin)
    upper = re.search(r"<\s*(\d+)\.(\d+)", pin)
    assert lower and upper, pin
    sdk_minor = (int(lower.group(1)), int(lower.group(2)))
    assert (int(upper.group(1)), int(upper.group(2))) == (sdk_minor[0], sdk_minor[1] + 1), "one SDK minor line"
    runtime = tuple(int(part) for part in DAPR_RUNTIME_VERSION.split("."))
    assert runtime[:2] == sdk_minor
    extras = project["optional-dependencies"]
    assert {e.extra for e in EXAMPLES} <= set(extras)


def test_the_self_hosted_configuration_has_the_fields_dapr_requires() -> None:
    (config,) = load(ROOT / "deploy" / "config.yaml")
    assert resource_problems(config, "deploy/config.yaml") == []
    config["spec"]["workflow"]["maxConcurrentActivityInvocations"] = 0
    config["spec"]["workflow"]["maxWorkflows"] = 3
    config["spec"]["tracing"] = {"samplingRate": 1}
    assert resource_problems(config, "c") == [
        "c: spec.workflow.maxConcurrentActivityInvocations must be a positive number, got 0",
        "c: spec.workflow has unknown fields ['maxWorkflows']",
        'c: spec.tracing.samplingRate must be a quoted rate between "0" and "1"',
    ]


def test_the_resiliency_policy_is_checked_against_the_documented_spec() -> None:
    (policy,) = load(ROOT / "components" / "resiliency.yaml")
    assert resource_problems(policy, "r") == []
    actors = policy["spec"]["targets"]["actors"]
    assert {f"dapr.internal.default.{e.app_id}.{kind}" for e in EXAMPLES for kind in ("workflow", "activity")} == set(actors)
    policy["spec"]["policies"]["timeouts"]["workflowCall"] = "a minute"
    policy["spec"]["policies"]["retries"]["actorRetries"]["policy"] = "sometimes"
    policy["spec"]["policies"]["circuitBreakers"]["actorBreaker"]["trip"] = "often"
    del policy["spec"]["targets"]
    assert resource_problems(policy, "r") == [
        "r: spec.targets is required",
        "r: timeout 'workflowCall' is not a duration like 30s: 'a minute'",
        "r: retry 'actorRetries' needs policy constant or exponential",
        "r: circuit breaker 'actorBreaker' needs a trip such as consecutiveFailures > 5",
    ]


def test_no_deployment_file_inlines_a_secret(tmp_path: Path) -> None:
    for path in DEPLOYMENT_FILES:
        text = path.read_text()
        assert not SECRET_VALUE.search(text), path
        if path.suffix in {".yaml", ".yml"}:
            assert [p for doc in load(path) for p in inlined_secrets(doc, path.name)] == []
    leaked = tmp_path / "statestore.yaml"
    shutil.copy(ROOT / "deploy" / "kubernetes" / "statestore.yaml", leaked)
    (store,) = load(leaked)
    store["spec"]["metadata"][1] = {"name": "redisPassword", "value": "hunter2"}
    assert inlined_secrets(store, "s") == ["s.spec.metadata[1]: redisPassword is given a literal value; use a secret reference"]
