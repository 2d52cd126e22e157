"""The approval event and custom-status formats live in run histories: pin them."""

from __future__ import annotations

import json

import pytest

from dapr_agents_durable.runtime import APPROVAL_EVENT, Decision, PendingApproval
from dapr_agents_durable.runtime.approvals import barrier_event, barrier_seen, decode_status, encode_status


def test_persisted_names_and_formats_are_pinned() -> None:
    assert APPROVAL_EVENT == "dapr_agents_durable.approval"
    assert Decision("c1", approved=False, always=True, message="no").to_json() == {
        "call_id": "c1", "approved": False, "always": True, "message": "no"
    }
    status = encode_status([PendingApproval("c1", "refund", "cashier", '{"amount": 5}')])
    assert json.loads(status) == {
        "pending_approvals": [{"call_id": "c1", "tool": "refund", "agent": "cashier", "arguments": '{"amount": 5}'}]
    }

    assert barrier_event("n1") == {"barrier": "n1"}
    assert json.loads(encode_status([], ["n0", "n1"])) == {"pending_approvals": [], "barriers_seen": ["n0", "n1"]}


def test_a_barrier_counts_as_seen_only_when_the_status_lists_it() -> None:
    waiting = encode_status([PendingApproval("c1", "refund", "cashier", "{}")], ["n1"])
    assert barrier_seen(waiting, "n1") and not barrier_seen(waiting, "n2")
    assert decode_status(waiting) == [PendingApproval("c1", "refund", "cashier", "{}")]
    for foreign in (None, "", "working", '{"barriers_seen": "n1"}'):
        assert not barrier_seen(foreign, "n1")


def test_status_round_trips_and_foreign_statuses_mean_nothing_pending() -> None:
    pending = [PendingApproval("c1", "refund", "cashier", "{}"), PendingApproval("c2", "wire", "cashier", "{}")]
    assert decode_status(encode_status(pending)) == pending
    assert decode_status(encode_status([])) == []
    for foreign in (None, "", "working", '"text"', '{"progress": 3}', "[1, 2]"):
        assert decode_status(foreign) == []


def test_decisions_read_from_events_with_clear_errors() -> None:
    assert Decision.from_json({"call_id": "c1", "approved": True}) == Decision("c1", True)
    with pytest.raises(ValueError, match="non-empty 'call_id'"):
        Decision.from_json({"approved": True})
    with pytest.raises(ValueError, match="'approved': true or false"):
        Decision.from_json({"call_id": "c1", "approved": "yes"})
    with pytest.raises(ValueError, match="'message' must be a string"):
        Decision.from_json({"call_id": "c1", "approved": False, "message": 3})
    with pytest.raises(ValueError, match="non-empty 'call_id'"):
        Decision.from_json(None)


def test_edited_arguments_travel_only_when_set_and_must_be_a_json_object() -> None:
    edited = Decision("c1", approved=True, arguments='{"amount": 3}')
    assert edited.to_json() == {"call_id": "c1", "approved": True, "always": False, "message": None,
                                "arguments": '{"amount": 3}'}
    assert Decision.from_json(edited.to_json()) == edited
    with pytest.raises(ValueError, match="'arguments' must be a JSON object"):
        Decision.from_json({"call_id": "c1", "approved": True, "arguments": "[1]"})
    with pytest.raises(ValueError, match="'arguments' must be a JSON object"):
        Decision.from_json({"call_id": "c1", "approved": True, "arguments": {"amount": 3}})
