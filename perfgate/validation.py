"""pydantic's validation errors as one line in our words, naming the file and the field:
`contracts/api.yaml: threshold.pct_min: must be >= 0, got -5`."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError


def one_line(exc: ValidationError, source: str) -> str:
    """The first error of `exc`, as `source: field.path: problem`. A model's own cross-field
    check names its field in its message: "@field.path: problem"."""
    err = exc.errors()[0]
    loc, text = list(err["loc"]), _describe(err)
    if text.startswith("@"):
        field, _, text = text[1:].partition(": ")
        loc += field.split(".")
    where = _path(tuple(loc))
    return f"{source}: {where}: {text}" if where else f"{source}: {text}"


def _describe(err: dict[str, Any]) -> str:
    """One pydantic error as a plain sentence in our own words."""
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see `perfgate schema`)"
    if kind == "missing":
        return "required"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">",
              "less_than_equal": "<=", "less_than": "<"}[kind]
        bound = next(iter(ctx.values()))
        return f"must be {op} {bound:g}, got {value!r}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '')}, got {value!r}"
    if kind in ("string_too_short",):
        return "must not be empty"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be an integer, got {value!r}"
    if kind in ("float_type", "float_parsing"):
        return f"must be a number, got {value!r}"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false, got {value!r}"
    if kind in ("string_type",):
        return f"must be a string, got {value!r}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be a mapping, got {type(value).__name__}"
    if kind == "list_type":
        return f"must be a list, got {type(value).__name__}"
    if kind == "string_pattern_mismatch":
        return f"must be a name made of letters, digits, _ and ., got {value!r}"
    if kind == "string_too_long":
        return f"is too long ({len(str(value))} characters)"
    msg = err["msg"]
    return msg.removeprefix("Value error, ")


def _path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        else:
            parts.append(("." if parts else "") + str(p))
    return "".join(parts)
