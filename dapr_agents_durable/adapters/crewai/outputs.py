"""CrewAI's ``TaskOutput`` and ``CrewOutput`` as JSON, and back.

A task's child workflow returns its ``TaskOutput`` (structured output as a dict, read
back through the task's ``output_pydantic`` model); a run stores its ``CrewOutput``
the same way, so a finished run's result is readable from its state too.
"""

from __future__ import annotations

from typing import Any

from crewai import Task
from crewai.crews.crew_output import CrewOutput
from crewai.tasks.task_output import TaskOutput
from crewai.types.usage_metrics import UsageMetrics

from dapr_agents_durable.runtime.codec import checked


def encode_task_output(output: TaskOutput) -> dict[str, Any]:
    data = output.model_dump(mode="json")
    # Declared as a bare BaseModel, the structured output would dump as {}.
    data["pydantic"] = None if output.pydantic is None else output.pydantic.model_dump(mode="json")
    return checked(data, what=f"output of task {output.name or output.description!r}")  # type: ignore[no-any-return]


def decode_task_output(data: dict[str, Any], task: Task | None) -> TaskOutput:
    data = dict(data)
    pydantic = data.get("pydantic")
    model = getattr(task, "output_pydantic", None) if task is not None else None
    data["pydantic"] = model.model_validate(pydantic) if pydantic is not None and model is not None else None
    return TaskOutput.model_validate(data)


def encode_crew_output(output: CrewOutput) -> dict[str, Any]:
    data = {
        "raw": output.raw,
        "pydantic": None if output.pydantic is None else output.pydantic.model_dump(mode="json"),
        "json_dict": output.json_dict,
        "tasks_output": [encode_task_output(task) for task in output.tasks_output],
        "token_usage": output.token_usage.model_dump(mode="json"),
    }
    return checked(data, what="crew output")  # type: ignore[no-any-return]


def decode_crew_output(data: dict[str, Any], tasks: list[Task]) -> CrewOutput:
    """The crew output; ``tasks`` give the structured-output models of the tasks, in order."""
    by_description = {task.description: task for task in tasks}
    outputs = [decode_task_output(item, by_description.get(item["description"])) for item in data["tasks_output"]]
    last = outputs[-1] if outputs else None
    return CrewOutput(
        raw=data["raw"],
        pydantic=last.pydantic if last is not None and data["pydantic"] is not None else None,
        json_dict=data["json_dict"],
        tasks_output=outputs,
        token_usage=UsageMetrics.model_validate(data["token_usage"]),
    )
