"""The Dapr components, the multi-app run file, the image and every example's dapr run line."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

import pytest
from checks import ROOT, APP_ID, dapr_run_lines, load, resources_problems, run_line_problems


def _run_file() -> dict:
    (doc,) = load(ROOT / "dapr.yaml")
    return doc


@pytest.mark.parametrize("folder", ["components", "components/postgresql"])
def test_each_resources_path_is_workflow_ready_and_holds_no_secret(folder: str) -> None:
    assert resources_problems(ROOT / folder) == []


def test_the_checks_catch_an_inlined_secret_a_missing_actor_store_and_a_bad_reference(tmp_path: Path) -> None:
    broken = tmp_path / "components"
    shutil.copytree(ROOT / "components", broken, symlinks=False, ignore=shutil.ignore_patterns("postgresql"))
    store = (broken / "statestore.yaml").read_text()
    store = store.replace('value: "true"', 'value: "false"')
    store += '    - name: redisPassword\n      value: hunter2\n'
    (broken / "statestore.yaml").write_text(store)
    resiliency = (broken / "resiliency.yaml").read_text().replace("retry: stateRetries", "retry: noSuchPolicy")
    (broken / "resiliency.yaml").write_text(resiliency)
    (broken / "notes.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {k: sk-abcdefghijklmnop}\n")
    import checks

    original = checks.ROOT
    checks.ROOT = tmp_path
    try:
        problems = "\n".join(resources_problems(broken))
    finally:
        checks.ROOT = original
    assert "inlines a secret" in problems
    assert 'actorStateStore: "true"' in problems
    assert "undefined retry 'noSuchPolicy'" in problems
    assert "looks like an API key" in problems
    assert "is not a Component, Configuration or Resiliency" in problems


def test_the_postgresql_store_is_state_postgresql_v2_with_its_connection_string_from_a_secret() -> None:
    (store,) = load(ROOT / "components/postgresql/statestore.yaml")
    assert (store["spec"]["type"], store["spec"]["version"]) == ("state.postgresql", "v2")
    entries = {e["name"]: e for e in store["spec"]["metadata"]}
    assert "secretKeyRef" in entries["connectionString"]
    assert store["auth"]["secretStore"] in {d["metadata"]["name"] for d in load(ROOT / "components/secretstore.yaml")}


def test_the_multi_app_run_file_runs_every_example_from_files_that_exist() -> None:
    run = _run_file()
    assert run["version"] == 1
    assert (ROOT / run["common"]["resourcesPath"]).is_dir()
    scripts = set()
    for app in run["apps"]:
        assert APP_ID.fullmatch(app["appID"]), app
        assert (ROOT / app["appDirPath"]).is_dir()
        command = app["command"]
        assert command[0] == "python" and (ROOT / app["appDirPath"] / command[1]).is_file(), command
        scripts.add(command[1])
    examples = {f"examples/{p.parent.name}/{p.name}" for p in ROOT.glob("examples/*/*app.py")}
    assert examples <= scripts, f"examples not wired into dapr.yaml: {sorted(examples - scripts)}"


def test_every_dapr_run_line_of_the_docs_points_at_what_exists() -> None:
    known = {app["appID"] for app in _run_file()["apps"]}
    lines = []
    for readme in sorted(ROOT.glob("examples/*/README.md")):
        found = dapr_run_lines(readme.read_text())
        assert found, f"{readme.relative_to(ROOT)} has no dapr run line"
        lines += found
    problems = [p for line in lines for p in run_line_problems(line, known)]
    assert problems == []
    assert run_line_problems("dapr run --app-id bad.id --resources-path ./nowhere -- python missing.py", known)


def test_the_image_is_pinned_non_root_and_installs_a_real_extra() -> None:
    text = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^FROM (\S+)", text, re.MULTILINE)
    assert base and re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", base.group(1)), base
    user = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert user and user[-1] not in {"root", "0"}
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    default_extra = re.search(r"^ARG EXTRAS=(\S+)", text, re.MULTILINE).group(1)
    assert default_extra in extras
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".nox", "*.db"} <= set(ignored)
