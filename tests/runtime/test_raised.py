"""Exceptions rebuilt from an activity's failure: known types, built-ins, else a CallFailed naming the type."""

from __future__ import annotations

from dapr_agents_durable.runtime.raised import CallFailed, rebuilt


class FrameworkError(Exception):
    pass


class ToolFailed(CallFailed):
    pass


def test_built_ins_and_known_types_come_back_as_themselves() -> None:
    error = rebuilt("ValueError", "bad city")
    assert type(error) is ValueError and str(error) == "bad city"
    error = rebuilt("FrameworkError", "no model", {"FrameworkError": FrameworkError})
    assert type(error) is FrameworkError and str(error) == "no model"


def test_other_types_become_the_fallback_carrying_the_type_name() -> None:
    error = rebuilt("StripeError", "card declined", fallback=ToolFailed)
    assert type(error) is ToolFailed and (error.error_type, str(error)) == ("StripeError", "card declined")
    assert type(rebuilt("FrameworkError", "x")) is CallFailed  # not known here
    # a built-in whose constructor needs more than a message, and names that are no exception type
    assert type(rebuilt("UnicodeDecodeError", "bad byte")) is CallFailed
    for name in ("print", "int", "SystemExit", "KeyboardInterrupt", ""):
        assert type(rebuilt(name, "m")) is CallFailed
