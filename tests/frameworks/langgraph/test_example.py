"""The LangGraph example runs offline: an approval interrupt answered on its terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
APP = ROOT / "examples" / "langgraph" / "app.py"


def _start(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAPR_GRPC", "OPENAI_API_KEY"))}
    env["DAPR_AGENTS_DURABLE_DB"] = str(tmp_path / "engine.db")
    return subprocess.Popen([sys.executable, str(APP), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _last_line(app: subprocess.Popen[str], stdin: str) -> str:
    out, err = app.communicate(stdin, timeout=180)
    assert app.returncode == 0, err[-3000:]
    assert out.count("approve book_table(") == 1
    return out.strip().splitlines()[-1]


def test_example_books_when_approved_and_declines_when_not(tmp_path: Path) -> None:
    assert _last_line(_start(tmp_path, "--thread", "yes"), "y\n") == (
        "thread yes: Sunny and 22 C: your table at Chez Nous is booked for 19:00. (3 model replies)")
    assert _last_line(_start(tmp_path, "--thread", "no"), "n\n") == (
        "thread no: Sunny and 22 C; I did not book the table. (3 model replies)")


def test_example_killed_while_waiting_asks_again_on_restart(tmp_path: Path) -> None:
    app = _start(tmp_path, "--thread", "kill")
    assert app.stdout is not None
    assert app.stdout.readline().startswith("approve book_table(")
    app.kill()
    app.wait()
    assert _last_line(_start(tmp_path, "--thread", "kill"), "y\n").startswith("thread kill: Sunny and 22 C: your table")
