"""``dapr-agents-durable runs``: list, inspect, answer, steer and watch durable runs.

Example::

    dapr-agents-durable runs list --status RUNNING --framework openai_agents
    dapr-agents-durable runs show refund-7
    dapr-agents-durable runs approve refund-7 call_8x2
    dapr-agents-durable runs watch refund-7
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from dapr.ext.workflow.workflow_state import WorkflowState, WorkflowStatus
from google.protobuf.json_format import MessageToDict
from grpc import RpcError

from dapr_agents_durable.engine import EngineAlreadyRunning
from dapr_agents_durable.operator.connect import OperatorError, connect, explain, unknown_run
from dapr_agents_durable.runtime import DurableRuntime

STATUSES = [s.name for s in WorkflowStatus if s.name != "UNKNOWN"]
ENDED = {"COMPLETED", "FAILED", "TERMINATED"}


def db_option() -> argparse.ArgumentParser:
    """The ``--db`` option every operator command takes (a parent parser)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=None, help="the embedded engine's database (default "
                        "$DAPR_AGENTS_DURABLE_DB or ./.dapr-agents-durable/engine.db)")
    return common


def decision_parsers(
    actions: argparse._SubParsersAction, common: argparse.ArgumentParser, approve_help: str, reject_help: str
) -> list[argparse.ArgumentParser]:
    """The ``approve RUN CALL [--message M] [--arguments JSON] [--always]`` and ``reject RUN CALL
    [--message M] [--always]`` actions."""
    made = []
    for name, help_text in (("approve", approve_help), ("reject", reject_help)):
        action = actions.add_parser(name, parents=[common], help=help_text)
        action.add_argument("run_id")
        action.add_argument("call_id")
        action.add_argument("--always", action="store_true", help="also decide the tool's later calls in this run")
        if name == "reject":
            action.add_argument("--message", default=None, help="what the model is told instead of the output")
        else:
            action.add_argument("--message", default=None,
                                help="text sent with the approval (CrewAI feedback, a LangGraph resume string)")
            action.add_argument("--arguments", default=None, metavar="JSON",
                                help="a JSON object: the call's edited arguments (PydanticAI), a LangGraph resume dict")
        made.append(action)
    return made


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``runs`` and its actions on the top-level parser."""
    p = sub.add_parser(
        "runs",
        help="list, inspect, answer, suspend, resume, terminate, purge and watch durable runs",
        description="Operate durable runs. Connects to the Dapr sidecar of DAPR_GRPC_ENDPOINT/DAPR_GRPC_PORT, "
        "else to the engine an app runs on --db, else opens --db itself.",
    )
    common = db_option()
    common.add_argument("--json", action="store_true", help="print JSON instead of tables")
    actions = p.add_subparsers(dest="action", required=True)

    listing = actions.add_parser("list", parents=[common], help="runs, newest first")
    listing.add_argument("--status", action="extend", nargs="+", type=str.upper, choices=STATUSES, default=[],
                         help="only runs in these statuses")
    listing.add_argument("--framework", default=None, help="only runs of this framework (workflow name prefix)")
    listing.add_argument("--limit", type=_positive, default=None, help="at most this many runs")
    listing.set_defaults(handler=_list)

    for name, help_text, handler in (
        ("show", "a run's timeline: steps, child workflows, pending approvals, failure", _show),
        ("history", "a run's raw history events, one a line", _history),
        ("suspend", "suspend a run (it keeps its state)", _lifecycle("suspend")),
        ("resume", "resume a suspended run", _lifecycle("resume")),
        ("terminate", "terminate a run and its child workflows", _lifecycle("terminate")),
        ("purge", "delete a finished run's state and history", _purge),
    ):
        action = actions.add_parser(name, parents=[common], help=help_text)
        action.add_argument("run_id")
        action.set_defaults(handler=handler)

    for action in decision_parsers(actions, common, "approve a pending tool call", "reject a pending tool call"):
        action.set_defaults(handler=_decide)

    raising = actions.add_parser("raise", parents=[common], help="raise an external event on a run")
    raising.add_argument("run_id")
    raising.add_argument("event")
    raising.add_argument("data", nargs="?", default=None, help="the payload: JSON if it parses, else a string")
    raising.set_defaults(handler=_raise)

    watch = actions.add_parser("watch", parents=[common], help="print a run's steps as they happen, until it ends "
                               "(exit 1 if it ends FAILED or TERMINATED)")
    watch.add_argument("run_id")
    watch.add_argument("--interval", type=_positive_float, default=0.5, help="seconds between polls")
    watch.set_defaults(handler=_watch)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run one ``runs`` action; 0 on success, 2 (with a message on stderr) when it cannot be done."""
    runtime: DurableRuntime | None = None
    try:
        runtime = connect(args.db)
        return int(args.handler(runtime, args))
    except OperatorError as exc:
        return _fail(args, str(exc))
    except RpcError as exc:
        assert runtime is not None
        return _fail(args, str(explain(runtime, exc, getattr(args, "run_id", None))))
    except (LookupError, ValueError, EngineAlreadyRunning) as exc:
        return _fail(args, str(exc))
    finally:
        if runtime is not None:
            runtime.stop()


def _fail(args: argparse.Namespace, message: str) -> int:
    print(f"dapr-agents-durable runs {args.action}: {message}", file=sys.stderr)
    return 2


def _state(runtime: DurableRuntime, run_id: str) -> WorkflowState:
    state = runtime.state(run_id)
    if state is None:
        raise unknown_run(run_id)
    return state


def _list(runtime: DurableRuntime, args: argparse.Namespace) -> int:
    from dapr_agents_durable.operator.render import console, print_json, show_runs
    from dapr_agents_durable.operator.summary import summarize

    runs = []
    for run_id in runtime.list_runs():
        state = runtime.state(run_id)
        if state is None or (args.status and state.runtime_status.name not in args.status):
            continue
        summary = summarize(state, runtime.raw_history(run_id))
        if args.framework is None or summary.framework == args.framework:
            runs.append(summary)
    runs.sort(key=lambda r: (r.started, r.run_id), reverse=True)
    runs = runs[: args.limit] if args.limit else runs
    out = console()
    if args.json:
        print_json(out, [r.to_json() for r in runs])
    else:
        show_runs(out, runs)
    return 0


def _show(runtime: DurableRuntime, args: argparse.Namespace) -> int:
    from dapr_agents_durable.operator.render import console, print_json, show_timeline
    from dapr_agents_durable.operator.summary import Timeline, timeline

    def view(run_id: str) -> Timeline | None:
        state = runtime.state(run_id)
        return None if state is None else timeline(state, runtime.raw_history(run_id), view)

    found = view(args.run_id)
    if found is None:
        raise unknown_run(args.run_id)
    out = console()
    if args.json:
        print_json(out, found.to_json())
    else:
        show_timeline(out, found)
    return 0


def _history(runtime: DurableRuntime, args: argparse.Namespace) -> int:
    from dapr_agents_durable.operator.render import console, print_json, show_events
    from dapr_agents_durable.operator.summary import event_line

    _state(runtime, args.run_id)
    events = runtime.raw_history(args.run_id)
    out = console()
    if args.json:
        print_json(out, [MessageToDict(e) for e in events])
    else:
        show_events(out, [event_line(e) for e in events])
    return 0


def _decide(runtime: DurableRuntime, args: argparse.Namespace) -> int:
    if args.action == "approve":
        runtime.approve(args.run_id, args.call_id, always=args.always, message=args.message, arguments=args.arguments)
    else:
        runtime.reject(args.run_id, args.call_id, message=args.message, always=args.always)
    return _done(args, {"run_id": args.run_id, "call_id": args.call_id, "decision": args.action + "d"})


def _raise(runtime: DurableRuntime, args: argparse.Namespace) -> int:
    _state(runtime, args.run_id)
    data: Any = args.data
    if data is not None:
        try:
            data = json.loads(data)
        except ValueError:
            pass
    runtime.raise_event(args.run_id, args.event, data)
    return _done(args, {"run_id": args.run_id, "event": args.event, "data": data})


def _lifecycle(action: str) -> Callable[[DurableRuntime, argparse.Namespace], int]:
    def handler(runtime: DurableRuntime, args: argparse.Namespace) -> int:
        status = _state(runtime, args.run_id).runtime_status.name
        if status in ENDED:
            raise OperatorError(f"run {args.run_id!r} already ended {status}; there is nothing to {action}")
        if action == "suspend":
            runtime.client.pause_workflow(args.run_id)
        elif action == "resume":
            if status != "SUSPENDED":
                raise OperatorError(f"run {args.run_id!r} is {status}, not SUSPENDED; there is nothing to resume")
            runtime.client.resume_workflow(args.run_id)
        else:
            runtime.terminate(args.run_id)
        return _done(args, {"run_id": args.run_id, "action": action})

    return handler


def _purge(runtime: DurableRuntime, args: argparse.Namespace) -> int:
    status = _state(runtime, args.run_id).runtime_status.name
    if status not in ENDED:
        raise OperatorError(f"run {args.run_id!r} is {status}; terminate it before purging it")
    runtime.purge(args.run_id)
    if runtime.state(args.run_id) is not None:
        raise OperatorError(f"the engine purged nothing for run {args.run_id!r}")
    return _done(args, {"run_id": args.run_id, "action": "purge"})


def _done(args: argparse.Namespace, result: dict[str, Any]) -> int:
    if args.json:
        print(json.dumps(result, default=str))
    return 0


def _watch(runtime: DurableRuntime, args: argparse.Namespace) -> int:
    from dapr_agents_durable.operator.render import console, print_json, status_text, step_text
    from dapr_agents_durable.operator.summary import steps_of
    from dapr_agents_durable.runtime.approvals import decode_status

    out = console()
    shown: dict[int, str] = {}
    asked: set[str] = set()
    while True:
        state = _state(runtime, args.run_id)  # read before history: a run ended here has all its steps there
        for step in steps_of(runtime.raw_history(args.run_id)):
            if step.status != "running" and shown.get(step.event_id) != step.status:
                shown[step.event_id] = step.status
                if args.json:
                    print_json(out, step.to_json())
                else:
                    out.print(step_text(step))
        status = state.runtime_status.name
        for call in decode_status(state.serialized_custom_status) if status not in ENDED else []:
            if call.call_id not in asked:
                asked.add(call.call_id)
                if args.json:
                    print_json(out, {"waiting_for_approval": call.to_json()})
                else:
                    out.print(f"waiting for approval: call {call.call_id} tool {call.tool} {call.arguments}",
                              markup=False)
        if status in ENDED:
            if args.json:
                print_json(out, {"run_id": args.run_id, "status": status})
            else:
                out.print(status_text(status))
            return 0 if status == "COMPLETED" else 1
        out.file.flush()
        time.sleep(args.interval)


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value
