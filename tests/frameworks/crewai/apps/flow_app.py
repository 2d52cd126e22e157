"""A durable flow for the crash test, against an OpenAI-compatible server.

Usage: python flow_app.py BASE_URL RUN_ID LOG_DIR
The flow picks a city (an LLM call in its start method), books the trip with a crew
(one tool call and an answer, in a child run) and writes a postcard (an LLM call).
Each method appends its name to LOG_DIR/methods.jsonl, the tool its argument to
LOG_DIR/tools.jsonl. The engine database comes from DAPR_AGENTS_DURABLE_DB, the key
from OPENAI_API_KEY. Prints one JSON line with the result and the final state.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from crewai import LLM, Agent, Crew, Task
from crewai.flow.flow import listen, start
from crewai.tools import tool
from pydantic import BaseModel

from dapr_agents_durable.adapters.crewai import Flow
from dapr_agents_durable.runtime import idempotency_key

base_url, run_id, log_dir = sys.argv[1], sys.argv[2], Path(sys.argv[3])


def log(name: str, entry: dict[str, object]) -> None:
    with open(log_dir / f"{name}.jsonl", "a") as file:
        file.write(json.dumps(entry) + "\n")
        file.flush()
        os.fsync(file.fileno())


@tool("record_step")
def record_step(n: int) -> str:
    """Record step n of the plan."""
    log("tools", {"n": n, "key": idempotency_key()})
    return f"step {n} recorded"


llm = LLM(model="openai/scripted", base_url=base_url, api_key=os.environ["OPENAI_API_KEY"])


class TripState(BaseModel):
    city: str = ""
    booking: str = ""


class TripFlow(Flow[TripState]):
    @start()
    def pick(self) -> str:
        log("methods", {"method": "pick"})
        self.state.city = llm.call("Pick a city to visit.")
        return self.state.city

    @listen(pick)
    def book(self, city: str) -> str:
        log("methods", {"method": "book"})
        clerk = Agent(role="clerk", goal="book trips", backstory="a travel clerk", llm=llm, tools=[record_step])
        task = Task(description="Book the trip to {city}.", expected_output="a confirmation", agent=clerk)
        self.state.booking = Crew(name="booking", agents=[clerk], tasks=[task]).kickoff(inputs={"city": city}).raw
        return self.state.booking

    @listen(book)
    def postcard(self, booking: str) -> str:
        log("methods", {"method": "postcard"})
        return llm.call(f"Write the postcard: {booking}")


flow = TripFlow()
result = flow.kickoff(run_id=run_id)
print(json.dumps({"result": result, "state": flow.state.model_dump(exclude={"id"})}), flush=True)
