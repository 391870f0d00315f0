"""Command-line options shared by subcommands: context settings."""

from __future__ import annotations

import argparse
from dataclasses import fields
from typing import get_type_hints

from i2cr.context import Context, convert_setting


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
    """A Context from `FIELD=VALUE` strings (environment variables fill the rest)."""
    hints = get_type_hints(Context)
    values = {}
    for setting in settings:
        name, sep, raw = setting.partition("=")
        if not sep or name not in hints:
            raise ValueError(f"--set {setting!r}: expected FIELD=VALUE with a Context field")
        values[name] = convert_setting(name, raw, hints[name])
    return Context(**values)  # type: ignore[arg-type]
