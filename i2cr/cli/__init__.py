"""Link mentions in a multimodal context to knowledge-graph entities (I2CR, ACM MM 2025)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from types import ModuleType

from i2cr.cli.parsing import CommandParser
from i2cr.cli.terminal import quiet_third_party_output

SUBCOMMANDS = ("link", "eval", "kg", "dim", "cross", "finetune", "settings")
EPILOG = "`i2cr COMMAND --help` explains a command; `i2cr settings` lists the settings."


def subcommand_modules(argv: Sequence[str]) -> list[ModuleType]:
    """The modules of the subcommand named in `argv`, or of all when none is named.

    Only the chosen one is imported, so `i2cr link` does not pay for importing the evaluation
    and fine-tuning stacks (seconds of start-up).
    """
    chosen = next((arg for arg in argv if not arg.startswith("-")), None)
    names = [chosen] if chosen in SUBCOMMANDS else SUBCOMMANDS
    return [importlib.import_module(f"i2cr.cli.{name}") for name in names]


def installed_version() -> str:
    """The installed package's version ('unknown' when run from a tree that is not installed)."""
    try:
        return version("i2cr")
    except PackageNotFoundError:
        return "unknown"


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The `i2cr` parser, with the subcommand named in `argv` (all when none is)."""
    parser = CommandParser(prog="i2cr", description=__doc__, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"i2cr {installed_version()}")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", title="commands"
    )
    for module in subcommand_modules(argv):
        module.register(commands)
    for command in commands.choices.values():
        command.add_argument(
            "--verbose",
            action="store_true",
            help="show the model libraries' progress bars and load reports",
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the chosen subcommand."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
    if not args.verbose:
        quiet_third_party_output()
    try:
        return int(args.run(args) or 0)
    except (ValueError, OSError) as err:  # bad input, settings or files: one line, no traceback
        print(f"i2cr {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
