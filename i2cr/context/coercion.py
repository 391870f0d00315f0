"""Setting values as their fields' types, whatever their source (environment, CLI, JSON)."""

from __future__ import annotations

import math
from typing import get_args

from i2cr.errors import SettingError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def coerce_setting(name: str, value: object, hint: object) -> object:
    """A setting's value as its field's type: SettingError naming the field otherwise.

    The value may be text (environment, CLI) or typed (Python, JSON).
    """
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise SettingError(f"{name}={value!r} is not a boolean (true or false)")
    if hint is int:
        return _integer(name, value)
    if hint is float:
        return _finite_number(name, value)
    if not isinstance(value, str):
        raise SettingError(f"{name}={value!r} is not text")
    choices = get_args(hint)
    if choices and value not in choices:
        raise SettingError(f"{name}={value!r} must be one of {list(choices)}")
    return value


def _integer(name: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise SettingError(f"{name}={value!r} is not an integer")


def _finite_number(name: str, value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise SettingError(f"{name}={value!r} is not a number") from None
    else:
        raise SettingError(f"{name}={value!r} is not a number")
    if not math.isfinite(number):
        raise SettingError(f"{name}={value!r} must be a finite number")
    return number
