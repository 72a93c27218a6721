"""JSON schemas for structured outputs, in the strict dialect both vendors accept."""

from __future__ import annotations

import copy
import functools
from typing import Any

from pydantic import BaseModel

# Keywords the strict structured-output dialects reject or ignore. Our own pydantic
# validation of every answer enforces them instead.
_DROPPED_KEYWORDS = frozenset(
    {"title", "default", "minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems", "examples"}
)


def _strictify(node: Any) -> Any:
    if isinstance(node, list):
        return [_strictify(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: _strictify(value) for key, value in node.items() if key not in _DROPPED_KEYWORDS}
    if result.get("type") == "object" and "properties" in result:
        # Strict mode: every property listed as required (optional ones are nullable
        # unions already) and nothing else allowed.
        result["required"] = list(result["properties"])
        result["additionalProperties"] = False
    return result


def strict_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """`model`'s JSON schema with every object closed and every property required (a copy the
    caller may change)."""
    return copy.deepcopy(_strict_schema(model))


@functools.cache
def _strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    # Built once per model: pydantic's schema generation costs milliseconds, on every call otherwise.
    strict: dict[str, Any] = _strictify(model.model_json_schema())
    return strict
