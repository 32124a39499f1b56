"""Input validation errors in plain words.

pydantic's messages (``String should match pattern '^[A-Za-z0-9_-]+$'``, ``Input should be
greater than 0``) are written for programmers. :func:`plain_problem` says the same in words
a nurse or an integrator reads at a glance; :func:`validate` validates a body and raises
:class:`~msinfuse.errors.InvalidInput` naming the field (never the value).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from msinfuse.errors import InvalidInput

#: Regular expressions of the models, in words.
PATTERNS: dict[str, str] = {
    r"^[A-Za-z0-9_-]+$": "use only letters, digits, hyphens (-) and underscores (_)",
    r"^[A-Za-z0-9._-]+$": "use only letters, digits, dots, hyphens (-) and underscores (_)",
    r"^-?[a-z][a-z0-9_]*$": "name a field (lower-case letters, digits and _), with - to reverse",
    "^(json|csv)$": "choose json or csv",
}


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def plain_problem(error: Mapping[str, Any]) -> str:
    """What is wrong with one field, in plain words (``error`` is a pydantic error dict)."""
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    simple = {
        "missing": "is required",
        "extra_forbidden": "is not a field of this form",
        "float_parsing": "must be a number",
        "float_type": "must be a number",
        "finite_number": "must be a number",
        "int_parsing": "must be a whole number",
        "int_type": "must be a whole number",
        "int_from_float": "must be a whole number",
        "bool_parsing": "must be yes or no (true or false)",
        "bool_type": "must be yes or no (true or false)",
        "datetime_parsing": "must be a date and time (YYYY-MM-DDTHH:MM)",
        "datetime_from_date_parsing": "must be a date and time (YYYY-MM-DDTHH:MM)",
        "datetime_type": "must be a date and time (YYYY-MM-DDTHH:MM)",
        "date_parsing": "must be a date (YYYY-MM-DD)",
        "date_from_datetime_parsing": "must be a date (YYYY-MM-DD)",
        "date_from_datetime_inexact": "must be a date without a time (YYYY-MM-DD)",
        "date_type": "must be a date (YYYY-MM-DD)",
        "time_parsing": "must be a clock time (HH:MM)",
        "time_type": "must be a clock time (HH:MM)",
        "string_type": "must be text",
        "list_type": "must be a list",
        "dict_type": "must be an object",
        "model_type": "must be an object",
        "json_invalid": "is not valid JSON",
    }
    if kind in simple:
        return simple[kind]
    if kind == "greater_than":
        return f"must be more than {_number(ctx.get('gt'))}"
    if kind == "greater_than_equal":
        return f"must be {_number(ctx.get('ge'))} or more"
    if kind == "less_than":
        return f"must be less than {_number(ctx.get('lt'))}"
    if kind == "less_than_equal":
        return f"must be {_number(ctx.get('le'))} or less"
    if kind == "string_too_short":
        least = ctx.get("min_length", 1)
        return "cannot be empty" if least == 1 else f"needs at least {least} characters"
    if kind == "string_too_long":
        return f"can have at most {ctx.get('max_length')} characters"
    if kind in ("too_short", "too_long"):
        return f"needs {ctx.get('min_length', 0)} to {ctx.get('max_length', 'any number of')} items"
    if kind == "string_pattern_mismatch":
        return PATTERNS.get(str(ctx.get("pattern", "")), "is not written in the expected form")
    if kind in ("literal_error", "enum"):
        return f"must be one of {ctx.get('expected', 'the listed choices')}"
    if kind == "value_error":
        message = str(error.get("msg", ""))
        return message.removeprefix("Value error, ")
    if kind == "assertion_error":
        return str(error.get("msg", "")).removeprefix("Assertion failed, ")
    return "is not valid"


def field_name(error: Mapping[str, Any]) -> str:
    """The field an error is about, as a dotted path (``(body)`` for the whole input)."""
    loc = [str(p) for p in error.get("loc", ()) if p not in ("body",)]
    return ".".join(loc) or "(body)"


def validate(model: type[BaseModel], data: Any, context: dict[str, Any] | None = None) -> Any:
    """Validate ``data`` against ``model``; errors name the field in plain words, never the
    value (:class:`InvalidInput` carries the first field at fault)."""
    if isinstance(data, model):
        if context is None:
            return data
        data = data.model_dump()  # re-check what needs the context (known agents...)
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        errors = exc.errors()
        problems = "; ".join(f"{field_name(e)}: {plain_problem(e)}" for e in errors[:5])
        first = field_name(errors[0]).split(".")[-1] if errors else None
        raise InvalidInput(problems, field=first) from None
