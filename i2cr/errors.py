"""Errors the linker raises for input it cannot work with."""


class InputError(ValueError):
    """The mention's input is unusable (empty mention, no candidates and no KG, bad rows)."""


class SettingError(ValueError):
    """A setting is unknown, of the wrong type or out of range, or not the caller's to set."""


class TimeBudgetError(RuntimeError):
    """A mention's run spent its time budget (`max_seconds_per_mention`) and was stopped."""
