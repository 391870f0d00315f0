"""`i2cr settings`: every setting with its type, default, rule, who may set it and meaning."""

from __future__ import annotations

import argparse
import textwrap

from i2cr.errors import SettingError


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `settings` subcommand."""
    parser = commands.add_parser(
        "settings",
        help="list the settings that --set, I2CR_* variables and Python's Context take",
        description="List every setting: its type, default, the rule on its value, who may set "
        "it (run: any run; operator: whoever starts the process; server: a LangGraph server "
        "only) and what it does. Set one with --set FIELD=VALUE, the variable I2CR_FIELD, or "
        "Context(field=...) in Python.",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="only these settings")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the chosen settings (all when none is named)."""
    from i2cr.context.reference import setting_docs

    docs = setting_docs()
    unknown = sorted(set(args.names) - {d.name for d in docs})
    if unknown:
        raise SettingError(f"unknown settings {unknown}: `i2cr settings` lists them all")
    for doc in docs:
        if args.names and doc.name not in args.names:
            continue
        rule = f"; {doc.rule}" if doc.rule else ""
        print(f"{doc.name} ({doc.kind}; default {doc.default}{rule}) [{doc.who}] {doc.variable}")
        print(
            textwrap.fill(
                doc.description, width=96, initial_indent="    ", subsequent_indent="    "
            )
        )
    return 0
