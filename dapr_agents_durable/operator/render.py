"""Human output of ``runs``: tables and trees through ``rich`` (colours only on a terminal, never
under ``NO_COLOR``), or JSON.

Example::

    show_runs(console(), [summary])
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from dapr_agents_durable.operator.summary import RunSummary, Step, Timeline

STATUS_STYLE = {"COMPLETED": "green", "FAILED": "bold red", "TERMINATED": "red", "RUNNING": "cyan",
                "PENDING": "cyan", "SUSPENDED": "yellow", "STALLED": "yellow"}
STEP_STYLE = {"completed": "green", "failed": "red", "running": "cyan"}


def console() -> Console:
    """The stdout console; rich decides colours from the terminal and ``NO_COLOR``."""
    return Console(highlight=False, soft_wrap=True)


def print_json(out: Console, data: Any) -> None:
    """``data`` as one line of JSON, untouched by rich."""
    out.file.write(json.dumps(data, default=str) + "\n")


def duration(seconds: float) -> str:
    """``75.5`` → ``"1m15s"``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def show_runs(out: Console, runs: Sequence[RunSummary]) -> None:
    """The ``runs list`` table."""
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("RUN", "STATUS", "FRAMEWORK", "WORKFLOW", "AGENT", "STEPS", "STARTED", "DURATION"):
        table.add_column(column, justify="right" if column == "STEPS" else "left", overflow="fold")
    for run in runs:
        table.add_row(Text(run.run_id), status_text(run.status), Text(run.framework), Text(run.workflow),
                      Text(run.agent or ""), str(run.steps), run.started, duration(run.duration))
    out.print(table)


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLE.get(status, ""))


def show_timeline(out: Console, view: Timeline) -> None:
    """The ``runs show`` tree: header, steps (child workflows nested), approvals, failure."""
    out.print(_tree(view))


def _tree(view: Timeline) -> Tree:
    s = view.summary
    head = Text.assemble((s.run_id, "bold"), "  ", status_text(s.status), f"  {s.workflow}",
                         f"  agent {s.agent}" if s.agent else "", f"  started {s.started}",
                         f"  {duration(s.duration)}")
    tree = Tree(head)
    for step in view.steps:
        node = tree.add(step_text(step))
        if step.child is not None:
            node.add(_tree(step.child))
    for call in view.pending:
        tree.add(Text.assemble(("waiting for approval", "bold yellow"),
                               f"  call {call['call_id']}  tool {call['tool']}  {call['arguments']}"))
    if view.failure is not None:
        failed = tree.add(Text(f"failed: {view.failure['error_type']}: {view.failure['message']}", style="red"))
        if view.failure.get("stack_trace"):
            failed.add(Text(str(view.failure["stack_trace"]).rstrip(), style="dim"))
    return tree


def step_text(step: Step) -> Text:
    """One step: time, status, name, detail or error."""
    label = "child " + step.name if step.kind == "child" else step.name
    return Text.assemble((step.started, "dim"), " ", (f"{step.status:<9}", STEP_STYLE.get(step.status, "")),
                         " ", (label, "bold"), (f"  {step.detail}" if step.detail else ""),
                         (f"  {step.error}" if step.error else "", "red"))


def show_events(out: Console, events: Sequence[dict[str, Any]]) -> None:
    """``runs history``: one line per event."""
    for event in events:
        out.print(Text.assemble(f"{event['event_id']:>4} ", (event["timestamp"], "dim"), " ",
                                (f"{event['type']:<32}", "bold"), " ", event["name"]))
