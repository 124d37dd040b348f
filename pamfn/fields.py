"""Values checked against a dataclass field's annotated kind, so that a config read from
JSON or typed on the command line names the field whose value is of the wrong kind."""

from __future__ import annotations

import functools
import math
import numbers
import types
import typing
from collections.abc import Callable
from typing import Any


def _number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


_SIMPLE: dict[Any, tuple[str, str, Callable[[Any], bool]]] = {
    bool: ("true or false", "booleans", lambda v: isinstance(v, bool)),
    int: ("a whole number", "whole numbers", lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool)),
    float: ("a number", "numbers", _number),
    str: ("a word", "words", lambda v: isinstance(v, str)),
}


def _fits(hint: Any, value: Any) -> bool:
    if hint in _SIMPLE:
        return _SIMPLE[hint][2](value)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(value is None if a is type(None) else _fits(a, value) for a in args)
    if origin is dict:
        return isinstance(value, dict) and all(_fits(args[0], k) and _fits(args[1], v) for k, v in value.items())
    if origin is tuple:  # tuple[str, ...]; a string is a sequence of one-letter names too
        return isinstance(value, (str, list, tuple)) and all(_fits(args[0], v) for v in value)
    return True


def _describe(hint: Any, plural: bool = False) -> str:
    if hint in _SIMPLE:
        return _SIMPLE[hint][1 if plural else 0]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join("null" if a is type(None) else _describe(a, plural) for a in args)
    if origin is dict:
        return f"a mapping of {_describe(args[0], True)} to {_describe(args[1], True)}"
    if origin is tuple:
        return f"a list of {_describe(args[0], True)}"
    return str(hint)


def kind_problem(cls: type, name: str, value: Any) -> str | None:
    """``"needs a whole number"`` (or the like) when ``value`` is not of the kind field
    ``name`` of the dataclass ``cls`` is annotated with, else None."""
    hint = hints(cls)[name]
    return None if _fits(hint, value) else f"needs {_describe(hint)}"


@functools.cache
def hints(cls: type) -> dict[str, Any]:
    """The annotated kind of each field of the dataclass ``cls`` (resolved once)."""
    return typing.get_type_hints(cls)
