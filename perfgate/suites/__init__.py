"""Benchmark suites: perfgate's own list, or an existing harness read through an adapter.

One adapter module per format; each has `parse(text) -> Results` and raises ParseError naming
the field of the results file that is wrong. Nothing here spawns a process (runner.py does,
through the harness) or imports anything heavy: the contract imports spec.py at start-up.
"""
from __future__ import annotations

import importlib
import math
from typing import Any

# benchmark -> metric -> the invocation's own data points (one or more)
Results = dict[str, dict[str, list[float]]]

ADAPTERS = {"pytest-benchmark": "pytest_benchmark", "asv": "asv", "hyperfine": "hyperfine",
            "google-benchmark": "google_benchmark", "go-test": "go_test", "mitata": "mitata"}


class ParseError(ValueError):
    """A results file that does not say what its format promises: `where` is the field."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}" if where else problem)
        self.where, self.problem = where, problem


def parse(fmt: str, text: str) -> Results:
    """The per-benchmark data points of one harness invocation's results."""
    module = importlib.import_module(f"perfgate.suites.{ADAPTERS[fmt]}")
    results = module.parse(text)
    if not results:
        raise ParseError("", "no benchmark results in the file")
    return results


def load_json(text: str) -> Any:
    import json

    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        line = getattr(exc, "lineno", None)
        raise ParseError("", "not valid JSON" + (f" (line {line})" if line else "")) from None


def field(obj: Any, key: str | int, where: str, kind: type | tuple[type, ...] = object) -> Any:
    """obj[key], checked: a missing key or a wrong type is a ParseError naming the path."""
    path = f"{where}[{key}]" if isinstance(key, int) else (f"{where}.{key}" if where else key)
    try:
        value = obj[key]
    except (KeyError, IndexError, TypeError):
        raise ParseError(path, "missing") from None
    if kind is not object and not isinstance(value, kind):
        raise ParseError(path, f"must be {_kind(kind)}, got {type(value).__name__}")
    return value


def number(value: Any, where: str) -> float:
    """A finite number (bools are not numbers, as in JSON)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParseError(where, f"must be a number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v):
        raise ParseError(where, f"must be a finite number, got {value!r}")
    return v


def numbers(values: Any, where: str) -> list[float]:
    """A list of finite numbers, checked in bulk (a harness may report thousands per
    benchmark); the first bad one is a ParseError naming its index."""
    if not isinstance(values, list):
        raise ParseError(where, f"must be a list, got {type(values).__name__}")
    if set(map(type, values)) <= {int, float}:
        out = list(map(float, values))
        if all(map(math.isfinite, out)):
            return out
    return [number(v, f"{where}[{i}]") for i, v in enumerate(values)]


def add(results: Results, name: str, metric: str, values: list[float], where: str) -> None:
    if not values:
        raise ParseError(where, "no data points")
    if name in results and metric in results[name]:
        raise ParseError(where, f"benchmark {name!r} appears twice")
    results.setdefault(name, {})[metric] = values


def _kind(kind: type | tuple[type, ...]) -> str:
    names = {dict: "an object", list: "a list", str: "a string", int: "an integer",
             float: "a number"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)
