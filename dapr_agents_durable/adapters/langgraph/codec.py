"""Graph values as JSON through LangChain's own serializer (messages keep their types).

Example::

    data = to_data({"messages": [AIMessage("hi")]})
    assert from_data(data)["messages"][0].content == "hi"
"""

from __future__ import annotations

import warnings
from typing import Any

from langchain_core._api import LangChainBetaWarning
from langchain_core.load import dumpd, load


def to_data(value: Any) -> Any:
    """``value`` as LangChain's JSON-ready data (``dumpd``)."""
    return dumpd(value)


def from_data(data: Any) -> Any:
    """The value :func:`to_data` encoded; only LangChain message classes are revived."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LangChainBetaWarning)  # load() is marked beta; the format is stable
        return load(data, allowed_objects="messages")
