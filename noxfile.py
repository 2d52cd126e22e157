"""Test sessions: one environment per framework, each on its framework's latest release.

The latest releases cannot share one environment (crewai pins openai<3 and
pydantic<2.13 while openai-agents and pydantic-ai need openai>=3), so every
framework's tests run in their own virtualenv. ``nox`` with no arguments runs
them all; ``nox -s core`` runs one.
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"


@nox.session(python=PYTHON)
def core(session: nox.Session) -> None:
    """Engine, runtime, loop and test kit: no agent framework installed."""
    session.install("-e", ".[test]")
    session.run("pytest", "tests", "--ignore=tests/frameworks", *session.posargs)


def _framework_session(extra: str, directory: str) -> None:
    @nox.session(name=extra, python=PYTHON)
    def run(session: nox.Session) -> None:
        session.install("-e", f".[test,{extra}]")
        session.run("pytest", f"tests/frameworks/{directory}", *session.posargs)

    run.__doc__ = f"{extra}: its latest release, in its own environment."


for _extra, _directory in (
    ("openai-agents", "openai_agents"),
    ("pydantic-ai", "pydantic_ai"),
    ("langgraph", "langgraph"),
    ("crewai", "crewai"),
):
    if (Path(__file__).parent / "tests" / "frameworks" / _directory).is_dir():
        _framework_session(_extra, _directory)


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy over the package, with the adapters' frameworks installed (their real types)."""
    session.install("-e", ".[openai-agents]", "mypy==2.4.1")
    session.run("mypy", "dapr_agents_durable")


@nox.session(name="sdk-1.18", python=PYTHON)
def sdk_118(session: nox.Session) -> None:
    """The engine under the older workflow protocol of dapr-ext-workflow 1.18.3."""
    session.install("dapr>=1.18,<1.19", "dapr-ext-workflow==1.18.3", "greenlet>=3.0", "pydantic>=2.7")
    session.install("--no-deps", "-e", ".")
    session.install("pytest>=8", "pytest-timeout>=2.3")
    session.run("pytest", "tests/compat", *session.posargs)
