"""JSON-schema helpers for the fake LLM servers: example answers, broken answers, strict checks.

- `schema_example(schema)` builds a value that satisfies a JSON schema (the default answer
  of the fakes): enums pick their first value, numbers their lower bound, strings a short
  text, arrays hold one item (or `minItems`), objects carry every required property.
- `violate_schema(answer, schema)` turns a valid answer into valid JSON that breaks the
  schema (a required property dropped, a wrong type, an extra key), the way a model's
  structured output goes wrong.
- `strict_schema_problems(schema)` lists what OpenAI's strict structured outputs reject
  (objects without `additionalProperties: false`, properties missing from `required`).

Supported keywords: `$ref` (local `#/...` pointers), `$defs`/`definitions`, `anyOf`,
`oneOf`, `allOf`, `const`, `enum`, `type` (string or list), `properties`, `required`,
`additionalProperties`, `minProperties`, `items`, `prefixItems`, `minItems`, `maxItems`,
`uniqueItems`, `minLength`, `maxLength`, `format`, `minimum`, `maximum`,
`exclusiveMinimum`, `exclusiveMaximum`, `multipleOf`. `pattern` is not solved: a schema
whose strings must match a pattern needs a responder written for it.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

# Recursive schemas (a tree of comments) stop expanding at this depth.
MAX_DEPTH = 24

_FORMAT_EXAMPLES: dict[str, str] = {
    "date-time": "2025-01-01T00:00:00Z",
    "date": "2025-01-01",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "hostname": "example.com",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
    "duration": "P1D",
}

Schema = Mapping[str, Any]


class SchemaError(ValueError):
    """The schema cannot be walked (a `$ref` that points nowhere, a non-object schema)."""


def resolve_ref(schema: Schema, root: Schema) -> Schema:
    """Follow `$ref` pointers (only local `#/...` ones) until a schema without `$ref`."""
    seen: set[str] = set()
    while "$ref" in schema:
        ref = schema["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise SchemaError(f"only local $ref pointers are supported, got {ref!r}")
        if ref in seen:
            raise SchemaError(f"$ref cycle without content at {ref!r}")
        seen.add(ref)
        target: Any = root
        for part in [p for p in ref[1:].split("/") if p]:
            key = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or key not in target:
                raise SchemaError(f"$ref {ref!r} points at nothing in the schema")
            target = target[key]
        if not isinstance(target, Mapping):
            raise SchemaError(f"$ref {ref!r} does not point at a schema object")
        # Sibling keywords next to $ref (description, default) are kept, the target wins.
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**rest, **target}
    return schema


def _merge_all_of(schema: Schema, root: Schema) -> Schema:
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    for part in schema["allOf"]:
        part = resolve_ref(part, root)
        if "allOf" in part:
            part = _merge_all_of(part, root)
        for key, value in part.items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required":
                merged["required"] = [*merged.get("required", []), *value]
            else:
                merged.setdefault(key, value)
    return merged


def _normalise(schema: Schema, root: Schema) -> Schema:
    if not isinstance(schema, Mapping):
        raise SchemaError(f"a schema must be a JSON object, got {type(schema).__name__}: {schema!r}")
    schema = resolve_ref(schema, root)
    if "allOf" in schema:
        schema = _merge_all_of(schema, root)
    return schema


def _schema_types(schema: Schema) -> list[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [t for t in declared if isinstance(t, str)]
    if "properties" in schema or "additionalProperties" in schema or "required" in schema:
        return ["object"]
    if "items" in schema or "prefixItems" in schema:
        return ["array"]
    return []


def _number_example(schema: Schema, *, integer: bool) -> int | float:
    step: float = 1 if integer else 0.5
    low: float | None = schema.get("minimum")
    if "exclusiveMinimum" in schema and isinstance(schema["exclusiveMinimum"], int | float):
        bound = float(schema["exclusiveMinimum"])
        upper = schema.get("maximum", schema.get("exclusiveMaximum"))
        if not integer and isinstance(upper, int | float) and upper - bound < 1:
            step = (upper - bound) / 2
        low = bound + step if low is None else max(low, bound + step)
    if low is None:
        high = schema.get("maximum")
        if "exclusiveMaximum" in schema and isinstance(schema["exclusiveMaximum"], int | float):
            high = schema["exclusiveMaximum"] - step
        low = high if isinstance(high, int | float) and high < 0 else 0
    multiple = schema.get("multipleOf")
    if isinstance(multiple, int | float) and multiple > 0:
        low = math.ceil(low / multiple) * multiple
    if integer:
        return math.ceil(low)
    return float(low)


def _string_example(schema: Schema) -> str:
    text = _FORMAT_EXAMPLES.get(str(schema.get("format", "")), "example")
    min_length = int(schema.get("minLength", 0))
    if len(text) < min_length:
        text = text + "x" * (min_length - len(text))
    max_length = schema.get("maxLength")
    if isinstance(max_length, int):
        text = text[:max_length]
    return text


def _vary(value: Any, index: int) -> Any:
    """A different value of the same shape, for the n-th item of a `uniqueItems` array."""
    if index == 0:
        return value
    if isinstance(value, bool):
        return not value if index == 1 else value
    if isinstance(value, int | float):
        return value + index
    if isinstance(value, str):
        return f"{value} {index + 1}"
    return value


def schema_example(schema: Schema, *, root: Schema | None = None, _depth: int = 0) -> Any:
    """A value that satisfies `schema` (see the module docstring for the rules)."""
    root = schema if root is None else root
    if _depth > MAX_DEPTH:
        return None
    schema = _normalise(schema, root)
    if "const" in schema:
        return copy.deepcopy(schema["const"])
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return copy.deepcopy(enum[0])
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            non_null = [o for o in options if _normalise(o, root).get("type") != "null"]
            if not non_null:
                return None
            return schema_example(non_null[0], root=root, _depth=_depth + 1)
    types = _schema_types(schema)
    concrete = [t for t in types if t != "null"]
    if types and not concrete:
        return None
    kind = concrete[0] if concrete else None
    if kind == "object":
        return _object_example(schema, root, _depth)
    if kind == "array":
        return _array_example(schema, root, _depth)
    if kind == "integer":
        return _number_example(schema, integer=True)
    if kind == "number":
        return _number_example(schema, integer=False)
    if kind == "boolean":
        return True
    return _string_example(schema)


def _object_example(schema: Schema, root: Schema, depth: int) -> dict[str, Any]:
    properties: Mapping[str, Any] = schema.get("properties") or {}
    required: list[str] = list(schema.get("required") or [])
    extra = schema.get("additionalProperties")
    fallback: Schema = extra if isinstance(extra, Mapping) else {}
    out: dict[str, Any] = {}
    for name in required:
        out[name] = schema_example(properties.get(name, fallback), root=root, _depth=depth + 1)
    min_props = int(schema.get("minProperties", 0))
    for name, prop in properties.items():
        if len(out) >= min_props:
            break
        out.setdefault(name, schema_example(prop, root=root, _depth=depth + 1))
    return out


def _array_example(schema: Schema, root: Schema, depth: int) -> list[Any]:
    prefix = schema.get("prefixItems")
    if isinstance(prefix, list) and prefix:
        return [schema_example(p, root=root, _depth=depth + 1) for p in prefix]
    count = max(1, int(schema.get("minItems", 0)))
    max_items = schema.get("maxItems")
    if isinstance(max_items, int):
        count = min(count, max_items)
    items = schema.get("items")
    if not isinstance(items, Mapping):
        return ["example"] * count if count else []
    item_schema = _normalise(items, root)
    enum = item_schema.get("enum")
    if schema.get("uniqueItems") and isinstance(enum, list) and len(enum) >= count:
        return [copy.deepcopy(v) for v in enum[:count]]
    first = schema_example(items, root=root, _depth=depth + 1)
    if schema.get("uniqueItems"):
        return [_vary(copy.deepcopy(first), i) for i in range(count)]
    return [copy.deepcopy(first) for _ in range(count)]


# -- broken answers -------------------------------------------------------------------------

_WRONG_TYPE_CANDIDATES: tuple[tuple[str, Any], ...] = (
    ("string", "not-the-right-type"),
    ("integer", 123456789),
    ("boolean", True),
    ("array", ["unexpected"]),
    ("object", {"unexpected": True}),
)


def _wrong_value(schema: Schema, root: Schema) -> tuple[bool, Any]:
    """A value `schema` rejects, when one can be found by type alone."""
    schema = _normalise(schema, root)
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        value = "not-an-allowed-value"
        while value in enum:
            value += "!"
        return True, value
    if "const" in schema:
        return True, {"not": schema["const"]}
    options = schema.get("anyOf") or schema.get("oneOf")
    allowed: set[str] = set()
    if isinstance(options, list):
        for option in options:
            option = _normalise(option, root)
            if "enum" in option or "const" in option:
                allowed.add("string")
            allowed.update(_schema_types(option) or ["string", "integer", "boolean", "array", "object"])
    else:
        allowed.update(_schema_types(schema))
    if not allowed:
        return False, None
    if "number" in allowed:
        allowed.add("integer")
    for type_name, value in _WRONG_TYPE_CANDIDATES:
        if type_name not in allowed:
            return True, copy.deepcopy(value)
    return False, None


def violate_schema(answer: Any, schema: Schema) -> Any:
    """Valid JSON that `schema` rejects, derived from a valid `answer`.

    In order of preference: drop a required property that the answer has; give the first
    property a value of the wrong type (or outside its enum); add a property the schema
    forbids; for a non-object schema, a value of the wrong type. Raises `SchemaError` when
    the schema accepts anything (there is nothing to violate).
    """
    root = schema
    schema = _normalise(schema, root)
    if isinstance(answer, dict) and "object" in (_schema_types(schema) or ["object"]):
        for name in schema.get("required") or []:
            if name in answer:
                return {k: v for k, v in answer.items() if k != name}
        for name, prop in (schema.get("properties") or {}).items():
            found, value = _wrong_value(prop, root)
            if found:
                return {**answer, name: value}
        if schema.get("additionalProperties") is False:
            return {**answer, "unexpected_property": "not allowed by the schema"}
    found, value = _wrong_value(schema, root)
    if found:
        return value
    raise SchemaError("the schema accepts any JSON value, so no answer can violate it")


# -- OpenAI strict mode ----------------------------------------------------------------------


def strict_schema_problems(schema: Schema) -> list[str]:
    """What OpenAI's strict structured outputs would reject in `schema` (empty when fine).

    Strict mode needs every object to set `additionalProperties: false` and to list every
    property in `required`, and the root to be an object.
    """
    problems: list[str] = []
    root = schema
    if not isinstance(schema, Mapping):
        return [f"the schema must be a JSON object, got {type(schema).__name__}"]
    if "object" not in _schema_types(schema) and "$ref" not in schema:
        problems.append("In context=(), the root schema must be of type 'object' (not anyOf or a scalar).")
    visited: set[int] = set()

    def walk(node: Any, context: tuple[str, ...]) -> None:
        if not isinstance(node, Mapping) or id(node) in visited:
            return
        visited.add(id(node))
        where = f"In context={context!r}"
        if "object" in _schema_types(node) and "$ref" not in node:
            if node.get("additionalProperties") is not False:
                problems.append(f"{where}, 'additionalProperties' is required to be supplied and to be false.")
            properties = node.get("properties") or {}
            required = set(node.get("required") or [])
            missing = [name for name in properties if name not in required]
            if missing:
                problems.append(
                    f"{where}, 'required' is required to be supplied and to be an array including every "
                    f"key in properties. Missing {missing[0]!r}."
                )
        for name, prop in (node.get("properties") or {}).items():
            walk(prop, (*context, "properties", name))
        if isinstance(node.get("items"), Mapping):
            walk(node["items"], (*context, "items"))
        for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            for index, option in enumerate(node.get(key) or []):
                walk(option, (*context, key, str(index)))
        for key in ("$defs", "definitions"):
            for name, sub in (node.get(key) or {}).items():
                walk(sub, (*context, key, name))

    walk(root, ())
    return problems
