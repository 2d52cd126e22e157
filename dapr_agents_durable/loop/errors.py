"""Errors raised by the deterministic loop.

Example::

    try:
        await current_execution().call_activity("search", {"q": "dapr"})
    except ActivityError as err:
        print(err.error_type, err.error_message)
"""

from __future__ import annotations


class DurableLoopError(RuntimeError):
    """Something was asked of the durable loop that it cannot do durably.

    The message names what went wrong and how to fix it (for example: I/O belongs in an
    activity; a seam was called off the durable loop thread).
    """


class NonDeterminismError(DurableLoopError):
    """A replay requested something other than what the workflow's history recorded.

    Raised inside the orchestrator, so the run fails with this message instead of
    silently diverging from its history.
    """


class DurableTaskError(Exception):
    """A durable request (activity or child workflow) failed.

    Attributes name the request and carry the failure as the engine recorded it:
    ``error_type`` is the remote exception's class name, ``error_message`` its text.
    """

    kind = "durable task"

    def __init__(
        self,
        name: str,
        error_type: str,
        error_message: str,
        stack_trace: str | None = None,
    ) -> None:
        super().__init__(
            f"{self.kind} {name!r} failed with {error_type}: {error_message}"
        )
        self.name = name
        self.error_type = error_type
        self.error_message = error_message
        self.stack_trace = stack_trace


class ActivityError(DurableTaskError):
    """An activity failed (after its retry policy, if any, gave up)."""

    kind = "activity"


class ChildWorkflowError(DurableTaskError):
    """A child workflow failed (after its retry policy, if any, gave up)."""

    kind = "child workflow"


def nondeterminism_message(subject: str, detail: str) -> str:
    """The full text of a non-determinism failure: what diverged, the likely cause, the fix.

    Example::

        nondeterminism_message("Workflow 'triage' (instance 'r1')", "at step 2: ...")
    """
    return (
        f"{subject} is not deterministic {detail} Likely cause: the agent's code or its "
        "framework version changed while this run was in flight. Finish or purge old runs "
        "before upgrading, or use versioning (WorkflowRuntime.register_versioned_workflow, "
        "ctx.is_patched) so in-flight runs keep the code they started with."
    )
