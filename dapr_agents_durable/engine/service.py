"""``TaskHubSidecarService``: the sidecar's workflow RPCs, served from the dispatcher."""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

import grpc
from google.protobuf import empty_pb2
from google.protobuf.wrappers_pb2 import BoolValue

from dapr_agents_durable.engine import protos as pb
from dapr_agents_durable.engine.checks import InvalidArgument, identifier, timestamp_seconds
from dapr_agents_durable.engine.config import EngineConfig
from dapr_agents_durable.engine.dispatcher import PING, Dispatcher
from dapr_agents_durable.engine.events import new_event, string_value, timestamp
from dapr_agents_durable.engine.store import InstanceRow
from dapr_agents_durable.engine.rerun import RerunRejected, RerunRequest, rerun
from dapr_agents_durable.engine.turns import InstanceConflict

log = logging.getLogger("dapr_agents_durable.engine")

# How long Terminate/Suspend/Resume wait for a worker to apply them before returning.
_LIFECYCLE_WAIT_SECONDS = 10.0
_NO_INSTANCE = "no such instance exists"


def _abort(context: grpc.ServicerContext, code: grpc.StatusCode, message: str) -> None:
    context.abort(code, message)


_Handler = TypeVar("_Handler", bound=Callable[..., Any])


def _checked(handler: _Handler) -> _Handler:
    """Answer INVALID_ARGUMENT, naming the RPC, when ``handler`` finds a field out of range."""

    @functools.wraps(handler)
    def run(self: object, request: object, context: grpc.ServicerContext) -> Any:
        try:
            return handler(self, request, context)
        except InvalidArgument as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{handler.__name__}: {exc}")

    return cast(_Handler, run)


class SidecarService(pb.service_grpc.TaskHubSidecarServiceServicer):
    """The RPC handlers. Every write goes through one dispatcher transaction.

    Example::

        server = grpc.server(ThreadPoolExecutor())
        pb.service_grpc.add_TaskHubSidecarServiceServicer_to_server(SidecarService(config, d), server)
    """

    def __init__(self, config: EngineConfig, dispatcher: Dispatcher) -> None:
        self.config = config
        self.dispatcher = dispatcher
        self._wait_slots = threading.BoundedSemaphore(config.max_waiting_calls)
        self._stream_slots = threading.BoundedSemaphore(config.max_work_item_streams)

    @contextlib.contextmanager
    def _wait_slot(self, context: grpc.ServicerContext, rpc: str) -> Iterator[None]:
        if not self._wait_slots.acquire(blocking=False):
            _abort(
                context,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"{rpc}: the engine already serves {self.config.max_waiting_calls} waiting calls "
                "(max_waiting_calls, --max-waiting-calls); retry later or poll GetInstance",
            )
        try:
            yield
        finally:
            self._wait_slots.release()

    def _check_router(self, context: grpc.ServicerContext, request: object) -> None:
        router = getattr(request, "router", None)
        if (
            router is not None
            and request.HasField("router")  # type: ignore[attr-defined]
            and router.HasField("targetAppID")
            and router.targetAppID not in ("", self.config.app_id)
        ):
            _abort(
                context,
                grpc.StatusCode.FAILED_PRECONDITION,
                f"app '{router.targetAppID}' is not served by the embedded engine (app id "
                f"'{self.config.app_id}'); run under a Dapr sidecar for multi-app workflows",
            )

    # -- connection --------------------------------------------------------------------

    def Hello(self, request: empty_pb2.Empty, context: grpc.ServicerContext) -> empty_pb2.Empty:
        return empty_pb2.Empty()

    def GetWorkItems(
        self, request: pb.service.GetWorkItemsRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.service.WorkItem]:
        if not self._stream_slots.acquire(blocking=False):
            _abort(
                context,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"GetWorkItems: the engine already serves {self.config.max_work_item_streams} work-item "
                "streams (max_work_item_streams, --max-work-item-streams); connect again later",
            )
        try:
            yield from self._work_items(request, context)
        finally:
            self._stream_slots.release()

    def _work_items(
        self, request: pb.service.GetWorkItemsRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.service.WorkItem]:
        capabilities = frozenset(getattr(request, "capabilities", ()))
        stream = self.dispatcher.open_stream(capabilities)
        context.add_callback(lambda: self.dispatcher.close_stream(stream))
        log.info("worker stream %d connected (capabilities %s)", stream.id, sorted(capabilities))
        pings = pb.CAPABILITY_HEALTH_PING in capabilities and pb.has_field(pb.service.WorkItem, "healthPing")
        try:
            while context.is_active():
                item = self.dispatcher.next_item(stream, self.config.health_ping_interval)
                if item is None:
                    return
                if item is PING:
                    if pings:
                        yield pb.service.WorkItem(healthPing=pb.service.HealthPing())
                    continue
                yield item  # type: ignore[misc]
        finally:
            self.dispatcher.close_stream(stream)
            log.info("worker stream %d closed", stream.id)

    def CompleteOrchestratorTask(
        self, request: pb.service.WorkflowResponse, context: grpc.ServicerContext
    ) -> pb.service.CompleteTaskResponse:
        refused = self.dispatcher.complete_turn(request)
        if refused is not None:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"CompleteOrchestratorTask: {refused}")
        return pb.service.CompleteTaskResponse()

    CompleteWorkflowTask = CompleteOrchestratorTask

    def CompleteActivityTask(
        self, request: pb.service.ActivityResponse, context: grpc.ServicerContext
    ) -> pb.service.CompleteTaskResponse:
        self.dispatcher.complete_activity(request)
        return pb.service.CompleteTaskResponse()

    # -- client operations -------------------------------------------------------------

    @_checked
    def StartInstance(
        self, request: pb.service.CreateInstanceRequest, context: grpc.ServicerContext
    ) -> pb.service.CreateInstanceResponse:
        identifier("name (the workflow name)", request.name)
        instance_id = identifier("instanceId", request.instanceId, required=False) or uuid.uuid4().hex
        version = identifier("version", request.version.value, required=False) or None
        start_at = None
        if request.HasField("scheduledStartTimestamp"):
            start_at = timestamp_seconds("scheduledStartTimestamp", request.scheduledStartTimestamp)
        self._check_router(context, request)
        try:
            with self.dispatcher.write() as life:
                life.create(
                    instance_id,
                    request.name,
                    request.input.value if request.HasField("input") else None,
                    scheduled_start=start_at,
                    version=version,
                    enforce_unique=bool(getattr(request, "enforceUniqueInstanceId", False)),
                )
        except InstanceConflict as exc:
            _abort(context, grpc.StatusCode.ALREADY_EXISTS, str(exc))
        return pb.service.CreateInstanceResponse(instanceId=instance_id)

    @_checked
    def GetInstance(
        self, request: pb.service.GetInstanceRequest, context: grpc.ServicerContext
    ) -> pb.service.GetInstanceResponse:
        identifier("instanceId", request.instanceId)
        self._check_router(context, request)
        return self._state(self.dispatcher.instance(request.instanceId), request.getInputsAndOutputs)

    @_checked
    def WaitForInstanceStart(
        self, request: pb.service.GetInstanceRequest, context: grpc.ServicerContext
    ) -> pb.service.GetInstanceResponse:
        identifier("instanceId", request.instanceId)
        with self._wait_slot(context, "WaitForInstanceStart"):
            inst = self._wait(request.instanceId, context, lambda i: i is not None and i.status != pb.PENDING)
        return self._state(inst, request.getInputsAndOutputs)

    @_checked
    def WaitForInstanceCompletion(
        self, request: pb.service.GetInstanceRequest, context: grpc.ServicerContext
    ) -> pb.service.GetInstanceResponse:
        identifier("instanceId", request.instanceId)
        with self._wait_slot(context, "WaitForInstanceCompletion"):
            inst = self._wait(
                request.instanceId, context, lambda i: i is not None and i.status in pb.TERMINAL_STATUSES
            )
        return self._state(inst, request.getInputsAndOutputs)

    def _wait_briefly(
        self, instance_id: str, context: grpc.ServicerContext, done: Callable[[InstanceRow | None], bool]
    ) -> None:
        """Give a lifecycle request a moment to apply, unless every wait slot is taken."""
        if self._wait_slots.acquire(blocking=False):
            try:
                self._wait(instance_id, context, done, limit=_LIFECYCLE_WAIT_SECONDS)
            finally:
                self._wait_slots.release()

    def _wait(
        self,
        instance_id: str,
        context: grpc.ServicerContext,
        done: Callable[[InstanceRow | None], bool],
        limit: float | None = None,
    ) -> InstanceRow | None:
        waiter = self.dispatcher.watch(instance_id)
        context.add_callback(waiter.set)  # a caller that goes away frees its slot at once, not a poll later
        started = time.monotonic()
        try:
            while True:
                inst = self.dispatcher.instance(instance_id)
                if done(inst):
                    return inst
                if not context.is_active():
                    _abort(context, grpc.StatusCode.CANCELLED, "the caller went away")
                remaining = context.time_remaining()
                if limit is not None:
                    left = limit - (time.monotonic() - started)
                    if left <= 0:
                        return inst
                    remaining = left if remaining is None else min(remaining, left)
                if remaining is not None and remaining <= 0:
                    _abort(context, grpc.StatusCode.DEADLINE_EXCEEDED, f"timed out waiting for '{instance_id}'")
                waiter.wait(1.0 if remaining is None else min(1.0, remaining))
                waiter.clear()
        finally:
            self.dispatcher.unwatch(instance_id, waiter)

    def _state(self, inst: InstanceRow | None, with_payloads: bool) -> pb.service.GetInstanceResponse:
        if inst is None:
            return pb.service.GetInstanceResponse(exists=False)
        state = pb.orchestration.WorkflowState(
            instanceId=inst.instance_id,
            name=inst.name,
            workflowStatus=cast("pb.orchestration.OrchestrationStatus.ValueType", inst.status),
            createdTimestamp=timestamp(inst.created_at),
            lastUpdatedTimestamp=timestamp(inst.last_updated_at),
            executionId=string_value(inst.execution_id),
        )
        if inst.version_name:
            state.version.value = inst.version_name
        if inst.scheduled_start is not None:
            state.scheduledStartTimestamp.CopyFrom(timestamp(inst.scheduled_start))
        if inst.completed_at is not None:
            state.completedTimestamp.CopyFrom(timestamp(inst.completed_at))
        if inst.parent_instance_id is not None:
            state.parentInstanceId.value = inst.parent_instance_id
            if pb.has_field(pb.orchestration.WorkflowState, "parentAppId"):
                state.parentAppId.value = self.config.app_id
        if inst.started_at is not None and pb.has_field(pb.orchestration.WorkflowState, "startedAt"):
            state.startedAt.CopyFrom(timestamp(inst.started_at))
        if with_payloads:
            for name in ("input", "output", "custom_status"):
                value = getattr(inst, name)
                if value is not None:
                    getattr(state, "customStatus" if name == "custom_status" else name).value = value
            if inst.failure_details is not None:
                state.failureDetails.ParseFromString(inst.failure_details)
        return pb.service.GetInstanceResponse(exists=True, workflowState=state)

    @_checked
    def RaiseEvent(
        self, request: pb.service.RaiseEventRequest, context: grpc.ServicerContext
    ) -> pb.service.RaiseEventResponse:
        identifier("instanceId", request.instanceId)
        identifier("name (the event name)", request.name)
        self._check_router(context, request)
        with self.dispatcher.write() as life:
            inst = life.store.get_instance(request.instanceId)
            if inst is None:
                _abort(context, grpc.StatusCode.NOT_FOUND, _NO_INSTANCE)
            assert inst is not None
            if inst.status == pb.STALLED:
                _abort(context, grpc.StatusCode.FAILED_PRECONDITION, "workflow is stalled")
            if inst.status not in pb.TERMINAL_STATUSES:
                raised = pb.events.EventRaisedEvent(
                    name=request.name, input=request.input if request.HasField("input") else None
                )
                life.deliver(request.instanceId, new_event(eventRaised=raised))
        return pb.service.RaiseEventResponse()

    @_checked
    def TerminateInstance(
        self, request: pb.service.TerminateRequest, context: grpc.ServicerContext
    ) -> pb.service.TerminateResponse:
        identifier("instanceId", request.instanceId)
        self._check_router(context, request)
        with self.dispatcher.write() as life:
            output = request.output.value if request.HasField("output") else None
            if not life.terminate(request.instanceId, output, request.recursive):
                _abort(
                    context, grpc.StatusCode.NOT_FOUND, f"failed to submit termination request: {_NO_INSTANCE}"
                )
        self._wait_briefly(request.instanceId, context, lambda i: i is None or i.status in pb.TERMINAL_STATUSES)
        return pb.service.TerminateResponse()

    @_checked
    def SuspendInstance(
        self, request: pb.service.SuspendRequest, context: grpc.ServicerContext
    ) -> pb.service.SuspendResponse:
        self._lifecycle_event(request, context, suspend=True)
        return pb.service.SuspendResponse()

    @_checked
    def ResumeInstance(
        self, request: pb.service.ResumeRequest, context: grpc.ServicerContext
    ) -> pb.service.ResumeResponse:
        self._lifecycle_event(request, context, suspend=False)
        return pb.service.ResumeResponse()

    def _lifecycle_event(self, request: object, context: grpc.ServicerContext, *, suspend: bool) -> None:
        instance_id: str = request.instanceId  # type: ignore[attr-defined]
        identifier("instanceId", instance_id)
        self._check_router(context, request)
        reason = string_value(request.reason.value) if request.HasField("reason") else None  # type: ignore[attr-defined]
        with self.dispatcher.write() as life:
            inst = life.store.get_instance(instance_id)
            if inst is None:
                _abort(context, grpc.StatusCode.NOT_FOUND, _NO_INSTANCE)
            assert inst is not None
            if inst.status in pb.TERMINAL_STATUSES:
                return
            if self.config.lenient_lifecycle and inst.suspended == suspend:
                return
            if suspend:
                event = new_event(executionSuspended=pb.events.ExecutionSuspendedEvent(input=reason))
            else:
                event = new_event(executionResumed=pb.events.ExecutionResumedEvent(input=reason))
            life.deliver(instance_id, event)
        wanted = pb.SUSPENDED if suspend else pb.RUNNING
        self._wait_briefly(
            instance_id, context, lambda i: i is None or i.status == wanted or i.status in pb.TERMINAL_STATUSES
        )

    @_checked
    def PurgeInstances(
        self, request: pb.service.PurgeInstancesRequest, context: grpc.ServicerContext
    ) -> pb.service.PurgeInstancesResponse:
        if request.HasField("purgeInstanceFilter"):
            window = request.purgeInstanceFilter
            for name in ("createdTimeFrom", "createdTimeTo"):
                if window.HasField(name):
                    timestamp_seconds(f"purgeInstanceFilter.{name}", getattr(window, name))
            _abort(
                context,
                grpc.StatusCode.UNIMPLEMENTED,
                "multi-instance purge is not implemented; purge one instance id at a time",
            )
        identifier("instanceId", request.instanceId)
        self._check_router(context, request)
        force = bool(getattr(request, "force", False))
        with self.dispatcher.write() as life:
            inst = life.store.get_instance(request.instanceId)
            if inst is None:
                _abort(context, grpc.StatusCode.NOT_FOUND, _NO_INSTANCE)
            ids = self._purge_set(request.instanceId, request.recursive)
            if not force:
                running = [i for i in ids if (r := life.store.get_instance(i)) and r.status not in pb.TERMINAL_STATUSES]
                if running:
                    _abort(
                        context,
                        grpc.StatusCode.FAILED_PRECONDITION,
                        f"orchestration has not yet completed: '{running[0]}' is still running; "
                        "terminate it first",
                    )
            for instance_id in ids:
                life.store.delete_instance(instance_id)
                self.dispatcher.forget(instance_id)
        return pb.service.PurgeInstancesResponse(deletedInstanceCount=len(ids), isComplete=BoolValue(value=True))

    def _purge_set(self, root: str, recursive: bool) -> list[str]:
        ids, queue, seen = [], [root], {root}
        while queue:
            instance_id = queue.pop()
            if self.dispatcher.store.get_instance(instance_id) is None:
                continue
            ids.append(instance_id)
            if recursive:
                for child in self.dispatcher.store.children(instance_id):
                    if child not in seen:
                        seen.add(child)
                        queue.append(child)
        return ids

    @_checked
    def ListInstanceIDs(
        self, request: pb.service.ListInstanceIDsRequest, context: grpc.ServicerContext
    ) -> pb.service.ListInstanceIDsResponse:
        page = request.pageSize or 1 << 31
        after = identifier("continuationToken", request.continuationToken, required=False)
        with self.dispatcher.lock:
            ids = self.dispatcher.store.list_instance_ids(after, page + 1)
        response = pb.service.ListInstanceIDsResponse(instanceIds=ids[:page])
        if len(ids) > page:
            response.continuationToken = ids[page - 1]
        return response

    @_checked
    def GetInstanceHistory(
        self, request: pb.service.GetInstanceHistoryRequest, context: grpc.ServicerContext
    ) -> pb.service.GetInstanceHistoryResponse:
        identifier("instanceId", request.instanceId)
        with self.dispatcher.lock:
            inst = self.dispatcher.store.get_instance(request.instanceId)
            blobs = self.dispatcher.store.history(request.instanceId) if inst else []
        if inst is None:
            _abort(context, grpc.StatusCode.NOT_FOUND, f"workflow instance '{request.instanceId}' not found")
        response = pb.service.GetInstanceHistoryResponse()
        for blob in blobs:
            response.events.add().ParseFromString(blob)
        return response

    @_checked
    def RerunWorkflowFromEvent(
        self, request: pb.service.RerunWorkflowFromEventRequest, context: grpc.ServicerContext
    ) -> pb.service.RerunWorkflowFromEventResponse:
        identifier("sourceInstanceID", request.sourceInstanceID)
        identifier("newInstanceID", request.newInstanceID, required=False)
        identifier("newChildWorkflowInstanceID", request.newChildWorkflowInstanceID, required=False)
        self._check_router(context, request)
        rerun_request = RerunRequest(
            source_id=request.sourceInstanceID,
            event_id=request.eventID,
            new_id=request.newInstanceID if request.HasField("newInstanceID") else None,
            input=request.input.value if request.HasField("input") else None,
            overwrite_input=request.overwriteInput,
            new_child_id=(
                request.newChildWorkflowInstanceID if request.HasField("newChildWorkflowInstanceID") else None
            ),
        )
        try:
            with self.dispatcher.write() as life:
                new_id = rerun(life, rerun_request)
        except RerunRejected as exc:
            _abort(context, getattr(grpc.StatusCode, exc.code), str(exc))
        return pb.service.RerunWorkflowFromEventResponse(newInstanceID=new_id)
