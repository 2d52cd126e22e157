"""The demo's agent app: a 15-step agent whose every model call is a durable activity.

Run by :mod:`dapr_agents_durable.demo.run` as its own process, which it kills
during a model call and starts again. It starts the embedded engine in-process
(no sidecar here), so a kill takes the engine down with it; the restart resumes
the run from the engine's database file.

Usage::

    python -m dapr_agents_durable.demo.app --db ./demo.db --model-url http://127.0.0.1:PORT/v1 --run-id demo-1
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.request

import dapr.ext.workflow as wf

from dapr_agents_durable.engine import EmbeddedEngine

STEPS = 15


def model_call(ctx: wf.WorkflowActivityContext, request: dict) -> str:
    """One chat-completions request; the API key comes from the environment, never from history."""
    body = json.dumps(
        {"model": "demo", "messages": [{"role": "user", "content": f"step {request['step']}: {request['task']}"}]}
    ).encode()
    http_request = urllib.request.Request(
        request["model_url"].rstrip("/") + "/chat/completions",
        data=body,
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {os.environ.get('DEMO_API_KEY', 'sk-demo')}",
        },
    )
    with urllib.request.urlopen(http_request, timeout=120) as response:
        payload = json.loads(response.read())
    return str(payload["choices"][0]["message"]["content"])


def research_agent(ctx: wf.DaprWorkflowContext, task: dict):
    """The agent loop: each step asks the model and keeps its answer."""
    notes = []
    for step in range(1, STEPS + 1):
        answer = yield ctx.call_activity(model_call, input={**task, "step": step})
        notes.append(answer)
        if not ctx.is_replaying:
            print(json.dumps({"event": "step", "step": step}), flush=True)
    return {"steps": len(notes), "summary": notes[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description="the demo agent app")
    parser.add_argument("--db", required=True)
    parser.add_argument("--model-url", required=True)
    parser.add_argument("--run-id", required=True)
    args = parser.parse_args()

    engine = EmbeddedEngine(db_path=args.db, port=0).start()
    runtime = wf.WorkflowRuntime(host="127.0.0.1", port=str(engine.port))
    runtime.register_activity(model_call)
    runtime.register_workflow(research_agent)
    runtime.start()
    client = wf.DaprWorkflowClient(host="127.0.0.1", port=str(engine.port))
    try:
        state = client.get_workflow_state(args.run_id)
        resumed = state is not None
        if not resumed:
            client.schedule_new_workflow(
                research_agent,
                input={"task": "survey durable agent runtimes", "model_url": args.model_url},
                instance_id=args.run_id,
            )
        print(json.dumps({"event": "started", "resumed": resumed}), flush=True)
        state = client.wait_for_workflow_completion(args.run_id, timeout_in_seconds=300)
        assert state is not None
        print(json.dumps({"event": "finished", "status": state.runtime_status.name,
                          "output": json.loads(state.serialized_output or "null")}), flush=True)
    finally:
        runtime.shutdown()
        engine.stop()


if __name__ == "__main__":
    main()
