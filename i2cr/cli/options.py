"""Command-line options shared by subcommands: context settings."""

from __future__ import annotations

import argparse
from dataclasses import fields

from i2cr.context import Context
from i2cr.errors import SettingError


def add_context_options(parser: argparse.ArgumentParser) -> None:
    """`--set FIELD=VALUE` (repeatable) for any Context field."""
    names = ", ".join(f.name for f in fields(Context))
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help=f"override a context setting (repeatable); fields: {names}",
    )


def context_from(settings: list[str]) -> Context:
    """A Context from `FIELD=VALUE` strings (environment variables fill the rest).

    The Context converts and checks each value, as it does for every other source.
    """
    values = {}
    for setting in settings:
        name, sep, raw = setting.partition("=")
        if not sep:
            raise SettingError(f"--set {setting!r}: expected FIELD=VALUE")
        values[name.strip()] = raw
    return Context(**values)  # type: ignore[arg-type]
