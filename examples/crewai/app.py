"""A durable CrewAI app: a researcher with a weather tool and a writer whose draft a person reviews.

Offline (no OPENAI_API_KEY): a scripted OpenAI-compatible model server stands in for the
LLM and the embedded engine runs in this process::

    python examples/crewai/app.py --city Paris --run-id trip-1

Against a real model, with a Dapr sidecar (the runtime finds it via DAPR_GRPC_PORT)::

    export OPENAI_API_KEY=sk-...
    dapr run --app-id crewai-weather --resources-path ./components -- \
        python examples/crewai/app.py --city Paris --run-id trip-1

The writer's task has ``human_input=True``: the run waits for feedback as a workflow
event. This app asks on its terminal (an empty line accepts the draft); any other process
can answer instead, e.g. ``dapr-agents-durable approvals list`` then
``dapr-agents-durable approvals approve trip-1-task-1 <call id>``. Kill the app and run it
again with the same --run-id: the run resumes where it was; a finished run answers from
its stored result without calling the model.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator

os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("OTEL_SDK_DISABLED", "true")
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")
os.environ.setdefault("CREWAI_TESTING", "true")

from crewai import LLM, Agent, Task  # noqa: E402
from crewai.tools import tool  # noqa: E402

from dapr_agents_durable.adapters.crewai import Crew  # noqa: E402  (was: from crewai import Crew)
from dapr_agents_durable.runtime import Decision, get_runtime, serve  # noqa: E402


@tool("get_weather")
def get_weather(city: str) -> str:
    """Return the weather for a city."""
    return f"sunny and 22 C in {city}"


@contextlib.contextmanager
def offline_llm() -> Iterator[Callable[[], LLM]]:
    """A scripted model server: the researcher calls the tool, the writer drafts and revises."""
    from dapr_agents_durable.testing import RecordedRequest, ScriptedModelServer, text, tool_call

    def answer(request: RecordedRequest):
        messages = request.body.get("messages", [])
        system = str(messages[0].get("content", "")) if messages else ""
        if "researcher" in system:
            if not request.tool_outputs:
                return tool_call("get_weather", {"city": "Paris"})
            return text(f"Weather: {request.tool_outputs[-1]}.")
        feedback = [m for m in messages[2:] if m.get("role") == "user"]
        return text("Paris: sunny, 22 C." if not feedback else "Paris: sunny, 22 C, perfect for a walk.")

    with ScriptedModelServer(rule=answer) as server:
        yield lambda: LLM(model="openai/scripted", base_url=server.base_url, api_key="sk-offline-example")


def build_crew(llm: Callable[[], LLM], city: str) -> Crew:
    researcher = Agent(role="researcher", goal=f"find the weather in {city}", backstory="a meteorologist",
                       llm=llm(), tools=[get_weather])
    writer = Agent(role="writer", goal="write one-line forecasts", backstory="an editor", llm=llm())
    research = Task(description="Find the weather in {city}.", expected_output="the weather", agent=researcher)
    write = Task(description="Write a one-line forecast for {city}.", expected_output="one line", agent=writer,
                 context=[research], human_input=True)
    return Crew(name="forecast-desk", agents=[researcher, writer], tasks=[research, write])


def answer_feedback_here(run_id: str, done: threading.Event) -> None:
    """Ask on this terminal whenever the run waits for feedback (another process may answer first)."""
    runtime = get_runtime()
    review = f"{run_id}-task-1"
    asked: set[str] = set()
    while not done.is_set():
        for pending in runtime.pending_approvals(review) if runtime.state(review) else []:
            if pending.call_id in asked:
                continue
            asked.add(pending.call_id)
            print(f"review {pending.arguments}")
            feedback = input("feedback (empty line accepts): ").strip()
            runtime.decide(review, Decision(pending.call_id, approved=True, message=feedback or None))
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description="a durable two-agent forecast crew")
    parser.add_argument("--city", default="Paris")
    parser.add_argument("--run-id", default="forecast-1", help="durable run id")
    parser.add_argument("--serve", action="store_true",
                        help="then keep serving durable runs until SIGTERM, as a replica under a Dapr sidecar does")
    args = parser.parse_args()
    llms = contextlib.nullcontext(lambda: LLM(model="openai/gpt-4o-mini")) if os.environ.get("OPENAI_API_KEY") else offline_llm()
    with llms as llm:
        done = threading.Event()
        threading.Thread(target=answer_feedback_here, args=(args.run_id, done), daemon=True).start()
        output = build_crew(llm, args.city).kickoff(inputs={"city": args.city}, run_id=args.run_id)
        done.set()
        print(f"\nrun {args.run_id}: {output.raw} ({output.token_usage.successful_requests} LLM requests)", flush=True)
        if args.serve:
            serve()


if __name__ == "__main__":
    main()
