"""Durable LangGraph graphs side by side with LangGraph's SQLite checkpointer: step overhead, LLM calls re-paid.

Per-step overhead: one hand-built ReAct graph (a model node and a ``ToolNode``, K
tool turns, one tool call per model response, then an answer) with an in-process
scripted chat model that answers at once, run three ways in this process,
interleaved: native LangGraph without a checkpointer, native LangGraph with
``SqliteSaver`` (``langgraph-checkpoint-sqlite``, a file on disk), and this project's
durable ``StateGraph`` on the embedded engine (its own database file, made for this
run). A fresh thread per run; the first run of each kind is a warm-up. A step is one
model call and one tool call. Prints the ms per step (p50 / p90), what each durable
option adds over native and the ratio ours / SqliteSaver.

Re-paid LLM calls: a graph whose planning model call is followed by ``Send`` to N
branches, each one model call (``ChatOpenAI`` over HTTP against the scripted model
server); one branch's request is held in flight while the others are answered, then
the app process is SIGKILLed and started again on the same thread: natively with the
same ``SqliteSaver`` file and ``invoke(None, config)`` (LangGraph's resume), durably
with the same engine database and the same call. Prints the model requests paid in
all against a run without a kill. Needs the langgraph extra and
``langgraph-checkpoint-sqlite``::

    python benchmarks/langgraph_bench.py --turns 15 --repeats 9 --branches 4
"""

from __future__ import annotations

import argparse
import json
import operator
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import START, MessagesState
from langgraph.graph import StateGraph as NativeStateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import Send

from dapr_agents_durable.adapters.langgraph import StateGraph

QUESTION = "Record the steps, one tool call per turn."
PLAN = "Which cities?"


class LoopModel(BaseChatModel):
    """Calls ``record_step`` until ``turns`` tool results are in, then answers; no latency."""

    turns: int = 15

    @property
    def _llm_type(self) -> str:
        return "bench-loop"

    def bind_tools(self, tools: Any, **kwargs: Any) -> LoopModel:  # type: ignore[override]
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        done = sum(1 for m in messages if isinstance(m, ToolMessage))
        if done < self.turns:
            reply = AIMessage("", tool_calls=[{"name": "record_step", "args": {"n": done + 1}, "id": f"c{done + 1}",
                                               "type": "tool_call"}])
        else:
            reply = AIMessage(f"all {done} steps recorded")
        return ChatResult(generations=[ChatGeneration(message=reply)])


@tool
def record_step(n: int) -> str:
    """Record step n of the plan."""
    return f"step {n} recorded"


def react(builder_type: Any, model: BaseChatModel, **compile: Any) -> Any:
    """The ReAct graph: model node, ``ToolNode``, ``tools_condition``."""
    bound = model.bind_tools([record_step])

    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [bound.invoke(state["messages"])]}

    builder = builder_type(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode([record_step]))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    return builder.compile(**compile)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def per_step(turns: int, repeats: int, work: Path) -> dict[str, list[float]]:
    """ms per step of ``repeats`` runs of each kind, interleaved, after one warm-up run of each."""
    model = LoopModel(turns=turns)
    connection = sqlite3.connect(work / f"checkpoints-{turns}.sqlite", check_same_thread=False)
    saver = SqliteSaver(connection)
    graphs = {
        "native": react(NativeStateGraph, model),
        "sqlite": react(NativeStateGraph, model, checkpointer=saver),
        "ours": react(StateGraph, model, name=f"bench-react-{turns}"),
    }

    def timed(kind: str, index: int) -> float:
        config = {"configurable": {"thread_id": f"react-{turns}-{kind}-{index}"}, "recursion_limit": 4 * turns + 10}
        started = time.perf_counter()
        out = graphs[kind].invoke({"messages": [HumanMessage(QUESTION)]}, config)
        elapsed = time.perf_counter() - started
        if out["messages"][-1].content != f"all {turns} steps recorded":
            raise RuntimeError(f"{kind}: unexpected answer {out['messages'][-1].content!r}")
        return elapsed * 1000 / turns

    for kind in graphs:
        timed(kind, -1)
    figures: dict[str, list[float]] = {kind: [] for kind in graphs}
    for index in range(repeats):
        for kind in graphs:
            figures[kind].append(timed(kind, index))
    connection.close()
    return figures


class Forecast(MessagesState):
    reports: Annotated[list[str], operator.add]


def fanout(builder_type: Any, model: Any, calls: int, **compile: Any) -> Any:
    """A planning model call, then ``Send`` to one branch per city, each ``calls`` model calls in a row."""

    def plan(state: Forecast) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    def spread(state: Forecast) -> list[Send]:
        return [Send("report", {"city": city}) for city in str(state["messages"][-1].content).split(",")]

    def report(branch: dict[str, str]) -> dict[str, Any]:
        said = str(model.invoke(f"Report the weather in {branch['city']}.").content)
        for _ in range(calls - 1):
            said = str(model.invoke(f"Check the report for {branch['city']}: {said}").content)
        return {"reports": [said]}

    builder = builder_type(Forecast)
    builder.add_node("plan", plan)
    builder.add_node("report", report)
    builder.add_edge(START, "plan")
    builder.add_conditional_edges("plan", spread, ["report"])
    return builder.compile(**compile)


def app(base_url: str, kind: str, thread: str, checkpoints: str, calls: int, resume: bool) -> None:
    """The fan-out graph in its own process: ``sqlite`` natively on ``checkpoints``, ``ours`` durably."""
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    model = ChatOpenAI(model="scripted", base_url=base_url, api_key=SecretStr("sk-bench"), max_retries=0)
    config = {"configurable": {"thread_id": thread}}
    question: Any = {"messages": [HumanMessage(PLAN)]}
    if kind == "sqlite":
        saver = SqliteSaver(sqlite3.connect(checkpoints, check_same_thread=False))
        out = fanout(NativeStateGraph, model, calls, checkpointer=saver).invoke(None if resume else question, config)
    else:
        out = fanout(StateGraph, model, calls, name=f"bench-fanout-{calls}").invoke(question, config)
    print(json.dumps({"reports": sorted(out.get("reports", []))}), flush=True)


def repaid_after_kill(branches: int, calls: int, work: Path) -> dict[str, tuple[int, list[str]]]:
    """Per kind: model requests paid in all (kill mid-fan-out, restart) and the requests made after the kill.

    Every branch makes ``calls`` model calls; the last call of the last branch is held in
    flight, the others are answered at once, then the app is killed and started again.
    """
    from dapr_agents_durable.testing import RecordedRequest, ScriptedModelServer, embedded_app_env, kill_during_request
    from dapr_agents_durable.testing import text

    cities = [f"City{n}" for n in range(1, branches + 1)]
    total = 1 + branches * calls
    held: set[str] = set()

    def answer(request: RecordedRequest) -> Any:
        asked = str(request.body["messages"][-1]["content"])
        if asked == PLAN:
            return text(",".join(cities))
        city, label = _branch_call(asked)
        last = calls == 1 or label.endswith("check")
        if city == cities[-1] and last and city not in held:
            held.add(city)
            return text(f"{city}: sunny", delay=60.0)
        return text(f"{city}: sunny")

    results: dict[str, tuple[int, list[str]]] = {}
    for kind in ("sqlite", "ours"):
        folder = work / f"kill-{kind}-{calls}"
        folder.mkdir()
        held.clear()
        env = embedded_app_env(folder / "engine.db", {"PYTHONPATH": os.pathsep.join(sys.path)})
        with ScriptedModelServer(rule=answer) as server:

            def start(resume: bool) -> subprocess.Popen[str]:
                command = [sys.executable, __file__, "--app", server.base_url, kind, f"fan-{kind}",
                           str(folder / "checkpoints.sqlite"), "--calls", str(calls), *(["--resume"] if resume else [])]
                return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

            first = start(False)
            server.wait_for_request(total, timeout=120)
            time.sleep(2.0)  # every other call is answered and its branch written; the held one stays in flight
            kill_during_request(first, server, total)
            out, err = start(True).communicate(timeout=180)
            reports = json.loads(out.strip().splitlines()[-1])["reports"] if out.strip() else []
            if reports != sorted(f"{city}: sunny" for city in cities):
                raise RuntimeError(f"{kind}: resumed run reported {reports!r}\n{err[-3000:]}")
            after = [_branch_call(str(r.body["messages"][-1]["content"])) for r in server.requests[total:]]
            results[kind] = (server.request_count, [f"{city} {label}" for city, label in after])
    return results


def _branch_call(asked: str) -> tuple[str, str]:
    """The city and the kind of call ("report" / "check") of a branch's model request."""
    if asked.startswith("Check the report for "):
        return asked.removeprefix("Check the report for ").split(":")[0], "check"
    return asked.removeprefix("Report the weather in ").removesuffix("."), "report"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, nargs="+", default=[15], help="tool turns per ReAct run (K)")
    parser.add_argument("--repeats", type=int, default=9, help="measured runs of each kind")
    parser.add_argument("--branches", type=int, default=4, help="Send branches of the killed super-step (N)")
    parser.add_argument("--app", nargs=4, metavar=("BASE_URL", "KIND", "THREAD", "CHECKPOINTS"), help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, nargs="*", default=[1, 2],
                        help="model calls per branch, one kill scenario each (none: skip the kills)")
    parser.add_argument("--resume", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.app:
        base_url, kind, thread, checkpoints = args.app
        app(base_url, kind, thread, checkpoints, calls=args.calls[0] if args.calls else 1, resume=args.resume)
        return
    work = Path(tempfile.mkdtemp(prefix="langgraph-bench-"))
    for name in ("DAPR_GRPC_ENDPOINT", "DAPR_GRPC_PORT"):
        os.environ.pop(name, None)
    os.environ["DAPR_AGENTS_DURABLE_DB"] = str(work / "engine.db")

    print(f"LangGraph ReAct graph, zero-latency in-process model, {args.repeats} runs of each kind, "
          f"{os.cpu_count()} cores; ms per step (one model call + one tool call)")
    print("| K | native p50 / p90 | SqliteSaver p50 / p90 | ours p50 / p90 | added: SqliteSaver | added: ours "
          "| ours / SqliteSaver added |")
    print("|---|---|---|---|---|---|---|")
    for turns in args.turns:
        figures = per_step(turns, args.repeats, work)
        p50 = {k: statistics.median(v) for k, v in figures.items()}
        p90 = {k: _percentile(v, 0.9) for k, v in figures.items()}
        added = {k: p50[k] - p50["native"] for k in ("sqlite", "ours")}
        print(f"| {turns} | {p50['native']:.2f} / {p90['native']:.2f} | {p50['sqlite']:.2f} / {p90['sqlite']:.2f} | "
              f"{p50['ours']:.2f} / {p90['ours']:.2f} | {added['sqlite']:.2f} | {added['ours']:.2f} | "
              f"{added['ours'] / added['sqlite']:.2f}x |", flush=True)

    from dapr_agents_durable.runtime import get_runtime

    get_runtime().stop()
    if not args.calls:
        return
    print(f"\nKill mid-super-step: a plan call, then Send to {args.branches} branches (ChatOpenAI over HTTP), "
          "SIGKILL while one branch's last call is in flight and every other call is answered, restart on the "
          "same thread (native: same SqliteSaver file, invoke(None, config))")
    print("| calls per branch | without a kill | native + SqliteSaver: in all / re-paid | ours: in all / re-paid "
          "| asked again: native | asked again: ours |")
    print("|---|---|---|---|---|---|")
    for calls in args.calls:
        baseline = 1 + args.branches * calls
        paid = repaid_after_kill(args.branches, calls, work)
        (native, native_asked), (ours, ours_asked) = paid["sqlite"], paid["ours"]
        print(f"| {calls} | {baseline} | {native} / {native - baseline} | {ours} / {ours - baseline} | "
              f"{', '.join(native_asked) or '-'} | {', '.join(ours_asked) or '-'} |")

if __name__ == "__main__":
    main()
