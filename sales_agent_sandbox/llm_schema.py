"""JSON schemas on the model paths: the checks the vendors make on a requested schema, and
an answer shaped to it (exactly the schema's properties, each of the right type)."""

from __future__ import annotations

import json
from typing import Any

_TYPES = {"object", "array", "string", "number", "integer", "boolean", "null"}


class SchemaError(ValueError):
    """A schema the vendor would refuse; the text says where."""


def _types(node: dict[str, Any]) -> list[str]:
    kind = node.get("type")
    if isinstance(kind, list):
        return [str(k) for k in kind]
    return [str(kind)] if kind is not None else []


def check_schema(schema: Any, *, strict: bool, path: str = "()") -> None:
    """Refuse what the vendor refuses; `strict` adds OpenAI's structured-output rules (every
    object closed with additionalProperties false, every property required)."""
    if not isinstance(schema, dict):
        raise SchemaError(f"In context={path}, schema must be a JSON object.")
    kinds = _types(schema)
    unknown = [k for k in kinds if k not in _TYPES]
    if unknown:
        raise SchemaError(f"In context={path}, type {unknown[0]!r} is not a valid JSON type.")
    if "object" in kinds:
        properties = schema.get("properties", {})
        if not isinstance(properties, dict):
            raise SchemaError(f"In context={path}, 'properties' must be an object.")
        if strict:
            if schema.get("additionalProperties") is not False:
                raise SchemaError(
                    f"In context={path}, 'additionalProperties' is required to be supplied "
                    "and to be false."
                )
            missing = sorted(set(properties) - set(schema.get("required") or []))
            if missing:
                raise SchemaError(
                    f"In context={path}, 'required' is required to be supplied and to be an "
                    f"array including every key in properties. Missing '{missing[0]}'."
                )
        for name, node in properties.items():
            check_schema(node, strict=strict, path=f"{path[:-1]}'properties', '{name}')")
    if "array" in kinds and "items" in schema:
        check_schema(schema["items"], strict=strict, path=f"{path[:-1]}'items')")
    for key in ("anyOf", "oneOf", "allOf"):
        for index, node in enumerate(schema.get(key) or []):
            check_schema(node, strict=strict, path=f"{path[:-1]}'{key}', {index})")


def fit(value: Any, schema: dict[str, Any]) -> Any:
    """`value` shaped to `schema`: an object gets exactly the schema's properties (from
    `value` when they fit, else a default of the right type), arrays and scalars their type."""
    kinds = _types(schema)
    if not kinds and "anyOf" in schema:
        return fit(value, schema["anyOf"][0])
    if schema.get("enum"):
        return value if value in schema["enum"] else schema["enum"][0]
    if "object" in kinds or "properties" in schema:
        source = value if isinstance(value, dict) else {}
        return {
            name: fit(source.get(name), node if isinstance(node, dict) else {})
            for name, node in (schema.get("properties") or {}).items()
        }
    if "array" in kinds:
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        values = value if isinstance(value, list) else []
        return [fit(item, items or {}) for item in values]
    if "string" in kinds:
        if isinstance(value, str):
            return value
        return " ".join(value) if isinstance(value, list) else ("" if value is None else str(value))
    if "integer" in kinds:
        return value if isinstance(value, int) and not isinstance(value, bool) else 0
    if "number" in kinds:
        return value if isinstance(value, int | float) and not isinstance(value, bool) else 0
    if "boolean" in kinds:
        return bool(value) if isinstance(value, bool) else False
    if "null" in kinds:
        return None
    return value


def dumps(value: Any) -> str:
    """JSON as a model writes it: compact, non-ASCII kept."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def cut_json(value: Any) -> str:
    """JSON cut off part-way: what a model stopped mid-answer returns (never valid JSON)."""
    text = dumps(value)
    return text[: max(1, len(text) * 3 // 5)].rstrip("}]")


def broken_input(value: Any) -> dict[str, Any]:
    """A tool input that parses but breaks its schema: the first property only, as a number
    where text was asked, and every other required property missing."""
    if isinstance(value, dict) and value:
        first = next(iter(value))
        return {first: 42}
    return {"unexpected": 42}


def partial_object(value: Any, budget_chars: int) -> dict[str, Any]:
    """The properties that fit in `budget_chars` of output, in order: a tool input cut by
    max_tokens."""
    if not isinstance(value, dict):
        return {}
    kept: dict[str, Any] = {}
    for name, item in value.items():
        if len(dumps({**kept, name: item})) > budget_chars:
            break
        kept[name] = item
    return kept
