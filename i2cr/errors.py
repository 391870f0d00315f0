"""Errors the linker raises for input it cannot work with."""


class InputError(ValueError):
    """The mention's input is unusable (empty mention, no candidates and no KG, bad rows)."""
