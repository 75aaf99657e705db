"""Check parsed TOML against dataclass models: strict types, unknown keys are errors.

Stdlib only, because config.toml is loaded before the first frame and pydantic cost ~100 ms
to import and build. The types understood are the few config models use: `str`, `int`,
`float` (accepts an int), `bool` (never an int), `Literal[...]`, `X | None`, `list[X]`,
`dict[K, V]`, nested dataclasses, and `Annotated[X, Rule(...)]` for constraints.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, Literal, TypeVar, Union

T = TypeVar("T")
Loc = tuple[str, ...]
Validator = Callable[[Any, Loc], Any]

UNKNOWN_KEY = "unknown key (check the spelling; see docs/configuration.md)"
MISSING_KEY = "required key is missing"


class Rule:
    """Constraints on a field: `Annotated[int, Rule(gt=0)]`. Not a dataclass: defining one
    costs ~0.5 ms at import, and this module is imported before the first frame."""

    __slots__ = ("ge", "gt", "hint", "le", "parse", "pattern")

    def __init__(
        self,
        *,
        gt: float | None = None,
        ge: float | None = None,
        le: float | None = None,
        pattern: str | None = None,
        hint: str | None = None,
        parse: Callable[[Any], Any] | None = None,
    ) -> None:
        self.gt, self.ge, self.le = gt, ge, le
        self.pattern = pattern  # the whole string must match
        self.hint = hint  # what `pattern` means, for the error: "a size like '2g'"
        self.parse = parse  # converts the raw value first; ValueError means it is bad


class Invalid(ValueError):
    """The first problem found, at `loc` (the keys leading to it)."""

    def __init__(self, loc: Loc, message: str) -> None:
        super().__init__(message)
        self.loc, self.message = loc, message


class Table:
    """Base of the config models, for writing one back to config.toml."""

    def non_defaults(self) -> dict[str, Any]:
        """The fields that are neither None nor their default (what the user chose)."""
        out = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is None:
                continue
            if f.default is not dataclasses.MISSING and value == f.default:
                continue
            if f.default_factory is not dataclasses.MISSING and value == f.default_factory():
                continue
            out[f.name] = value
        return out


def build(cls: type[T], data: Any) -> T:
    """`data` (from tomllib) as a `cls`; raises Invalid for the first bad key, in field order."""
    return _model(cls)(data, ())


def _got(message: str, value: Any) -> str:
    return message if "got" in message else f"{message}, got {value!r}"


@cache
def _model(cls: type) -> Validator:
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = [
        (
            f.name,
            _compile(hints[f.name]),
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
        )
        for f in dataclasses.fields(cls)
        if f.init
    ]
    known = {name for name, _, _ in fields}

    def check(value: Any, loc: Loc) -> Any:
        if not isinstance(value, dict):
            raise Invalid(loc, f"expected a table, got {value!r}")
        kwargs = {}
        for name, validate, required in fields:
            if name in value:
                kwargs[name] = validate(value[name], (*loc, name))
            elif required:
                raise Invalid((*loc, name), MISSING_KEY)
        for key in value:
            if key not in known:
                raise Invalid((*loc, key), UNKNOWN_KEY)
        return cls(**kwargs)

    return check


def _compile(tp: Any) -> Validator:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Annotated:
        validate = _compile(args[0])
        for rule in args[1:]:
            if isinstance(rule, Rule):
                validate = _ruled(validate, rule)
        return validate
    if origin is Union or origin is types.UnionType:
        (inner,) = (a for a in args if a is not type(None))  # only `X | None`
        validate = _compile(inner)
        return lambda value, loc: None if value is None else validate(value, loc)
    if origin is Literal:
        return _literal(args)
    if origin is list:
        return _list(_compile(args[0]))
    if origin is dict:
        return _dict(_compile(args[0]), _compile(args[1]))
    if dataclasses.is_dataclass(tp):
        return lambda value, loc: _model(tp)(value, loc)  # late: models may nest in any order
    if tp in _SCALARS:
        return _SCALARS[tp]
    raise TypeError(f"config models cannot use {tp!r}")


def _scalar(accepts: Callable[[Any], bool], what: str, convert: Callable[[Any], Any]) -> Validator:
    def check(value: Any, loc: Loc) -> Any:
        if accepts(value):
            return convert(value)
        raise Invalid(loc, f"expected {what}, got {value!r}")

    return check


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_SCALARS: dict[Any, Validator] = {
    str: _scalar(lambda v: isinstance(v, str), "a string", str),
    bool: _scalar(lambda v: isinstance(v, bool), "a boolean (true or false)", bool),
    int: _scalar(_is_int, "an integer", int),
    float: _scalar(lambda v: _is_int(v) or isinstance(v, float), "a number", float),
}


def _literal(choices: tuple[Any, ...]) -> Validator:
    quoted = [repr(c) for c in choices]
    expected = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"

    def check(value: Any, loc: Loc) -> Any:
        if any(type(value) is type(c) and value == c for c in choices):
            return value
        raise Invalid(loc, f"expected one of {expected}, got {value!r}")

    return check


def _list(item: Validator) -> Validator:
    def check(value: Any, loc: Loc) -> list[Any]:
        if not isinstance(value, list):
            raise Invalid(loc, f"expected a list, got {value!r}")
        return [item(v, (*loc, str(i))) for i, v in enumerate(value)]

    return check


def _dict(key: Validator, item: Validator) -> Validator:
    def check(value: Any, loc: Loc) -> dict[Any, Any]:
        if not isinstance(value, dict):
            raise Invalid(loc, f"expected a table, got {value!r}")
        out = {}
        for k, v in value.items():
            at = (*loc, str(k))
            out[key(k, at)] = item(v, at)
        return out

    return check


def _ruled(validate: Validator, rule: Rule) -> Validator:
    def check(raw: Any, loc: Loc) -> Any:
        value = raw
        if rule.parse is not None:
            try:
                value = rule.parse(value)
            except ValueError as exc:
                raise Invalid(loc, _got(str(exc), raw)) from None
        value = validate(value, loc)
        if value is None:
            return None
        if rule.gt is not None and not value > rule.gt:
            raise Invalid(loc, f"must be greater than {rule.gt}, got {raw!r}")
        if rule.ge is not None and not value >= rule.ge:
            raise Invalid(loc, f"must be at least {rule.ge}, got {raw!r}")
        if rule.le is not None and not value <= rule.le:
            raise Invalid(loc, f"must be at most {rule.le}, got {raw!r}")
        if rule.pattern is not None and not re.fullmatch(rule.pattern, value):
            what = rule.hint or f"a string matching {rule.pattern!r}"
            raise Invalid(loc, f"{raw!r} is not {what}")
        return value

    return check
