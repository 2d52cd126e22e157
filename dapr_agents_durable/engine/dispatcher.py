"""Hands work to worker streams under leases, and applies what comes back.

The database is the source of truth; this module keeps the in-memory view needed to
dispatch it: which instances have a turn ready, which activity tasks wait, who holds
which lease, pending timers and the completion tokens in flight. All of it is
rebuilt from the database when the engine starts, so a crash loses at most work that
had not been committed, and that work is dispatched again.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field

from dapr_agents_durable.engine import protos as pb
from dapr_agents_durable.engine.config import EngineConfig
from dapr_agents_durable.engine.effects import Effects
from dapr_agents_durable.engine.events import HistoryEvent, failure, kind, new_event, workflow_started
from dapr_agents_durable.engine.store import ActivityRow, InstanceRow, Store
from dapr_agents_durable.engine.turns import InvalidAction, Lifecycle, UnsupportedAction
from dapr_agents_durable.engine.unstored import UnstoredResults

log = logging.getLogger("dapr_agents_durable.engine")

_RESOLUTIONS = {
    "taskCompleted": ("task", "taskScheduledId"),
    "taskFailed": ("task", "taskScheduledId"),
    "timerFired": ("timer", "timerId"),
    "childWorkflowInstanceCompleted": ("child", "taskScheduledId"),
    "childWorkflowInstanceFailed": ("child", "taskScheduledId"),
}
_SCHEDULINGS = {"taskScheduled": "task", "timerCreated": "timer", "childWorkflowInstanceCreated": "child"}

_ACTIVITY_TOKEN_PREFIX = "a"


def _activity_token(activity_id: int) -> str:
    """A completion token naming its task row, so it stays valid across engine restarts."""
    return f"{_ACTIVITY_TOKEN_PREFIX}{activity_id}.{uuid.uuid4().hex}"


def _activity_of(token: str) -> int:
    """The task row an activity token names (0 if it names none)."""
    head, _, _ = token.partition(".")
    digits = head[len(_ACTIVITY_TOKEN_PREFIX):]
    return int(digits) if head.startswith(_ACTIVITY_TOKEN_PREFIX) and digits.isdigit() else 0


PING = object()
"""Returned by :meth:`Dispatcher.next_item` when a stream has been idle for a while."""


@dataclass(eq=False)
class Stream:
    """One open ``GetWorkItems`` stream of a worker."""

    id: int
    capabilities: frozenset[int]
    turns: set[str] = field(default_factory=set)
    activities: set[int] = field(default_factory=set)
    closed: bool = False
    expired: int = 0
    """Leases this stream let expire since it last answered one of its work items."""

    @property
    def inflight(self) -> int:
        return len(self.turns) + len(self.activities)


@dataclass(eq=False)
class TurnLease:
    token: str
    instance_id: str
    stream: Stream
    deadline: float | None
    inbox_ids: list[int]
    new_events: list[HistoryEvent]


@dataclass(eq=False)
class ActivityLease:
    activity_id: int
    instance_id: str
    stream: Stream | None
    deadline: float | None
    tokens: list[str] = field(default_factory=list)
    avoid: Stream | None = None
    """A stream that let this activity's lease expire: others get it first."""


class Dispatcher:
    """The engine's work queues, leases and completion handling.

    Example::

        dispatcher = Dispatcher(EngineConfig(db_path="/tmp/e.db"), store)
        stream = dispatcher.open_stream(frozenset())
        item = dispatcher.next_item(stream, timeout=1.0)
    """

    def __init__(self, config: EngineConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self.lock = threading.RLock()
        self.work = threading.Condition(self.lock)
        self._ready_instances: dict[str, None] = {}
        self._ready_activities: dict[int, None] = {}
        self._turns: dict[str, TurnLease] = {}
        self._activities: dict[int, ActivityLease] = {}
        self._tokens: dict[str, TurnLease | ActivityLease] = {}
        self._timers: list[tuple[float, str]] = []
        self._streams: dict[int, Stream] = {}
        self._stream_ids = itertools.count(1)
        self._stall_retry: set[str] = set()
        self._waiters: dict[str, set[threading.Event]] = {}
        self._unstored = UnstoredResults()
        self._tick = threading.Event()
        self._stopping = False
        self._recover()

    # -- startup and housekeeping ------------------------------------------------------

    def _recover(self) -> None:
        with self.lock:
            ready, future = self.store.pending_work(time.time())
            self._ready_instances.update(dict.fromkeys(ready))
            self._timers = list(future)
            heapq.heapify(self._timers)
            # Workers of the previous engine process may still be running these and report
            # with their old tokens; ``restart_grace`` gives them that long before a re-run.
            grace = self.config.restart_grace
            for activity_id, instance_id in self.store.activity_instances():
                if grace > 0:
                    self._activities[activity_id] = ActivityLease(activity_id, instance_id, None, time.time() + grace)
                else:
                    self._ready_activities[activity_id] = None
            stalled = self.store.instances_with_status(pb.STALLED)
            self._stall_retry.update(stalled)
            self._ready_instances.update(dict.fromkeys(stalled))

    def run_housekeeping(self) -> None:
        """Fire due timers and expire leases until :meth:`stop` (run on its own thread)."""
        while True:
            with self.work:
                if self._stopping:
                    return
                now = time.time()
                woke = False
                while self._timers and self._timers[0][0] <= now:
                    _, instance_id = heapq.heappop(self._timers)
                    self._ready_instances[instance_id] = None
                    woke = True
                woke |= self._expire_leases(now)
                self._retry_unstored(now)
                if woke:
                    self.work.notify_all()
                wait = 0.5
                if self._timers:
                    wait = min(wait, max(0.0, self._timers[0][0] - now))
            self._tick.wait(wait)
            self._tick.clear()

    def _expire_leases(self, now: float) -> bool:
        expired = False
        for turn in [t for t in self._turns.values() if t.deadline is not None and t.deadline <= now]:
            log.warning("turn of instance %s unanswered past its lease; re-dispatching", turn.instance_id)
            self._count_expiry(turn.stream)
            self._release_turn(turn, requeue=True)
            expired = True
        for activity in [a for a in self._activities.values() if a.deadline is not None and a.deadline <= now]:
            if activity.activity_id in self._ready_activities:
                continue
            log.warning(
                "activity task %s of instance %s unanswered past its lease; re-dispatching",
                activity.activity_id,
                activity.instance_id,
            )
            if activity.stream is not None:
                self._count_expiry(activity.stream)
                activity.stream.activities.discard(activity.activity_id)
                activity.avoid = activity.stream
                activity.stream = None
            activity.deadline = None
            self._ready_activities[activity.activity_id] = None
            expired = True
        return expired

    def _count_expiry(self, stream: Stream) -> None:
        stream.expired += 1
        if stream.expired == self.config.stream_expiry_limit:
            log.warning(
                "worker stream %d let %d lease(s) expire; it gets work only while no answering stream is open",
                stream.id,
                stream.expired,
            )

    def _benched(self, stream: Stream) -> bool:
        """Let too many leases expire, while another stream has not."""
        limit = self.config.stream_expiry_limit
        return stream.expired >= limit and any(
            other.expired < limit for other in self._streams.values() if other is not stream
        )

    def stop(self) -> None:
        with self.work:
            self._stopping = True
            self.work.notify_all()
        self._tick.set()

    # -- streams -----------------------------------------------------------------------

    def open_stream(self, capabilities: frozenset[int]) -> Stream:
        """Register a worker stream; stalled instances get another try on a new worker."""
        with self.work:
            stream = Stream(next(self._stream_ids), capabilities)
            self._streams[stream.id] = stream
            stalled = self.store.instances_with_status(pb.STALLED)
            self._stall_retry.update(stalled)
            self._ready_instances.update(dict.fromkeys(stalled))
            self.work.notify_all()
            return stream

    def close_stream(self, stream: Stream) -> None:
        """The worker went away: re-dispatch its turns now and its activities after the grace."""
        with self.work:
            if stream.closed:
                return
            stream.closed = True
            self._streams.pop(stream.id, None)
            for instance_id in list(stream.turns):
                turn = self._turns.get(instance_id)
                if turn is not None:
                    self._release_turn(turn, requeue=True)
            now = time.time()
            for activity_id in list(stream.activities):
                activity = self._activities.get(activity_id)
                if activity is None:
                    continue
                activity.stream = None
                if self.config.activity_orphan_grace <= 0:
                    activity.deadline = None
                    self._ready_activities[activity_id] = None
                else:
                    activity.deadline = now + self.config.activity_orphan_grace
            stream.activities.clear()
            self.work.notify_all()
        self._tick.set()

    def next_item(self, stream: Stream, timeout: float) -> object | None:
        """Block until a work item can go to ``stream``; ``PING`` after ``timeout`` idle; None once closed."""
        deadline = time.monotonic() + timeout
        with self.work:
            while True:
                if stream.closed or self._stopping:
                    return None
                if stream.inflight < self.config.max_inflight_per_stream and not self._benched(stream):
                    item = self._take_activity(stream) or self._take_turn(stream)
                    if item is not None:
                        return item
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return PING
                self.work.wait(remaining)

    def _take_activity(self, stream: Stream) -> pb.service.WorkItem | None:
        while True:
            activity_id = next((a for a in self._ready_activities if self._may_take(a, stream)), None)
            if activity_id is None:
                return None
            del self._ready_activities[activity_id]
            row = self.store.get_activity(activity_id)
            if row is None:
                self._activities.pop(activity_id, None)
                continue
            lease = self._activities.get(activity_id)
            if lease is None:
                lease = self._activities[activity_id] = ActivityLease(activity_id, row.instance_id, None, None)
            token = _activity_token(activity_id)
            lease.tokens.append(token)
            lease.stream = stream
            timeout = self.config.activity_lease_timeout
            lease.deadline = time.time() + timeout if timeout > 0 else None
            stream.activities.add(activity_id)
            self._tokens[token] = lease
            return pb.service.WorkItem(
                activityRequest=pb.service.ActivityRequest.FromString(row.request), completionToken=token
            )

    def _may_take(self, activity_id: int, stream: Stream) -> bool:
        """Not back to the stream that let its lease expire, while another stream is open."""
        lease = self._activities.get(activity_id)
        return lease is None or lease.avoid is not stream or stream.closed or len(self._streams) < 2

    def _take_turn(self, stream: Stream) -> pb.service.WorkItem | None:
        while self._ready_instances:
            instance_id = next(iter(self._ready_instances))
            del self._ready_instances[instance_id]
            if instance_id in self._turns:
                continue
            item = self._build_turn(stream, instance_id)
            if item is not None:
                return item
        return None

    def _build_turn(self, stream: Stream, instance_id: str) -> pb.service.WorkItem | None:
        inst = self.store.get_instance(instance_id)
        if inst is None:
            return None
        if inst.status in pb.TERMINAL_STATUSES:
            with self.store.transaction():
                self.store.delete_inbox(instance_id)
            return None
        if inst.status == pb.STALLED:
            if instance_id not in self._stall_retry:
                return None
            self._stall_retry.discard(instance_id)
        now = time.time()
        rows = self.store.visible_inbox(instance_id, now)
        if not rows or (inst.status == pb.PENDING and rows[0].kind != "executionStarted"):
            return None
        past_blobs = self.store.history(instance_id)
        request = pb.service.WorkflowRequest(instanceId=instance_id)
        request.executionId.value = inst.execution_id
        scheduled: set[tuple[str, int]] = set()
        resolved: set[tuple[str, int]] = set()
        for blob in past_blobs:
            event = request.pastEvents.add()
            event.ParseFromString(blob)
            self._note_ids(event, scheduled, resolved)
        started = workflow_started(max(now, inst.last_updated_at))
        new_events = [started]
        inbox_ids: list[int] = []
        dropped: list[int] = []
        suspended = inst.suspended
        for row in rows:
            event = HistoryEvent.FromString(row.event)
            event_kind = row.kind
            if event_kind in _RESOLUTIONS:
                group, attr = _RESOLUTIONS[event_kind]
                key = (group, getattr(getattr(event, event_kind), attr))
                if key not in scheduled or key in resolved:
                    dropped.append(row.id)
                    continue
                resolved.add(key)
            elif self.config.lenient_lifecycle and event_kind in ("executionSuspended", "executionResumed"):
                if suspended == (event_kind == "executionSuspended"):
                    dropped.append(row.id)
                    continue
                suspended = not suspended
            new_events.append(event)
            inbox_ids.append(row.id)
        size = inst.history_bytes + sum(len(r.event) for r in rows) + len(inst.incoming_history or b"")
        oversized = size > 0.95 * self.config.max_message_bytes
        if dropped or oversized:
            with self.write() as life:
                self.store.delete_inbox_rows(dropped)
                if oversized:
                    life.stall(
                        inst,
                        pb.orchestration.PAYLOAD_SIZE_EXCEEDED,
                        f"workflow state of {size} bytes is larger than the maximum message size "
                        f"({self.config.max_message_bytes} bytes); increase the engine's max_message_bytes "
                        "(daprd --max-body-size) and restart to resume",
                    )
                    inbox_ids = []
        if not inbox_ids:
            return None
        request.newEvents.extend(new_events)
        if inst.incoming_history:
            request.propagatedHistory.ParseFromString(inst.incoming_history)
        token = uuid.uuid4().hex
        timeout = self.config.turn_timeout
        lease = TurnLease(
            token, instance_id, stream, time.time() + timeout if timeout > 0 else None, inbox_ids, new_events
        )
        self._turns[instance_id] = lease
        self._tokens[token] = lease
        stream.turns.add(instance_id)
        return pb.service.WorkItem(workflowRequest=request, completionToken=token)

    @staticmethod
    def _note_ids(event: HistoryEvent, scheduled: set, resolved: set) -> None:
        event_kind = kind(event)
        if event_kind in _SCHEDULINGS:
            scheduled.add((_SCHEDULINGS[event_kind], event.eventId))
        elif event_kind in _RESOLUTIONS:
            group, attr = _RESOLUTIONS[event_kind]
            resolved.add((group, getattr(getattr(event, event_kind), attr)))

    # -- leases ------------------------------------------------------------------------

    def _release_turn(self, lease: TurnLease, *, requeue: bool) -> None:
        if self._turns.get(lease.instance_id) is lease:
            del self._turns[lease.instance_id]
        self._tokens.pop(lease.token, None)
        lease.stream.turns.discard(lease.instance_id)
        if requeue or self._has_visible_inbox(lease.instance_id):
            self._ready_instances[lease.instance_id] = None
        self.work.notify_all()

    def _has_visible_inbox(self, instance_id: str) -> bool:
        return bool(self.store.visible_inbox(instance_id, time.time()))

    def _release_activity(self, activity_id: int) -> None:
        lease = self._activities.pop(activity_id, None)
        self._ready_activities.pop(activity_id, None)
        if lease is None:
            return
        for token in lease.tokens:
            self._tokens.pop(token, None)
        if lease.stream is not None:
            lease.stream.activities.discard(activity_id)
        self.work.notify_all()

    # -- applying committed changes ----------------------------------------------------

    def _apply(self, effects: Effects) -> None:
        for instance_id in effects.cancelled_activities:
            for lease in [a for a in self._activities.values() if a.instance_id == instance_id]:
                self._release_activity(lease.activity_id)
        self._ready_instances.update(dict.fromkeys(effects.ready))
        for timer in effects.timers:
            heapq.heappush(self._timers, timer)
            if self._timers[0] is timer:
                self._tick.set()
        self._ready_activities.update(dict.fromkeys(effects.activities))
        if effects.ready or effects.activities:
            self.work.notify_all()
        for instance_id in effects.changed:
            for waiter in self._waiters.get(instance_id, ()):
                waiter.set()

    def write(self) -> "_Write":
        """A transaction plus the lifecycle rules, applying effects on success::

        with dispatcher.write() as life:
            life.create("id", "name", None)
        """
        return _Write(self)

    # -- completions -------------------------------------------------------------------

    def complete_turn(self, response: pb.service.WorkflowResponse) -> str | None:
        """Commit a worker's answer to a turn; stale or unknown answers are dropped.

        An answer with out-of-range fields fails the workflow; the reason is returned.
        """
        with self.work:
            token = response.completionToken
            lease = self._tokens.get(token) if token else self._turns.get(response.instanceId)
            if not isinstance(lease, TurnLease) or lease.instance_id != response.instanceId:
                log.debug("dropping stale workflow response for %s", response.instanceId)
                return None
            if self._turns.get(lease.instance_id) is not lease:
                return None
            lease.stream.expired = 0
            try:
                inst = self.store.get_instance(lease.instance_id)
                if inst is None:
                    return None
                try:
                    with self.write() as life:
                        life.commit_turn(inst, lease.new_events, lease.inbox_ids, response)
                except UnsupportedAction as exc:
                    inst = self.store.get_instance(lease.instance_id)
                    if inst is None:
                        return None
                    failed = pb.service.WorkflowResponse(instanceId=inst.instance_id)
                    failed.actions.add(
                        id=-1,
                        completeWorkflow=pb.actions.CompleteWorkflowAction(
                            workflowStatus=pb.FAILED, failureDetails=failure(type(exc).__name__, str(exc))
                        ),
                    )
                    with self.write() as life:
                        life.commit_turn(inst, lease.new_events, lease.inbox_ids, failed)
                    return str(exc) if isinstance(exc, InvalidAction) else None
            finally:
                self._release_turn(lease, requeue=False)
        return None

    def complete_activity(self, response: pb.service.ActivityResponse) -> None:
        """Record an activity's result (first valid answer wins; others are dropped).

        A result the database refuses is held in memory and stored by the housekeeping
        thread once writes succeed again; the worker is answered OK either way.
        """
        with self.work:
            row = self._activity_row(response)
            if row is None:
                return
            lease = self._activities.get(row.id)
            if lease is not None and lease.stream is not None and lease.tokens[-1:] == [response.completionToken]:
                lease.stream.expired = 0
            try:
                self._record_result(row, response)
            except sqlite3.Error as exc:
                log.warning(
                    "cannot store the result of activity task %s of instance %s (%s); "
                    "holding it and retrying until the database takes writes",
                    row.id,
                    row.instance_id,
                    exc,
                )
                self._hold(row.id, response)

    def _activity_row(self, response: pb.service.ActivityResponse) -> ActivityRow | None:
        """The unresolved task row ``response`` answers, or None for a stale or unknown answer."""
        token = response.completionToken
        if token:
            lease = self._tokens.get(token)
            if isinstance(lease, ActivityLease):
                row = self.store.get_activity(lease.activity_id)
            elif lease is None:
                # A token of an earlier engine process on this database: it names the task
                # row, which exists only while the task is unresolved (row ids are never reused).
                row = self.store.get_activity(_activity_of(token))
            else:
                row = None
        else:
            row = self.store.find_activity(response.instanceId, response.taskId)
        if row is None or row.instance_id != response.instanceId or row.task_id != response.taskId:
            log.debug("dropping activity result for %s#%s", response.instanceId, response.taskId)
            return None
        return row

    def _record_result(self, row: ActivityRow, response: pb.service.ActivityResponse) -> None:
        request = pb.service.ActivityRequest.FromString(row.request)
        if response.HasField("failureDetails"):
            event = new_event(
                taskFailed=pb.events.TaskFailedEvent(
                    taskScheduledId=row.task_id,
                    failureDetails=response.failureDetails,
                    taskExecutionId=request.taskExecutionId,
                )
            )
        else:
            event = new_event(
                taskCompleted=pb.events.TaskCompletedEvent(
                    taskScheduledId=row.task_id,
                    result=response.result if response.HasField("result") else None,
                    taskExecutionId=request.taskExecutionId,
                )
            )
        inst = self.store.get_instance(row.instance_id)
        with self.write() as life:
            self.store.delete_activity(row.id)
            if inst is not None and inst.execution_id == row.execution_id:
                if inst.status not in pb.TERMINAL_STATUSES:
                    life.deliver(row.instance_id, event)
        self._release_activity(row.id)

    def _hold(self, activity_id: int, response: pb.service.ActivityResponse) -> None:
        """Keep a result the database refused; its task is answered, so it leaves its lease."""
        lease = self._activities.get(activity_id)
        if lease is not None:
            if lease.stream is not None:
                lease.stream.activities.discard(activity_id)
                lease.stream = None
            lease.deadline = None
        self._ready_activities.pop(activity_id, None)
        self._unstored.hold(response, time.time())
        self.work.notify_all()

    def _retry_unstored(self, now: float) -> None:
        """Store held results, oldest first; back off at the first that still fails."""
        if not self._unstored.due(now):
            return
        for response in list(self._unstored.results):
            try:
                row = self._activity_row(response)
                if row is not None:
                    self._record_result(row, response)
                    log.info("stored the held result of activity task %s of instance %s", row.id, row.instance_id)
            except sqlite3.Error as exc:
                log.debug("held activity results still cannot be stored: %s", exc)
                self._unstored.failed(now)
                return
            self._unstored.done(response)

    # -- waiting -----------------------------------------------------------------------

    def watch(self, instance_id: str) -> threading.Event:
        """An event set whenever the instance changes; pass it to :meth:`unwatch` when done."""
        waiter = threading.Event()
        with self.lock:
            self._waiters.setdefault(instance_id, set()).add(waiter)
        return waiter

    def unwatch(self, instance_id: str, waiter: threading.Event) -> None:
        with self.lock:
            waiters = self._waiters.get(instance_id)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[instance_id]

    def instance(self, instance_id: str) -> InstanceRow | None:
        with self.lock:
            return self.store.get_instance(instance_id)

    def forget(self, instance_id: str) -> None:
        """Drop in-memory state of a purged instance."""
        self._ready_instances.pop(instance_id, None)
        self._stall_retry.discard(instance_id)
        lease = self._turns.get(instance_id)
        if lease is not None:
            self._release_turn(lease, requeue=False)
            self._ready_instances.pop(instance_id, None)
        for activity in [a for a in self._activities.values() if a.instance_id == instance_id]:
            self._release_activity(activity.activity_id)
        for waiter in self._waiters.get(instance_id, ()):
            waiter.set()


class _Write:
    """Context manager: one transaction with lifecycle rules; effects applied after commit."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.effects = Effects()
        self._tx = dispatcher.store.transaction()

    def __enter__(self) -> Lifecycle:
        self.dispatcher.lock.acquire()
        try:
            self._tx.__enter__()
        except BaseException:
            self.dispatcher.lock.release()
            raise
        return Lifecycle(self.dispatcher.store, self.dispatcher.config, self.effects)

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self._tx.__exit__(exc_type, exc, tb)
            if exc_type is None:
                self.dispatcher._apply(self.effects)
        finally:
            self.dispatcher.lock.release()
