"""Run every benchmark and rewrite the "Latest run" section of benchmarks/README.md.

Usage (from the repository root; ``nox -s bench`` does it in an environment with
every peer installed)::

    python -m benchmarks            # all benchmarks whose frameworks are installed
    python -m benchmarks --quick    # fewer repeats, for a smoke check

Each benchmark is a script that prints its own figures; this runs them one after
the other in this interpreter's environment, prints their output as it comes, and
replaces the README section between the ``bench:start`` / ``bench:end`` markers
with the date, the machine's core count and every script's output. A benchmark
whose framework is not installed is listed as skipped, with the missing module.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


@dataclass(frozen=True)
class Benchmark:
    script: str
    args: tuple[str, ...]
    quick: tuple[str, ...]
    needs: tuple[str, ...] = ()


BENCHMARKS = (
    Benchmark("engine_bench.py", ("--workflows", "300", "--concurrency", "32"), ("--workflows", "60")),
    Benchmark("load_bench.py", (), ("--workflows", "200", "--churn-workflows", "50", "--workers", "4", "--kills", "1",
                                    "--connections", "100")),
    Benchmark("openai_agents_overhead.py", ("--turns", "20", "--repeats", "5", "--model-latency", "0"),
              ("--turns", "10", "--repeats", "2", "--model-latency", "0"), ("agents",)),
    Benchmark("step_profile.py", ("--turns", "30", "--runs", "10"), ("--turns", "10", "--runs", "2"), ("agents", "yappi")),
    Benchmark("peers/dbos_peer.py", ("--turns", "15", "50", "--repeats", "7", "--concurrent", "50"),
              ("--turns", "15", "--repeats", "2", "--concurrent", "10"), ("agents", "dbos", "dbos_openai_agents")),
    Benchmark("history_bench.py", ("--turns", "100", "--note-sentences", "4"), ("--turns", "20"), ("agents",)),
    Benchmark("replay_bench.py", ("--agent", "openai", "--turns", "80", "--repeat", "3"),
              ("--agent", "openai", "--turns", "20", "--repeat", "1"), ("agents",)),
    Benchmark("langgraph_bench.py", ("--turns", "15", "--repeats", "9", "--branches", "4"),
              ("--turns", "5", "--repeats", "2", "--calls", "1"),
              ("langgraph", "langchain_openai", "langgraph.checkpoint.sqlite")),
    Benchmark("pydantic_ai_bench.py", ("--turns", "15", "--repeats", "9"), ("--turns", "15", "--repeats", "2"),
              ("pydantic_ai", "dbos")),
)


def _missing(modules: tuple[str, ...]) -> list[str]:
    return [name for name in modules if not _installed(name)]


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported (a dotted name whose parent package is missing is not)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def run(quick: bool) -> str:
    """Run the benchmarks; the README section's new text."""
    lines = [f"Run on {datetime.date.today().isoformat()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}"
             f"{' (--quick)' if quick else ''}, with `python -m benchmarks`.", ""]
    for bench in BENCHMARKS:
        args = bench.quick if quick else bench.args
        command = f"python benchmarks/{bench.script} {' '.join(args)}"
        missing = _missing(bench.needs)
        if missing:
            lines += [f"### `{command}`", "", f"skipped: {', '.join(missing)} not installed", ""]
            continue
        print(f"== {command}", flush=True)
        done = subprocess.run([sys.executable, str(HERE / bench.script), *args], capture_output=True, text=True,
                              cwd=HERE.parent)
        print(done.stdout, end="", flush=True)
        output = done.stdout.strip() if done.returncode == 0 else f"failed (exit {done.returncode}):\n{done.stderr[-2000:]}"
        lines += [f"### `{command}`", "", "```", output, "```", ""]
    return "\n".join(lines)


def rewrite(section: str) -> None:
    """Put ``section`` between the markers of benchmarks/README.md (appended the first time)."""
    text = README.read_text(encoding="utf-8")
    block = f"{START}\n{section}\n{END}"
    if START in text and END in text:
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n## Latest run of every benchmark\n\n" + block + "\n"
    README.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke check)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave the README as it is")
    args = parser.parse_args()
    section = run(args.quick)
    if not args.no_write:
        rewrite(section)


if __name__ == "__main__":
    main()
