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


def _framework_session(extra: str, directory: str, test_deps: tuple[str, ...]) -> None:
    @nox.session(name=extra, python=PYTHON)
    def run(session: nox.Session) -> None:
        session.install("-e", f".[test,{extra}]", *test_deps)
        session.run("pytest", f"tests/frameworks/{directory}", *session.posargs)

    run.__doc__ = f"{extra}: its latest release, in its own environment."


for _extra, _directory, _test_deps in (
    ("openai-agents", "openai_agents", ()),
    # The MCP tests run a real MCP server: the framework's own `mcp` extra (FastMCP's client, the MCP SDK).
    ("pydantic-ai", "pydantic_ai", ("pydantic-ai-slim[mcp]", "httpx")),
    ("langgraph", "langgraph", ()),
    ("crewai", "crewai", ()),
):
    if (Path(__file__).parent / "tests" / "frameworks" / _directory).is_dir():
        _framework_session(_extra, _directory, _test_deps)


UPSTREAM_OPENAI_AGENTS = "openai-agents==0.24.0 --hash=sha256:4b4b285f4fed81fdf1b4ac426a9101658d9cd29b4fb1aaeee18f639b77e704e3"
"""The SDK release whose own test suite runs against the durable Runner (its source distribution)."""

UPSTREAM_OPENAI_AGENTS_TEST_DEPS = (
    "openai-agents[voice,viz,litellm,sqlalchemy,encrypt,redis,dapr,mongodb,docker]==0.24.0",
    "pytest-asyncio", "pytest-mock>=3.14", "inline-snapshot>=0.20.7", "fastapi>=0.110,<1", "aiosqlite>=0.21",
    "fakeredis>=2.31.3", "websockets", "textual", "rich>=13.1,<15", "eval-type-backport>=0.2.2", "pip",
    "pytest-xdist>=3.6",
)


@nox.session(name="upstream-openai-agents", python=PYTHON, default=False)
def upstream_openai_agents(session: nox.Session) -> None:
    """The OpenAI Agents SDK's own tests, natively and with the durable Runner swapped in."""
    session.install("-e", ".[test,openai-agents]", *UPSTREAM_OPENAI_AGENTS_TEST_DEPS)
    work = Path(session.create_tmp()).resolve()
    requirement = work / "sdist.txt"
    requirement.write_text(UPSTREAM_OPENAI_AGENTS + "\n")
    session.run_install("python", "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                        "--require-hashes", "-r", str(requirement), "-d", str(work))
    sdist = next(work.glob("openai_agents-*.tar.gz"))
    session.run_install("python", "-c",
                        f"import tarfile; tarfile.open({str(sdist)!r}).extractall({str(work)!r}, filter='data')")
    source = work / sdist.name.removesuffix(".tar.gz")
    here = Path(__file__).parent / "tests" / "upstream"
    # One worker per core (each durable worker on an engine database of its own); a test still
    # waiting after 10 s fails, as a hung durable run would.
    common = ("-p", "outcomes_plugin", "-p", "no:cacheprovider", "-q", "--no-header", "-rN", "--tb=no",
              "--continue-on-collection-errors", "-n", "auto", "--timeout=10", *session.posargs)
    env = {"PYTHONPATH": str(here)}
    # The suite's own test files (tests/test_*.py); its subfolders test sandboxes, realtime and
    # voice sessions, extensions and provider models, which never go through Runner.run.
    suite = sorted(str(path.relative_to(source)) for path in (source / "tests").glob("test_*.py"))
    with session.chdir(source):
        session.run("python", "-m", "pytest", *suite, *common, success_codes=[0, 1],
                    env={**env, "UPSTREAM_OUTCOMES": str(work / "native.json")})
        session.run("python", "-m", "pytest", *suite, "-p", "durable_runner_plugin", *common, success_codes=[0, 1],
                    env={**env, "UPSTREAM_OUTCOMES": str(work / "durable.json"),
                         "DAPR_AGENTS_DURABLE_DB": str(work / "durable" / "engine.db")})
    session.run("python", str(here / "compare.py"), str(work / "native.json"), str(work / "durable.json"),
                str(here / "openai_agents_known.txt"))


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Every benchmark, with the peers (DBOS) installed; rewrites benchmarks/README.md's latest run."""
    session.install("-e", ".[openai-agents,langgraph,pydantic-ai]", "dbos==3.4.0", "dbos-openai-agents==0.3.0",
                    "langgraph-checkpoint-sqlite==3.1.2", "yappi==1.7.6")
    session.run("python", "-m", "benchmarks", *session.posargs)


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
