"""What crosses the activity boundary, through PydanticAI's own type adapters.

Messages, responses, settings and request parameters use PydanticAI's pydantic schemas
(``ModelMessagesTypeAdapter``, ``TypeAdapter(ModelResponse)``); tool arguments and results
are JSON (a pydantic model returned by a tool arrives as its JSON form, as the model sees it).
Every payload is checked by :mod:`dapr_agents_durable.runtime.codec` (plain JSON, size, no secrets).
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, TypeAdapter
from pydantic_ai import DeferredToolResults
from pydantic_ai.messages import ModelMessagesTypeAdapter, ModelResponse
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.settings import ModelSettings
from pydantic_ai.usage import RunUsage, UsageLimits

from dapr_agents_durable.runtime.codec import Codec

MESSAGES = Codec(ModelMessagesTypeAdapter, what="PydanticAI messages")
RESPONSE = Codec(TypeAdapter(ModelResponse), what="PydanticAI model response")
# With the legacy httpx installed, ModelSettings' timeout admits an httpx.Timeout, which has no schema:
# allowed here so the codec builds; a Timeout object itself is refused when encoded (seconds are stored).
SETTINGS = Codec(TypeAdapter(ModelSettings | None, config=ConfigDict(arbitrary_types_allowed=True)),
                 what="PydanticAI model settings")
PARAMETERS = Codec(TypeAdapter(ModelRequestParameters), what="PydanticAI model request parameters")
JSON_OBJECT = Codec(TypeAdapter(dict[str, Any]), what="PydanticAI tool call")
JSON_VALUE = Codec(TypeAdapter(Any), what="PydanticAI value")
USAGE = Codec(TypeAdapter(RunUsage), what="PydanticAI usage")
USAGE_LIMITS = Codec(TypeAdapter(UsageLimits | None), what="PydanticAI usage limits")
DEFERRED_RESULTS = Codec(TypeAdapter(DeferredToolResults | None), what="PydanticAI deferred tool results")
